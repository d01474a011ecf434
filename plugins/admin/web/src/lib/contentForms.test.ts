import { describe, expect, it } from "vitest";
import {
  EMPTY_EPISODE,
  EMPTY_PROGRAM,
  episodeCreateInput,
  episodeUpdateInput,
  episodeValues,
  hasChanges,
  parseCount,
  programCreateInput,
  programUpdateInput,
  programValues,
} from "./contentForms";

const program = {
  title: "Evening News",
  slug: "evening-news",
  description: "Daily.",
  category: "News",
  language: null,
  tags: ["news", "daily"],
};

describe("program form", () => {
  it("fills the inputs from a program (nulls as empty, tags comma separated)", () => {
    expect(programValues(program)).toEqual({
      title: "Evening News",
      slug: "evening-news",
      description: "Daily.",
      category: "News",
      language: "",
      tags: "news, daily",
    });
  });

  it("leaves blank optional fields out on create, so the API derives the slug", () => {
    expect(programCreateInput({ ...EMPTY_PROGRAM, title: "Hello", slug: "  ", category: " ", tags: " , " })).toEqual({ title: "Hello" });
  });

  it("sends what was typed on create, tags split and trimmed", () => {
    expect(
      programCreateInput({ title: "برنامه", slug: " Bad Slug! ", description: "Text", category: " Talk ", language: "fa-IR", tags: "a, b ,a" }),
    ).toEqual({ title: "برنامه", slug: "Bad Slug!", description: "Text", category: "Talk", language: "fa-IR", tags: ["a", "b"] });
  });

  it("updates only the fields that changed", () => {
    const initial = programValues(program);
    expect(programUpdateInput(initial, initial)).toEqual({});
    expect(hasChanges(programUpdateInput(initial, initial))).toBe(false);
    expect(programUpdateInput({ ...initial, title: "Late News", tags: "news, daily, late" }, initial)).toEqual({
      title: "Late News",
      tags: ["news", "daily", "late"],
    });
    // Reformatting the tags is no change.
    expect(programUpdateInput({ ...initial, tags: "news,daily," }, initial)).toEqual({});
  });

  it("clears optional fields with null (category, language) and empty values (tags, description)", () => {
    const initial = { ...programValues(program), language: "en" };
    expect(programUpdateInput({ ...initial, category: " ", language: "", tags: "", description: "" }, initial)).toEqual({
      category: null,
      language: null,
      tags: [],
      description: "",
    });
  });

  it("keeps the current slug when the slug input is emptied", () => {
    const initial = programValues(program);
    expect(programUpdateInput({ ...initial, slug: "" }, initial)).toEqual({});
    expect(programUpdateInput({ ...initial, slug: " new-slug " }, initial)).toEqual({ slug: "new-slug" });
  });
});

describe("counts", () => {
  it("reads whole numbers and blanks, and refuses the rest", () => {
    expect(parseCount("")).toEqual({ value: null, problem: null });
    expect(parseCount(" 12 ")).toEqual({ value: 12, problem: null });
    expect(parseCount("0")).toEqual({ value: 0, problem: null });
    expect(parseCount("1.5").problem).toBe("must be a whole number");
    expect(parseCount("-1").problem).toBe("must be a whole number");
    expect(parseCount("two").problem).toBe("must be a whole number");
  });
});

describe("episode form", () => {
  const episode = { title: "Pilot", slug: "pilot", season: 1, number: null, description: "", program: { id: "P1" } };

  it("fills the inputs from an episode", () => {
    expect(episodeValues(episode)).toEqual({ programId: "P1", title: "Pilot", slug: "pilot", season: "1", number: "", description: "" });
  });

  it("needs a program to create, and whole numbers", () => {
    const result = episodeCreateInput({ ...EMPTY_EPISODE, title: "Pilot", season: "x" });
    expect(result.input).toBeNull();
    expect(result.problems).toEqual({ programId: "choose a program", season: "must be a whole number" });
  });

  it("leaves blank optional fields out on create and converts numbers", () => {
    expect(episodeCreateInput({ ...EMPTY_EPISODE, programId: "P1", title: "Pilot", number: " 3 " })).toEqual({
      input: { programId: "P1", title: "Pilot", number: 3 },
      problems: null,
    });
    expect(
      episodeCreateInput({ programId: "P1", title: "Pilot", slug: "pilot-1", season: "0", number: "", description: "About" }).input,
    ).toEqual({ programId: "P1", title: "Pilot", slug: "pilot-1", season: 0, description: "About" });
  });

  it("updates only the changed fields; an emptied number clears it", () => {
    const initial = episodeValues({ ...episode, number: 4 });
    expect(episodeUpdateInput(initial, initial)).toEqual({ input: {}, problems: null });
    expect(episodeUpdateInput({ ...initial, number: "", season: "2" }, initial)).toEqual({
      input: { season: 2, number: null },
      problems: null,
    });
    expect(episodeUpdateInput({ ...initial, number: "4a" }, initial)).toEqual({ input: null, problems: { number: "must be a whole number" } });
  });
});
