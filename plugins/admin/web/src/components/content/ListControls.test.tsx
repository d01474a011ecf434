import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, useLocation } from "react-router-dom";
import { afterEach, describe, expect, it } from "vitest";
import type { ListOptions } from "../../lib/listState";
import { ListFilters, useListState, useSelection } from "./ListControls";

afterEach(cleanup);

type Field = "CREATED_AT" | "TITLE";
const OPTIONS: ListOptions<Field> = { sortFields: ["CREATED_AT", "TITLE"], defaultSort: "CREATED_AT" };
const SORTS = [
  { value: "CREATED_AT" as const, label: "Created" },
  { value: "TITLE" as const, label: "Title" },
];

function Harness({ showStatus = true }: { showStatus?: boolean }) {
  const [state, setState] = useListState(OPTIONS);
  const location = useLocation();
  return (
    <>
      <ListFilters state={state} onChange={setState} sorts={SORTS} showStatus={showStatus} />
      <output data-testid="url">{location.search}</output>
    </>
  );
}

const url = () => screen.getByTestId("url").textContent;
const renderAt = (entry: string, showStatus = true) =>
  render(
    <MemoryRouter initialEntries={[entry]}>
      <Harness showStatus={showStatus} />
    </MemoryRouter>,
  );

describe("ListFilters", () => {
  it("shows the state from the URL", () => {
    renderAt("/programs?q=news&status=DRAFT&tags=a,b&sort=TITLE&dir=ASC");
    expect(screen.getByLabelText<HTMLInputElement>("Search").value).toBe("news");
    expect(screen.getByLabelText<HTMLInputElement>("Tags").value).toBe("a,b");
    // Searching: status does not apply and the sort is by relevance.
    expect(screen.getByLabelText<HTMLSelectElement>("Status").disabled).toBe(true);
    expect(screen.getByLabelText<HTMLSelectElement>("Sort by").value).toBe("RELEVANCE");
    expect(screen.queryByLabelText("Direction")).toBeNull();
  });

  it("writes typed text to the URL after a pause, back on page one", async () => {
    renderAt("/programs?after=c1");
    fireEvent.change(screen.getByLabelText("Category"), { target: { value: "Sport" } });
    expect(url()).toBe("?after=c1");
    await waitFor(() => expect(url()).toBe("?category=Sport"));
  });

  it("commits at once on Enter", () => {
    renderAt("/programs");
    const search = screen.getByLabelText("Search");
    fireEvent.change(search, { target: { value: "news" } });
    fireEvent.keyDown(search, { key: "Enter" });
    expect(url()).toBe("?q=news");
  });

  it("changes selects at once and clears everything", () => {
    renderAt("/programs?tags=x");
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "ARCHIVED" } });
    fireEvent.change(screen.getByLabelText("Sort by"), { target: { value: "TITLE" } });
    fireEvent.change(screen.getByLabelText("Direction"), { target: { value: "ASC" } });
    expect(url()).toBe("?status=ARCHIVED&tags=x&sort=TITLE&dir=ASC");
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(url()).toBe("?sort=TITLE&dir=ASC");
    expect(screen.getByLabelText<HTMLInputElement>("Tags").value).toBe("");
  });

  it("offers no status filter to viewers", () => {
    renderAt("/programs", false);
    expect(screen.queryByLabelText("Status")).toBeNull();
  });
});

describe("useSelection", () => {
  it("ticks rows, all on the page, and forgets rows that left the page", () => {
    const { result, rerender } = renderHook(({ ids }) => useSelection(ids), { initialProps: { ids: ["a", "b", "c"] } });
    act(() => result.current.toggle("a"));
    expect(result.current.selected).toEqual(["a"]);
    expect(result.current.some).toBe(true);
    act(() => result.current.toggleAll());
    expect(result.current.selected).toEqual(["a", "b", "c"]);
    expect(result.current.all).toBe(true);
    act(() => result.current.toggleAll());
    expect(result.current.selected).toEqual([]);
    act(() => result.current.keep(["b", "c"]));
    rerender({ ids: ["c", "d"] });
    expect(result.current.selected).toEqual(["c"]);
    expect(result.current.all).toBe(false);
    // Back to the first page: "b" was dropped when it left the page.
    rerender({ ids: ["a", "b", "c"] });
    expect(result.current.selected).toEqual(["c"]);
  });
});
