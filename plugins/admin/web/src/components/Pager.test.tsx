import { act, cleanup, fireEvent, render, renderHook, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MorePages, useCursorsFor } from "./Pager";

afterEach(cleanup);

describe("paging", () => {
  it("shows the pager only when there is more than one page", () => {
    const onChange = vi.fn();
    const { rerender } = render(<MorePages label="Job pages" cursors={[null]} pageInfo={{ hasNextPage: false, endCursor: null }} onChange={onChange} />);
    expect(screen.queryByRole("navigation", { name: "Job pages" })).toBeNull();
    rerender(<MorePages label="Job pages" cursors={[null]} pageInfo={{ hasNextPage: true, endCursor: "c1" }} onChange={onChange} />);
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(onChange).toHaveBeenCalledWith([null, "c1"]);
    rerender(<MorePages label="Job pages" cursors={[null, "c1"]} pageInfo={{ hasNextPage: false, endCursor: null }} onChange={onChange} />);
    expect(screen.getByRole("navigation", { name: "Job pages" }).textContent).toContain("Page 2");
    rerender(<MorePages label="Job pages" cursors={[null, "c1"]} pageInfo={undefined} onChange={onChange} />);
    expect(screen.queryByRole("navigation")).toBeNull();
  });

  it("starts over at the first page when the filters change", () => {
    const { result, rerender } = renderHook(({ key }) => useCursorsFor(key), { initialProps: { key: "status=DEAD" } });
    act(() => result.current[1]([null, "c1"]));
    expect(result.current[0]).toEqual([null, "c1"]);
    rerender({ key: "status=QUEUED" });
    expect(result.current[0]).toEqual([null]);
  });
});
