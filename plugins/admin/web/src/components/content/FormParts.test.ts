import { CombinedError } from "urql";
import { describe, expect, it } from "vitest";
import { mutationProblem } from "./FormParts";

describe("mutationProblem", () => {
  it("reads the answer's one result, whatever its field is called", () => {
    const data = { __typename: "Mutation", deleteProgram: { __typename: "NotFoundError", message: "program not found" } };
    expect(mutationProblem({ data })).toEqual({ message: "program not found", fields: {} });
    expect(mutationProblem({ data: { publishEpisode: { __typename: "Episode", id: "e1" } } })).toBeNull();
  });

  it("reports a failed request, and an answer without a result", () => {
    const error = new CombinedError({ networkError: new Error("offline") });
    expect(mutationProblem({ error })?.message).toMatch(/offline/);
    expect(mutationProblem({ data: { __typename: "Mutation" } })).toEqual({ message: "The API gave no answer.", fields: {} });
  });
});
