import type { IntrospectionQuery } from "graphql";
import { describe, expect, it } from "vitest";
import schema from "../gql/introspection";
import { embeddedKeys, LISTS_CHANGED_BY } from "./cache";

describe("embeddedKeys", () => {
  const keys = embeddedKeys(schema as unknown as IntrospectionQuery);
  it("embeds objects without an id and normalises those with one", () => {
    expect(keys.PageInfo).toBeTypeOf("function");
    expect(keys.ProgramConnection).toBeTypeOf("function");
    expect(keys.PageInfo!({ __typename: "PageInfo" })).toBeNull();
    expect(keys.Program).toBeUndefined();
    expect(keys.Episode).toBeUndefined();
  });
});

describe("LISTS_CHANGED_BY", () => {
  it("names only mutations and root fields the schema has", () => {
    const types = (schema as unknown as IntrospectionQuery).__schema.types;
    const fieldsOf = (name: string) => {
      const type = types.find((t) => t.name === name);
      return new Set(type && "fields" in type ? (type.fields ?? []).map((f) => f.name) : []);
    };
    const mutations = fieldsOf("Mutation");
    const queries = fieldsOf("Query");
    for (const [mutation, lists] of Object.entries(LISTS_CHANGED_BY)) {
      expect(mutations.has(mutation), mutation).toBe(true);
      for (const list of lists) expect(queries.has(list), `${mutation} -> ${list}`).toBe(true);
    }
  });
});
