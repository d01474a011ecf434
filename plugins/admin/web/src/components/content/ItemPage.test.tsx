import { act, cleanup, render, renderHook, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter, useLocation } from "react-router-dom";
import { afterEach, describe, expect, it } from "vitest";
import { LoadedItem, useOpenCreated } from "./ItemPage";

afterEach(cleanup);

const inRouter = ({ children }: { children: ReactNode }) => <MemoryRouter initialEntries={["/programs/new"]}>{children}</MemoryRouter>;

describe("LoadedItem", () => {
  const show = (result: Parameters<typeof LoadedItem>[0]["result"], item: { title: string } | null | undefined) =>
    render(
      <LoadedItem noun="episode" result={result} item={item}>
        {(episode) => <h1>{episode.title}</h1>}
      </LoadedItem>,
      { wrapper: inRouter },
    );

  it("says it is loading, then shows the item", () => {
    show({ fetching: true }, undefined);
    expect(screen.getByRole("status").textContent).toBe("Loading…");
    cleanup();
    show({ data: {}, fetching: false }, { title: "Pilot" });
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Pilot");
  });

  it("says when there is no such item, with the way back to the list", () => {
    show({ data: { episode: null }, fetching: false }, null);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Episode not found");
    expect(screen.getByRole("alert").textContent).toBe("No episode has this id, or you may not see it.");
    expect(screen.getByRole("link", { name: "Back to episodes" }).getAttribute("href")).toBe("/episodes");
  });
});

describe("useOpenCreated", () => {
  const setUp = () =>
    renderHook(() => ({ open: useOpenCreated("program"), location: useLocation() }), { wrapper: inRouter });

  it("opens the new item's page with a notice", () => {
    const { result } = setUp();
    let problem: unknown;
    act(() => {
      problem = result.current.open({}, { __typename: "Program", id: "p 1", title: "News" });
    });
    expect(problem).toBeNull();
    expect(result.current.location.pathname).toBe("/programs/p%201");
    expect(result.current.location.state).toEqual({ notice: "Program “News” created." });
  });

  it("stays with the form and answers the problem when the API refused", () => {
    const { result } = setUp();
    let problem: unknown;
    act(() => {
      problem = result.current.open({}, { __typename: "ValidationError", message: "invalid input", fields: [{ path: ["input", "slug"], message: "bad slug" }] });
    });
    expect(problem).toEqual({ message: "invalid input", fields: { slug: "bad slug" } });
    expect(result.current.location.pathname).toBe("/programs/new");
  });
});
