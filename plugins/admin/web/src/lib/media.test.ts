import { describe, expect, it } from "vitest";
import { bitrate, dimensions, duration, probeFacts, renditionKind, size, sortRenditions, stageText } from "./media";

describe("media descriptions", () => {
  it("reads probe facts defensively", () => {
    expect(probeFacts({ duration: 12.5, width: 1280, height: 720, video_codec: "h264", audio_codec: "aac" })).toEqual({
      duration: 12.5,
      width: 1280,
      height: 720,
      videoCodec: "h264",
      audioCodec: "aac",
    });
    expect(probeFacts(null)).toEqual({ duration: null, width: null, height: null, videoCodec: null, audioCodec: null });
    expect(probeFacts({ duration: "12" }).duration).toBeNull();
  });

  it("formats bitrates, dimensions, durations and sizes", () => {
    expect(bitrate(2_500_000)).toBe("2.5 Mb/s");
    expect(bitrate(96_000)).toBe("96 kb/s");
    expect(bitrate(null)).toBe("—");
    expect(dimensions(1280, 720)).toBe("1280×720");
    expect(dimensions(null, 720)).toBe("—");
    expect(duration(63.4)).toBe("01:03");
    expect(duration(null)).toBe("—");
    expect(size("2048")).toBe("2.0 KB");
    expect(size(null)).toBe("—");
  });

  it("orders renditions: master, variants best first, then artwork", () => {
    const list = [
      { kind: "POSTER", height: 720, bitrate: null, name: "poster" },
      { kind: "HLS_VARIANT", height: 360, bitrate: 800_000, name: "360p" },
      { kind: "HLS_VARIANT", height: 720, bitrate: 2_500_000, name: "720p" },
      { kind: "HLS_MASTER", height: null, bitrate: null, name: "master" },
    ];
    expect(sortRenditions(list).map((r) => r.name)).toEqual(["master", "720p", "360p", "poster"]);
    expect(renditionKind("HLS_VARIANT")).toBe("HLS variant");
    expect(renditionKind("SOMETHING_NEW")).toBe("SOMETHING_NEW");
  });

  it("describes a processing stage", () => {
    expect(stageText("transcode", 45.4)).toBe("transcode 45%");
    expect(stageText("persist", 0)).toBe("persist");
    expect(stageText(null, 10)).toBe("");
  });
});
