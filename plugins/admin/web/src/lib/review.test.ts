import { describe, expect, it } from "vitest";
import {
  activeComment,
  cueAt,
  excerpt,
  isCommentShortcut,
  isTypingTarget,
  markerPosition,
  parseStoryboard,
  sliderKey,
  threads,
  timeAtOffset,
  vttTime,
  type ReviewComment,
} from "./review";

// As cms/media/transcode/artwork.py writes it: one cue per tile, sheets beside the VTT.
const VTT = [
  "WEBVTT",
  "",
  "00:00:00.000 --> 00:00:02.000",
  "sheet-1.jpg#xywh=0,0,160,90",
  "",
  "00:00:02.000 --> 00:00:04.000",
  "sheet-1.jpg#xywh=160,0,160,90",
  "",
  "00:00:04.000 --> 00:00:05.250",
  "sheet-2.jpg#xywh=0,90,160,90",
  "",
].join("\r\n");

const BASE = "http://cms.test/edge/k1/1700000000/c2NvcGU/sig/abc/storyboard/storyboard.vtt";

describe("storyboard", () => {
  it("reads WebVTT timestamps", () => {
    expect(vttTime("00:01:02.500")).toBe(62.5);
    expect(vttTime("01:02.5")).toBe(62.5);
    expect(vttTime("1:00:00.000")).toBe(3600);
    expect(vttTime("garbage")).toBeNull();
  });

  it("parses cues with sheets resolved beside the VTT (inheriting its signed folder)", () => {
    const cues = parseStoryboard(VTT, BASE);
    expect(cues).toHaveLength(3);
    expect(cues[1]).toEqual({
      start: 2,
      end: 4,
      url: "http://cms.test/edge/k1/1700000000/c2NvcGU/sig/abc/storyboard/sheet-1.jpg",
      x: 160,
      y: 0,
      w: 160,
      h: 90,
    });
    expect(cues[2]!.url.endsWith("/storyboard/sheet-2.jpg")).toBe(true);
  });

  it("skips malformed cues", () => {
    const vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nsheet.jpg#xywh=1,2,3\n\nnot a time --> 00:02.000\nsheet.jpg#xywh=0,0,1,1\n\n00:02.000 --> 00:03.000\nsheet.jpg\n";
    expect(parseStoryboard(vtt, BASE)).toEqual([]);
  });

  it("finds the tile for a time, the last one including the end", () => {
    const cues = parseStoryboard(VTT, BASE);
    expect(cueAt(cues, 0)?.x).toBe(0);
    expect(cueAt(cues, 1.999)?.x).toBe(0);
    expect(cueAt(cues, 2)?.x).toBe(160);
    expect(cueAt(cues, 5.25)?.y).toBe(90);
    expect(cueAt(cues, 6)).toBeNull();
    expect(cueAt([], 1)).toBeNull();
  });
});

describe("timeline", () => {
  it("places markers by time, clamped, none without a duration", () => {
    expect(markerPosition(3, 12)).toBe(25);
    expect(markerPosition(20, 12)).toBe(100);
    expect(markerPosition(-1, 12)).toBe(0);
    expect(markerPosition(3, 0)).toBeNull();
    expect(markerPosition(3, Number.NaN)).toBeNull();
  });

  it("maps a pointer offset to a time", () => {
    expect(timeAtOffset(50, 200, 60)).toBe(15);
    expect(timeAtOffset(-10, 200, 60)).toBe(0);
    expect(timeAtOffset(250, 200, 60)).toBe(60);
    expect(timeAtOffset(10, 0, 60)).toBe(0);
  });

  it("moves the playhead with the slider's keys", () => {
    expect(sliderKey("ArrowRight", 10, 60)).toBe(15);
    expect(sliderKey("ArrowLeft", 3, 60)).toBe(0);
    expect(sliderKey("ArrowUp", 58, 60)).toBe(60);
    expect(sliderKey("PageDown", 40, 60)).toBe(10);
    expect(sliderKey("Home", 40, 60)).toBe(0);
    expect(sliderKey("End", 4, 60)).toBe(60);
    expect(sliderKey("a", 4, 60)).toBeNull();
  });
});

function c(id: string, timecode: number | null, extra: Partial<ReviewComment> = {}): ReviewComment {
  return { id, body: id, timecode, parentId: null, resolved: false, createdAt: `2025-01-01T00:00:0${id.length}Z`, ...extra };
}

describe("comments", () => {
  it("threads replies under their comment, orders by time, keeps orphans", () => {
    const list = [
      c("b", 10),
      c("a", 3),
      c("general", null),
      { ...c("r1", 3, { parentId: "a" }), createdAt: "2025-01-01T00:01:00Z" },
      { ...c("r0", null, { parentId: "a" }), createdAt: "2025-01-01T00:00:30Z" },
      { ...c("rr", null, { parentId: "r1" }), createdAt: "2025-01-01T00:02:00Z" },
      c("orphan", 5, { parentId: "gone" }),
    ];
    const result = threads(list);
    expect(result.map((t) => t.comment.id)).toEqual(["a", "orphan", "b", "general"]);
    expect(result[0]!.replies.map((r) => r.id)).toEqual(["r0", "r1", "rr"]);
  });

  it("picks the comment the playhead is at", () => {
    const list = [c("a", 3), c("b", 10), c("none", null)];
    expect(activeComment(list, 1)).toBeNull();
    expect(activeComment(list, 2.9)?.id).toBe("a");
    expect(activeComment(list, 9.5)?.id).toBe("a");
    expect(activeComment(list, 10)?.id).toBe("b");
    expect(activeComment(list, 100)?.id).toBe("b");
  });

  it("shortens bodies for marker labels", () => {
    expect(excerpt("  short\n text ")).toBe("short text");
    expect(excerpt("x".repeat(100), 10)).toBe("xxxxxxxxx…");
  });
});

describe("keyboard shortcut", () => {
  it("fires on C outside text fields and Alt+C anywhere", () => {
    const textarea = document.createElement("textarea");
    const button = document.createElement("button");
    const checkbox = Object.assign(document.createElement("input"), { type: "checkbox" });
    const text = document.createElement("input");
    const key = (k: string, target: EventTarget, mods: Partial<KeyboardEvent> = {}) =>
      isCommentShortcut({ key: k, code: "KeyC", altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, target, ...mods });
    expect(key("c", button)).toBe(true);
    expect(key("c", checkbox)).toBe(true);
    expect(key("c", textarea)).toBe(false);
    expect(key("c", text)).toBe(false);
    expect(key("ç", textarea, { altKey: true })).toBe(true);
    expect(key("c", button, { ctrlKey: true })).toBe(false);
    expect(key("C", button, { shiftKey: true })).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});
