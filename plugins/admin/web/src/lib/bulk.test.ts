// @vitest-environment node
import { readFileSync } from "node:fs";
import { buildSchema, parse, print, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { PublishProgramDocument, UnpublishEpisodeDocument } from "../gql/graphql";
import { batchDocument, batchOutcomes, batchVariables, summariseBulk } from "./bulk";

const schema = buildSchema(readFileSync(new URL("../../../../../graphql/schema.graphql", import.meta.url), "utf8"));

describe("batch documents", () => {
  it("repeats the root field under aliases with renamed variables", () => {
    const text = print(batchDocument(PublishProgramDocument, 2));
    expect(text).toContain("mutation PublishProgramBatch($id_0: ID!, $at_0: DateTime, $id_1: ID!, $at_1: DateTime)");
    expect(text).toContain("item0: publishProgram(id: $id_0, at: $at_0)");
    expect(text).toContain("item1: publishProgram(id: $id_1, at: $at_1)");
    expect(text).not.toMatch(/\$id\b|\$at\b/);
  });

  it("makes documents the schema accepts", () => {
    for (const document of [batchDocument(PublishProgramDocument, 3), batchDocument(UnpublishEpisodeDocument, 25)]) {
      expect(validate(schema, parse(print(document)))).toEqual([]);
    }
  });

  it("refuses documents with more than one root field", () => {
    expect(() => batchDocument(parse("mutation { a: deleteProgram(id: 1) { __typename } b: deleteProgram(id: 2) { __typename } }"), 2)).toThrow();
  });

  it("numbers the variables per item", () => {
    expect(batchVariables([{ id: "a" }, { id: "b", at: null }])).toEqual({ id_0: "a", id_1: "b", at_1: null });
  });
});

describe("bulk outcomes", () => {
  it("reads each alias's typed result", () => {
    const outcomes = batchOutcomes(["a", "b", "c"], {
      data: {
        item0: { __typename: "Program", id: "a" },
        item1: { __typename: "NotFoundError", message: "program not found" },
        item2: { __typename: "ValidationError", message: "invalid input", fields: [{ path: ["at"], message: "must be later" }] },
      },
    });
    expect(outcomes).toEqual([
      { id: "a", ok: true },
      { id: "b", ok: false, message: "program not found" },
      { id: "c", ok: false, message: "invalid input: at must be later" },
    ]);
  });

  it("uses a GraphQL error on an item's path, and the request's failure for the rest", () => {
    const outcomes = batchOutcomes(["a", "b"], {
      data: { item0: null, item1: null },
      error: { message: "[GraphQL] boom", graphQLErrors: [{ message: "internal error (id 7)", path: ["item1"] }] },
    });
    expect(outcomes).toEqual([
      { id: "a", ok: false, message: "boom" },
      { id: "b", ok: false, message: "internal error (id 7)" },
    ]);
    expect(batchOutcomes(["a"], { data: null, error: { message: "[Network] Failed to fetch", graphQLErrors: [] } })).toEqual([
      { id: "a", ok: false, message: "Failed to fetch" },
    ]);
    expect(batchOutcomes(["a"], { error: { message: "x", graphQLErrors: [{ message: "rate limited" }] } })[0]?.message).toBe("rate limited");
  });

  it("summarises for the notice", () => {
    const titles: Record<string, string> = { a: "Alpha", b: "Beta" };
    const titleOf = (id: string) => titles[id] ?? id;
    expect(summariseBulk([{ id: "a", ok: true }], "Published", ["program", "programs"], titleOf)).toEqual({
      ok: true,
      text: "Published 1 program.",
      failures: [],
    });
    expect(
      summariseBulk([{ id: "a", ok: true }, { id: "b", ok: false, message: "not allowed" }], "Published", ["program", "programs"], titleOf),
    ).toEqual({ ok: false, text: "Published 1 of 2 programs; 1 failed.", failures: ["“Beta”: not allowed"] });
    expect(summariseBulk([{ id: "b", ok: false }], "Unpublished", ["episode", "episodes"], titleOf)).toEqual({
      ok: false,
      text: "Nothing unpublished; 1 episode failed.",
      failures: ["“Beta”: failed"],
    });
  });
});
