import { describe, expect, it } from "vitest";
import { bytes, dateTime, timecode } from "./format";
import { problemOf, transportMessage } from "./results";
import { abilities } from "./roles";
import { localInputToUtc, utcToLocalInput } from "./schedule";
import { applyTheme, storedTheme } from "./theme";
import { endpoints } from "../config";

describe("timecode", () => {
  it("shows minutes and seconds under an hour, hours above", () => {
    expect(timecode(0)).toBe("00:00");
    expect(timecode(3)).toBe("00:03");
    expect(timecode(63.9)).toBe("01:03");
    expect(timecode(3723)).toBe("1:02:03");
  });
  it("never goes negative", () => {
    expect(timecode(-4)).toBe("00:00");
  });
});

describe("bytes", () => {
  it("uses binary units with one decimal below ten", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(15 * 1024 * 1024)).toBe("15 MB");
  });
});

describe("dateTime", () => {
  it("formats an instant and says so when there is none", () => {
    expect(dateTime(null)).toBe("—");
    expect(dateTime("not a date")).toBe("—");
    expect(dateTime("2026-12-24T17:30:00Z", "en-GB")).toMatch(/2026/);
  });
});

describe("schedule", () => {
  it("round-trips the editor's wall-clock time through UTC", () => {
    const utc = localInputToUtc("2026-12-24T18:30");
    expect(utc).not.toBeNull();
    expect(new Date(utc!).getTime()).toBe(new Date(2026, 11, 24, 18, 30).getTime());
    expect(utcToLocalInput(utc)).toBe("2026-12-24T18:30");
  });
  it("refuses what a datetime-local input cannot hold", () => {
    expect(localInputToUtc("")).toBeNull();
    expect(localInputToUtc("24/12/2026 18:30")).toBeNull();
    expect(utcToLocalInput(undefined)).toBe("");
  });
});

describe("problemOf", () => {
  it("maps a ValidationError's field paths to field names, first message wins", () => {
    const problem = problemOf({
      __typename: "ValidationError",
      message: "Invalid input",
      fields: [
        { path: ["input", "slug"], message: "must be lowercase" },
        { path: ["input", "slug"], message: "second" },
        { path: ["input", "config", "url"], message: "not a URL" },
      ],
    });
    expect(problem).toEqual({ message: "Invalid input", fields: { slug: "must be lowercase", url: "not a URL" } });
  });
  it("is null for the object itself", () => {
    expect(problemOf({ __typename: "Program" })).toBeNull();
    expect(problemOf(null)).toBeNull();
  });
  it("reads NotFound and Forbidden errors as a whole-form message", () => {
    expect(problemOf({ __typename: "ForbiddenError", message: "editors only" })).toEqual({
      message: "editors only",
      fields: {},
    });
  });
});

describe("transportMessage", () => {
  it("prefers the GraphQL error and drops urql's prefix", () => {
    expect(transportMessage({ message: "[GraphQL] boom", graphQLErrors: [{ message: "boom" }] })).toBe("boom");
    expect(transportMessage({ message: "[Network] Failed to fetch" })).toBe("Failed to fetch");
  });
});

describe("abilities", () => {
  it("gives each role what the API allows it", () => {
    expect(abilities(["viewer"])).toEqual({ edit: false, comment: true, administer: false });
    expect(abilities(["editor"])).toEqual({ edit: true, comment: true, administer: false });
    expect(abilities(["admin"])).toEqual({ edit: true, comment: true, administer: true });
    expect(abilities([])).toEqual({ edit: false, comment: false, administer: false });
  });
});

describe("theme", () => {
  it("remembers light and dark, and forgets for the system's choice", () => {
    const root = document.createElement("html");
    applyTheme("dark", window.localStorage, root);
    expect(root.dataset.theme).toBe("dark");
    expect(storedTheme(window.localStorage)).toBe("dark");
    applyTheme("system", window.localStorage, root);
    expect(root.dataset.theme).toBeUndefined();
    expect(storedTheme(window.localStorage)).toBe("system");
  });
});

describe("endpoints", () => {
  it("turns the GraphQL path into http and ws URLs on the page's origin", () => {
    expect(endpoints("/graphql", "http://127.0.0.1:8000")).toEqual({
      http: "http://127.0.0.1:8000/graphql",
      ws: "ws://127.0.0.1:8000/graphql",
    });
    expect(endpoints("https://api.example.org/graphql", "http://localhost:5173").ws).toBe(
      "wss://api.example.org/graphql",
    );
  });
});

describe("loadConfig", () => {
  it("reads the configuration the server inlined, without a request", async () => {
    const { loadConfig } = await import("../config");
    const block = document.createElement("script");
    block.id = "cms-admin-config";
    block.type = "application/json";
    block.textContent = JSON.stringify({
      graphqlUrl: "/graphql",
      oidc: { authority: "http://localhost:8000/auth/dev", clientId: "cms-admin", scope: "openid" },
    });
    document.body.append(block);
    try {
      const config = await loadConfig("/admin/");
      expect(config.oidc.clientId).toBe("cms-admin");
    } finally {
      block.remove();
    }
  });
});
