import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { StoryboardCue } from "../../lib/review";
import { Timeline, type Marker } from "./Timeline";

afterEach(cleanup);

const markers: Marker[] = [
  { id: "c1", timecode: 3.4, body: "Logo is too small", active: true, resolved: false },
  { id: "c2", timecode: 30, body: "Cut here", active: false, resolved: true },
];
const cues: StoryboardCue[] = [
  { start: 0, end: 30, url: "http://cms.test/edge/x/sheet-1.jpg", x: 0, y: 0, w: 160, h: 90 },
  { start: 30, end: 60, url: "http://cms.test/edge/x/sheet-1.jpg", x: 160, y: 0, w: 160, h: 90 },
];

describe("review timeline", () => {
  it("is a slider with the time as text, moved by the arrow, page and home/end keys", () => {
    const onSeek = vi.fn();
    render(<Timeline time={10} duration={60} markers={[]} storyboard={[]} onSeek={onSeek} />);
    const slider = screen.getByRole("slider", { name: "Timeline" });
    expect(slider.getAttribute("aria-valuenow")).toBe("10");
    expect(slider.getAttribute("aria-valuemax")).toBe("60");
    expect(slider.getAttribute("aria-valuetext")).toBe("00:10 of 01:00");
    fireEvent.keyDown(slider, { key: "ArrowRight" });
    fireEvent.keyDown(slider, { key: "ArrowLeft" });
    fireEvent.keyDown(slider, { key: "PageUp" });
    fireEvent.keyDown(slider, { key: "End" });
    fireEvent.keyDown(slider, { key: "x" });
    expect(onSeek.mock.calls.map((call) => call[0])).toEqual([15, 5, 40, 60]);
  });

  it("shows each comment as a marker button that seeks to it", () => {
    const onSeek = vi.fn();
    render(<Timeline time={0} duration={60} markers={markers} storyboard={[]} onSeek={onSeek} />);
    const marker = screen.getByRole("button", { name: "Comment at 00:03: Logo is too small" });
    expect(marker.className).toContain("timeline-marker-active");
    expect(marker.style.getPropertyValue("--at")).toBe(`${(3.4 / 60) * 100}%`);
    fireEvent.click(marker);
    expect(onSeek).toHaveBeenCalledWith(3.4);
    expect(screen.getByRole("button", { name: "Comment at 00:30: Cut here" }).className).toContain("timeline-marker-resolved");
  });

  it("offers no markers or keyboard stop before the duration is known", () => {
    render(<Timeline time={0} duration={null} markers={markers} storyboard={[]} onSeek={() => undefined} />);
    expect(screen.queryAllByRole("button")).toHaveLength(0);
    expect(screen.getByRole("slider").getAttribute("aria-disabled")).toBe("true");
  });

  it("previews the storyboard tile of the focused time", () => {
    const { container } = render(<Timeline time={35} duration={60} markers={[]} storyboard={cues} onSeek={() => undefined} />);
    expect(container.querySelector(".storyboard-tile")).toBeNull();
    fireEvent.focus(screen.getByRole("slider"));
    const tile = container.querySelector<HTMLElement>(".storyboard-tile")!;
    expect(tile.style.backgroundImage).toContain("sheet-1.jpg");
    expect(tile.style.backgroundPosition).toBe("-160px 0px");
    expect(container.querySelector(".storyboard-time")!.textContent).toBe("00:35");
    fireEvent.focus(screen.getByRole("slider"));
    fireEvent.blur(screen.getByRole("slider"));
    expect(container.querySelector(".storyboard-tile")).toBeNull();
  });
});
