import { describe, expect, it } from "vitest";
import type { AdminSearchQuery } from "../../gql/graphql";
import { defaultListState } from "../../lib/listState";
import { listPaging, pageOf, searchPageOf } from "./useContentList";

const pageInfo = { hasNextPage: true, endCursor: "c2" };
const program = { __typename: "Program" as const, id: "p1", title: "News", status: "DRAFT" as const, publishAt: null, category: null, language: null, tags: [] };
const episode = {
  __typename: "Episode" as const,
  id: "e1",
  title: "Pilot",
  season: 1,
  number: 1,
  status: "PUBLISHED" as const,
  publishAt: null,
  program: { id: "p1", title: "News" },
};

describe("pageOf", () => {
  it("has no rows and no count before the first answer", () => {
    expect(pageOf(undefined)).toEqual({ rows: [], total: null, exact: true, pageInfo: null });
  });

  it("takes a connection's nodes, count and paging (exact unless it says otherwise)", () => {
    const page = pageOf({ totalCount: 7, edges: [{ node: { id: "a" } }, { node: { id: "b" } }], pageInfo });
    expect(page).toEqual({ rows: [{ id: "a" }, { id: "b" }], total: 7, exact: true, pageInfo });
  });
});

describe("searchPageOf", () => {
  const search: AdminSearchQuery["search"] = {
    totalCount: 40,
    exactCounts: false,
    pageInfo,
    edges: [{ node: program }, { node: episode }],
  };

  it("keeps the results of one kind, with the search's estimate and paging", () => {
    expect(searchPageOf(search, "Episode")).toEqual({ rows: [episode], total: 40, exact: false, pageInfo });
    expect(searchPageOf(search, "Program").rows).toEqual([program]);
  });

  it("has nothing before the answer", () => {
    expect(searchPageOf(undefined, "Program").total).toBeNull();
  });
});

describe("listPaging", () => {
  it("asks for a page after the last cursor, in the chosen order", () => {
    const state = { ...defaultListState({ sortFields: ["TITLE"], defaultSort: "TITLE" }), dir: "ASC" as const, cursors: [null, "c1"] };
    expect(listPaging(state)).toEqual({ first: 25, after: "c1", orderBy: { field: "TITLE", direction: "ASC" } });
  });
});
