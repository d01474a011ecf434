// The source form against a stand-in API: what it sends, and where the API's messages land.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Provider, type Client } from "urql";
import { fromValue } from "wonka";
import { SourceEditor } from "./SourceEditor";

afterEach(cleanup);

const PROGRAMS = { programs: [{ id: "P1", title: "Morning show" }], loading: false, error: null, truncated: false };
const FIELD = { required: false, help: "", choices: [], default: null, min: null, max: null, secret: false } as const;
// As `sourceKinds` describes them: the form is built from this, nothing about the kinds is known in advance.
const KINDS = [
  {
    kind: "rss",
    label: "RSS / Atom / podcast feed",
    description: "",
    secretFields: [],
    configFields: [
      { ...FIELD, name: "url", label: "Feed URL", type: "URL" as const, required: true, help: "Starting with https://." },
      { ...FIELD, name: "maxItems", label: "Most items per run", type: "INTEGER" as const, min: 1, max: 5000 },
    ],
  },
  {
    kind: "youtube",
    label: "YouTube channel or playlist",
    description: "Give one of the channel or playlist address, a channel id or a playlist id.",
    secretFields: ["apiKey"],
    configFields: [
      { ...FIELD, name: "channelId", label: "Channel id", type: "STRING" as const },
      { ...FIELD, name: "apiKey", label: "YouTube Data API key", type: "SECRET" as const, secret: true },
    ],
  },
  { kind: "legacy", label: "legacy", description: "", secretFields: ["password"], configFields: [] },
];

function clientAnswering(data: unknown) {
  const executeMutation = vi.fn(() => fromValue({ data, operation: undefined as never, stale: false, hasNext: false }));
  return { client: { executeMutation } as unknown as Client, executeMutation };
}

function describedBy(input: HTMLElement): string {
  return (input.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

describe("SourceEditor", () => {
  it("sends typed input and shows a config error beside its config field, keeping what was typed", async () => {
    const { client, executeMutation } = clientAnswering({
      createSource: {
        __typename: "ValidationError",
        message: "invalid input",
        fields: [{ path: ["input", "config", "url"], message: "the feed's address, starting with http:// or https://" }],
      },
    });
    render(
      <Provider value={client}>
        <SourceEditor kinds={KINDS} programs={PROGRAMS} />
      </Provider>,
    );
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Daily feed" } });
    fireEvent.change(screen.getByLabelText("Program"), { target: { value: "P1" } });
    fireEvent.change(screen.getByLabelText("Feed URL"), { target: { value: "not a url" } });
    fireEvent.change(screen.getByLabelText("Most items per run"), { target: { value: "20" } });
    fireEvent.click(screen.getByRole("button", { name: "Create source" }));

    const url = screen.getByLabelText("Feed URL");
    await waitFor(() => expect(url.getAttribute("aria-invalid")).toBe("true"));
    expect(describedBy(url)).toContain("the feed's address, starting with http:// or https://");
    expect((url as HTMLInputElement).value).toBe("not a url");
    expect(screen.getByLabelText("Name").getAttribute("aria-invalid")).toBe("false");
    expect(screen.getByRole("alert").textContent).toMatch(/not saved/);

    const calls = executeMutation.mock.calls as unknown as [{ variables: { input: unknown } }][];
    expect(calls[0]![0].variables.input).toEqual({
      kind: "rss",
      name: "Daily feed",
      programId: "P1",
      config: { url: "not a url", maxItems: 20 },
      scheduleMinutes: 60,
      enabled: true,
      autoPublish: false,
    });
  });

  it("shows a secret that is set as write-only and does not send it unless replaced", async () => {
    const { client, executeMutation } = clientAnswering({
      updateSource: {
        __typename: "Source",
        id: "S1",
        name: "Talks",
        programId: "P1",
        config: { channelId: "UCaaaaaaaaaaaaaaaaaaaaaa" },
        secretsSet: ["apiKey"],
        scheduleMinutes: 60,
        enabled: true,
        autoPublish: true,
        nextRunAt: null,
      },
    });
    render(
      <Provider value={client}>
        <SourceEditor
          kinds={KINDS}
          programs={PROGRAMS}
          source={{
            id: "S1",
            kind: "youtube",
            name: "Talks",
            programId: "P1",
            config: { channelId: "UCaaaaaaaaaaaaaaaaaaaaaa" },
            secretsSet: ["apiKey"],
            scheduleMinutes: 60,
            enabled: true,
            autoPublish: false,
          }}
        />
      </Provider>,
    );
    const key = screen.getByLabelText("YouTube Data API key") as HTMLInputElement;
    expect(key.type).toBe("password");
    expect(key.value).toBe("");
    expect(describedBy(key)).toMatch(/set/);
    fireEvent.click(screen.getByLabelText("Auto-publish new episodes"));
    fireEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Changes saved."));
    const calls = executeMutation.mock.calls as unknown as [{ variables: { id: string; input: Record<string, unknown> } }][];
    expect(calls[0]![0].variables).toEqual({
      id: "S1",
      input: { name: "Talks", programId: "P1", scheduleMinutes: 60, enabled: true, autoPublish: true },
    });
  });
});

describe("SourceEditor, kinds described by the API", () => {
  it("builds each kind's fields from its description, and a JSON object for a kind described by nothing", () => {
    const { client } = clientAnswering(null);
    render(
      <Provider value={client}>
        <SourceEditor kinds={KINDS} programs={PROGRAMS} />
      </Provider>,
    );
    const kind = screen.getByLabelText("Kind") as HTMLSelectElement;
    expect(Array.from(kind.options).map((option) => option.textContent)).toEqual([
      "RSS / Atom / podcast feed (rss)",
      "YouTube channel or playlist (youtube)",
      "legacy",
    ]);
    expect(screen.getByRole("group", { name: "RSS / Atom / podcast feed settings" })).toBeTruthy();
    const limit = screen.getByLabelText("Most items per run") as HTMLInputElement;
    expect([limit.type, limit.min, limit.max]).toEqual(["number", "1", "5000"]);

    fireEvent.change(kind, { target: { value: "youtube" } });
    expect(screen.getByText("Give one of the channel or playlist address, a channel id or a playlist id.")).toBeTruthy();
    expect((screen.getByLabelText("YouTube Data API key") as HTMLInputElement).type).toBe("password");
    expect(screen.queryByLabelText("Feed URL")).toBeNull();

    fireEvent.change(kind, { target: { value: "legacy" } });
    expect((screen.getByLabelText("Password") as HTMLInputElement).type).toBe("password");
    expect(screen.getByLabelText("Other settings (JSON)").tagName).toBe("TEXTAREA");
  });
});
