import { describe, expect, it } from "vitest";
import { auditDiff, flatten, shown } from "./diff";
import { auditFilter, firstLine, lagText, statusOf } from "./format";

describe("auditDiff", () => {
  it("lists only the fields that changed, by name", () => {
    const rows = auditDiff(
      { title: "Old", slug: "same", tags: ["a"], season: 1 },
      { title: "New", slug: "same", tags: ["a"], season: 2 },
    );
    expect(rows).toEqual([
      { field: "season", change: "changed", before: "1", after: "2" },
      { field: "title", change: "changed", before: "Old", after: "New" },
    ]);
  });

  it("shows a create as every field added and a delete as every field removed", () => {
    expect(auditDiff(null, { name: "Feed", enabled: true })).toEqual([
      { field: "enabled", change: "added", after: "true" },
      { field: "name", change: "added", after: "Feed" },
    ]);
    expect(auditDiff({ name: "Feed" }, null)).toEqual([{ field: "name", change: "removed", before: "Feed" }]);
  });

  it("compares nested objects key by key, whatever the key order", () => {
    const rows = auditDiff(
      { config: { url: "https://a/", maxItems: 5 }, meta: { b: 1, a: 2 } },
      { config: { url: "https://b/", maxItems: 5 }, meta: { a: 2, b: 1 } },
    );
    expect(rows).toEqual([{ field: "config.url", change: "changed", before: "https://a/", after: "https://b/" }]);
  });

  it("tells a field set to null from a field removed", () => {
    expect(auditDiff({ a: "x", b: "y" }, { a: null })).toEqual([
      { field: "a", change: "changed", before: "x", after: "null" },
      { field: "b", change: "removed", before: "y" },
    ]);
  });

  it("compares arrays as a whole", () => {
    expect(auditDiff({ tags: ["a", "b"] }, { tags: ["b", "a"] })).toEqual([
      { field: "tags", change: "changed", before: '["a","b"]', after: '["b","a"]' },
    ]);
  });

  it("does not repeat an emptied object beside the keys it lost", () => {
    expect(auditDiff({ config: { url: "u" } }, { config: {} })).toEqual([{ field: "config.url", change: "removed", before: "u" }]);
  });

  it("gives nothing for an entry without before and after (a run asked for)", () => {
    expect(auditDiff(null, null)).toEqual([]);
    expect(auditDiff({ same: 1 }, { same: 1 })).toEqual([]);
  });

  it("flattens and shows values", () => {
    expect([...flatten({ a: { b: { c: 1 } }, d: {} }).entries()]).toEqual([
      ["a.b.c", 1],
      ["d", {}],
    ]);
    expect(shown("text")).toBe("text");
    expect(shown(3)).toBe("3");
    expect(shown(null)).toBe("null");
  });
});

describe("admin page helpers", () => {
  it("reads the jobs status from the address, dead letters first", () => {
    expect(statusOf(null)).toBe("DEAD");
    expect(statusOf("QUEUED")).toBe("QUEUED");
    expect(statusOf("ALL")).toBeNull();
    expect(statusOf("nonsense")).toBe("DEAD");
  });

  it("shortens an error to its first line", () => {
    expect(firstLine("boom\nTraceback ...")).toBe("boom");
    expect(firstLine("x".repeat(200), 10)).toBe(`${"x".repeat(9)}…`);
  });

  it("says a lag in words", () => {
    expect(lagText(0)).toBe("none");
    expect(lagText(4.2)).toBe("4 s");
    expect(lagText(200)).toBe("3 min 20 s");
    expect(lagText(7500)).toBe("2 h 5 min");
    expect(lagText(200_000)).toBe("2 d 7 h");
  });

  it("builds the audit filter from the filled fields only", () => {
    expect(auditFilter({ action: "", actor: " ", target: "" })).toBeNull();
    expect(auditFilter({ action: " source.create ", actor: "", target: "U291cmNlOjE=" })).toEqual({
      action: "source.create",
      entityId: "U291cmNlOjE=",
    });
  });
});
