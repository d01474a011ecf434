// Describing an asset and its renditions for people: durations, bitrates, sizes, what each rendition is.
import { bytes, timecode } from "./format";

/** Probe facts the API reports as JSON (see cms/media/probe.py); anything missing is left out. */
export interface ProbeFacts {
  duration: number | null;
  width: number | null;
  height: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

export function probeFacts(probe: unknown): ProbeFacts {
  const p = probe && typeof probe === "object" ? (probe as Record<string, unknown>) : {};
  return {
    duration: num(p.duration),
    width: num(p.width),
    height: num(p.height),
    videoCodec: str(p.video_codec),
    audioCodec: str(p.audio_codec),
  };
}

/** 2_500_000 -> "2.5 Mb/s", 96_000 -> "96 kb/s" (bits, as encoders and players count them). */
export function bitrate(bitsPerSecond: number | null | undefined): string {
  if (bitsPerSecond === null || bitsPerSecond === undefined || !Number.isFinite(bitsPerSecond)) return "—";
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(1)} Mb/s`;
  if (bitsPerSecond >= 1000) return `${Math.round(bitsPerSecond / 1000)} kb/s`;
  return `${Math.round(bitsPerSecond)} b/s`;
}

export function dimensions(width: number | null | undefined, height: number | null | undefined): string {
  return width && height ? `${width}×${height}` : "—";
}

/** A duration in seconds as a timecode, or a dash. */
export function duration(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined ? "—" : timecode(seconds);
}

/** Bytes (the API's BigInt arrives as a number or a decimal string) for people. */
export function size(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const count = typeof value === "string" ? Number(value) : value;
  return Number.isFinite(count) ? bytes(count) : "—";
}

const KIND_LABELS: Record<string, string> = {
  HLS_MASTER: "HLS master playlist",
  HLS_VARIANT: "HLS variant",
  POSTER: "Poster",
  THUMBNAILS: "Thumbnails",
  STORYBOARD: "Storyboard",
  IMAGE: "Image size",
};

export function renditionKind(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

const KIND_ORDER = Object.keys(KIND_LABELS);

/** Master first, then variants from the highest quality down, then artwork; stable otherwise. */
export function sortRenditions<T extends { kind: string; height: number | null; bitrate: number | null }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => {
    const byKind = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
    if (byKind !== 0) return byKind;
    return (b.height ?? 0) - (a.height ?? 0) || (b.bitrate ?? 0) - (a.bitrate ?? 0);
  });
}

/** "transcode 45%" for a processing stage, or the stage alone when there is no percent yet. */
export function stageText(stage: string | null | undefined, percent: number | null | undefined): string {
  if (!stage) return "";
  return percent !== null && percent !== undefined && percent > 0 ? `${stage} ${Math.round(percent)}%` : stage;
}
