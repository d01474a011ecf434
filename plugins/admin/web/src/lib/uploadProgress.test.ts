import { describe, expect, it } from "vitest";
import {
  addSample,
  averageSpeed,
  describeProgress,
  formatDuration,
  formatSpeed,
  percent,
  secondsLeft,
  type Sample,
} from "./uploadProgress";

function feed(points: [number, number][], windowMs = 5000): Sample[] {
  return points.reduce<Sample[]>((samples, [at, loaded]) => addSample(samples, { at, loaded }, windowMs), []);
}

describe("moving-average speed", () => {
  it("averages over the window, forgetting older samples", () => {
    // 1 MB/s for 10 s, then 4 MB/s for 5 s: the 5 s window sees only the recent speed
    const points: [number, number][] = [];
    for (let s = 0; s <= 10; s += 1) points.push([s * 1000, s * 1_000_000]);
    for (let s = 11; s <= 15; s += 1) points.push([s * 1000, 10_000_000 + (s - 10) * 4_000_000]);
    const samples = feed(points);
    expect(samples[0]!.at).toBe(10_000);
    expect(averageSpeed(samples)).toBe(4_000_000);
  });

  it("smooths bursts within the window", () => {
    const samples = feed([
      [0, 0],
      [1000, 100],
      [1100, 1100],
      [2000, 1200],
    ]);
    expect(averageSpeed(samples)).toBe(600);
  });

  it("has no speed until half a second has passed", () => {
    expect(averageSpeed(feed([[0, 0]]))).toBeNull();
    expect(averageSpeed(feed([[0, 0], [400, 1000]]))).toBeNull();
    expect(averageSpeed(feed([[0, 0], [500, 1000]]))).toBe(2000);
  });

  it("starts over when the bytes go backwards (a retry sends the body again)", () => {
    const samples = feed([
      [0, 0],
      [1000, 5000],
      [2000, 0],
    ]);
    expect(samples).toEqual([{ at: 2000, loaded: 0 }]);
    expect(averageSpeed(samples)).toBeNull();
  });
});

describe("time left and formatting", () => {
  it("computes seconds left, or nothing when stalled", () => {
    expect(secondsLeft(250, 1000, 50)).toBe(15);
    expect(secondsLeft(250, 1000, 0)).toBeNull();
    expect(secondsLeft(250, 1000, null)).toBeNull();
    expect(secondsLeft(2000, 1000, 10)).toBe(0);
  });

  it("formats durations for people", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(7.2)).toBe("8 s");
    expect(formatDuration(185)).toBe("3 min 5 s");
    expect(formatDuration(1250)).toBe("21 min");
    expect(formatDuration(7300)).toBe("2 h 2 min");
    expect(formatDuration(3599.5)).toBe("1 h");
    expect(formatDuration(3541)).toBe("1 h");
    expect(formatDuration(120)).toBe("2 min");
    expect(formatDuration(7200)).toBe("2 h");
  });

  it("formats speed and the whole line", () => {
    expect(formatSpeed(1536)).toBe("1.5 KB/s");
    expect(describeProgress(1024 * 1024, 4 * 1024 * 1024, 1024 * 1024)).toBe("1.0 MB of 4.0 MB · 1.0 MB/s · 3 s left");
    expect(describeProgress(0, 2048, null)).toBe("0 B of 2.0 KB");
    expect(describeProgress(2048, 2048, 100)).toBe("2.0 KB of 2.0 KB · 100 B/s");
  });

  it("never shows 100 % before the last byte", () => {
    expect(percent(999, 1000)).toBe(99);
    expect(percent(1000, 1000)).toBe(100);
    expect(percent(0, 0)).toBe(0);
    expect(percent(333, 1000)).toBe(33);
  });
});
