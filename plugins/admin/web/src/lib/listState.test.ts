import { describe, expect, it } from "vitest";
import {
  changeList,
  countSentence,
  defaultListState,
  episodeFilterOf,
  isSearching,
  listStateToParams,
  parseListState,
  programFilterOf,
  searchFilterOf,
  shownStatus,
  splitTags,
  type ListOptions,
} from "./listState";

type Field = "CREATED_AT" | "TITLE" | "NUMBER";
const OPTIONS: ListOptions<Field> = { sortFields: ["CREATED_AT", "TITLE", "NUMBER"], defaultSort: "CREATED_AT" };
const parse = (query: string) => parseListState(new URLSearchParams(query), OPTIONS);

describe("list state in the URL", () => {
  it("reads an empty query string as the defaults", () => {
    expect(parse("")).toEqual(defaultListState(OPTIONS));
    expect(parse("").cursors).toEqual([null]);
    expect(parse("").sort).toBe("CREATED_AT");
    expect(parse("").dir).toBe("DESC");
  });

  it("reads every part", () => {
    const state = parse("q=news&status=DRAFT&category=Sport&language=fa-IR&tags=a,b&program=UHJ2&sort=TITLE&dir=ASC&order=DATE&after=c1&after=c2");
    expect(state).toEqual({
      q: "news",
      status: "DRAFT",
      category: "Sport",
      language: "fa-IR",
      tags: "a,b",
      program: "UHJ2",
      sort: "TITLE",
      dir: "ASC",
      order: "DATE",
      cursors: [null, "c1", "c2"],
    });
  });

  it("ignores unknown values rather than sending them to the API", () => {
    const state = parse("status=LIVE&sort=RANDOM&dir=UP&order=BEST&after=");
    expect(state.status).toBeNull();
    expect(state.sort).toBe("CREATED_AT");
    expect(state.dir).toBe("DESC");
    expect(state.order).toBe("RELEVANCE");
    expect(state.cursors).toEqual([null]);
  });

  it("writes only what differs from the defaults and reads it back the same", () => {
    expect(listStateToParams(defaultListState(OPTIONS), OPTIONS).toString()).toBe("");
    const state = { ...defaultListState(OPTIONS), q: "تلویزیون", tags: "a, b", sort: "NUMBER" as const, dir: "ASC" as const, cursors: [null, "x/y+z"] };
    const params = listStateToParams(state, OPTIONS);
    expect(params.get("q")).toBe("تلویزیون");
    expect(params.has("status")).toBe(false);
    expect(params.has("order")).toBe(false);
    expect(params.getAll("after")).toEqual(["x/y+z"]);
    expect(parseListState(new URLSearchParams(params.toString()), OPTIONS)).toEqual(state);
  });

  it("leaves out filters that are only spaces", () => {
    const state = { ...defaultListState(OPTIONS), q: "  ", category: " " };
    expect(listStateToParams(state, OPTIONS).toString()).toBe("");
  });

  it("goes back to the first page when a filter changes, unless cursors are given", () => {
    const paged = parse("after=c1&after=c2");
    expect(changeList(paged, { status: "PUBLISHED" }).cursors).toEqual([null]);
    expect(changeList(paged, { cursors: [null, "c1"] }).cursors).toEqual([null, "c1"]);
  });

  it("searches only when the text holds more than spaces", () => {
    expect(isSearching(parse("q=%20%20"))).toBe(false);
    expect(isSearching(parse("q=news"))).toBe(true);
  });
});

describe("tags", () => {
  it("splits on commas, trims, drops empties and repeats (ignoring case)", () => {
    expect(splitTags(" news, Sport ,, news ,sport,,")).toEqual(["news", "Sport"]);
    expect(splitTags("")).toEqual([]);
    expect(splitTags(" , ")).toEqual([]);
    expect(splitTags("ورزش، خبر, خبر")).toEqual(["ورزش، خبر", "خبر"]);
  });
});

describe("filters for the API", () => {
  it("turns blanks into nulls for the connections", () => {
    expect(programFilterOf(parse(""))).toEqual({ status: null, category: null, language: null, tags: null });
    expect(programFilterOf(parse("status=ARCHIVED&category=%20Sport%20&language=en&tags=a,%20b"))).toEqual({
      status: "ARCHIVED",
      category: "Sport",
      language: "en",
      tags: ["a", "b"],
    });
    expect(episodeFilterOf(parse("program=UHJ2")).programId).toBe("UHJ2");
    expect(episodeFilterOf(parse("")).programId).toBeNull();
  });

  it("makes lists for search and never a status", () => {
    const filter = searchFilterOf(parse("q=x&status=DRAFT&category=Sport&language=fa&tags=a&program=P1"), "EPISODE", true);
    expect(filter).toEqual({
      kinds: ["EPISODE"],
      categories: ["Sport"],
      languages: ["fa"],
      tags: ["a"],
      programIds: ["P1"],
      includeDrafts: true,
    });
    expect(searchFilterOf(parse("q=x"), "PROGRAM", false)).toEqual({
      kinds: ["PROGRAM"],
      categories: null,
      languages: null,
      tags: null,
      programIds: null,
      includeDrafts: false,
    });
  });
});

describe("shown status", () => {
  const now = new Date("2026-05-01T12:00:00Z");
  it("calls a published item with a future time scheduled", () => {
    expect(shownStatus("PUBLISHED", "2026-05-02T00:00:00Z", now)).toBe("SCHEDULED");
    expect(shownStatus("PUBLISHED", "2026-04-30T00:00:00Z", now)).toBe("PUBLISHED");
    expect(shownStatus("DRAFT", "2026-05-02T00:00:00Z", now)).toBe("DRAFT");
    expect(shownStatus("ARCHIVED", null, now)).toBe("ARCHIVED");
  });
});

describe("count sentence", () => {
  it("says how many, whether found by search, and the page", () => {
    expect(countSentence({ total: 1, exact: true, searching: false, page: 1, noun: ["program", "programs"] })).toBe("1 program, page 1");
    expect(countSentence({ total: 31, exact: true, searching: true, page: 2, noun: ["program", "programs"] })).toBe("31 programs found, page 2");
    expect(countSentence({ total: 0, exact: false, searching: true, page: 1, noun: ["episode", "episodes"] })).toBe(
      "About 0 episodes found, page 1",
    );
  });
});
