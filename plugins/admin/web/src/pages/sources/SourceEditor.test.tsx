// The source form against a stand-in API: what it sends, and where the API's messages land.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Provider, type Client } from "urql";
import { fromValue } from "wonka";
import { SourceEditor } from "./SourceEditor";

afterEach(cleanup);

const PROGRAMS = { programs: [{ id: "P1", title: "Morning show" }], loading: false, error: null, truncated: false };
const KINDS = [
  { kind: "rss", secretFields: [] },
  { kind: "youtube", secretFields: ["apiKey"] },
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
        fields: [{ path: ["input", "config"], message: "url: the feed's address, starting with http:// or https://" }],
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
