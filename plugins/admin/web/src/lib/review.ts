// The review page's pure logic: storyboard WebVTT parsing, where markers sit on the timeline, which comment the
// playhead is at, threading replies, and the timeline slider's keys.

/** One storyboard tile: a time range and the rectangle of its sprite sheet (`sheet-1.jpg#xywh=x,y,w,h`). */
export interface StoryboardCue {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** "00:01:02.500" or "01:02.500" -> 62.5; null when it is not a WebVTT timestamp. */
export function vttTime(text: string): number | null {
  const match = /^(?:(\d+):)?(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!match) return null;
  const [, h, m, s, ms] = match;
  return Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s) + (ms ? Number(ms.padEnd(3, "0")) / 1000 : 0);
}

/**
 * The cues of a storyboard WebVTT (cms/media/transcode/artwork.py writes one cue per tile). Sheet references are
 * resolved against the VTT's own URL: the edge signs the whole folder, so relative sheets inherit its token.
 */
export function parseStoryboard(vtt: string, baseUrl: string): StoryboardCue[] {
  const cues: StoryboardCue[] = [];
  const lines = vtt.replace(/\r\n?/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i += 1) {
    const arrow = lines[i]!.indexOf("-->");
    if (arrow < 0) continue;
    const start = vttTime(lines[i]!.slice(0, arrow));
    const end = vttTime(lines[i]!.slice(arrow + 3).trim().split(/\s+/)[0] ?? "");
    const payload = (lines[i + 1] ?? "").trim();
    const hash = payload.lastIndexOf("#xywh=");
    if (start === null || end === null || hash < 0) continue;
    const rect = payload.slice(hash + 6).split(",").map(Number);
    if (rect.length !== 4 || rect.some((n) => !Number.isFinite(n) || n < 0)) continue;
    let url: string;
    try {
      url = new URL(payload.slice(0, hash), baseUrl).href;
    } catch {
      continue;
    }
    const [x, y, w, h] = rect as [number, number, number, number];
    cues.push({ start, end, url, x, y, w, h });
    i += 1;
  }
  return cues.sort((a, b) => a.start - b.start);
}

/** The tile for time `t` (the last cue also covers its end). */
export function cueAt(cues: readonly StoryboardCue[], t: number): StoryboardCue | null {
  let low = 0;
  let high = cues.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const cue = cues[mid]!;
    if (t < cue.start) high = mid - 1;
    else if (t >= cue.end && !(mid === cues.length - 1 && t === cue.end)) low = mid + 1;
    else return cue;
  }
  return null;
}

/** Percent along the timeline (0..100), or null while the duration is unknown. */
export function markerPosition(timecode: number, duration: number | null | undefined): number | null {
  if (!duration || !Number.isFinite(duration) || duration <= 0) return null;
  return Math.min(100, Math.max(0, (timecode / duration) * 100));
}

/** The time at a point of the track (`x` from its start, `width` its length). */
export function timeAtOffset(x: number, width: number, duration: number): number {
  if (width <= 0 || !Number.isFinite(duration) || duration <= 0) return 0;
  return Math.min(duration, Math.max(0, (x / width) * duration));
}

export interface ReviewComment {
  id: string;
  body: string;
  timecode: number | null;
  parentId: string | null;
  resolved: boolean;
  createdAt: string;
}

export interface Thread<C extends ReviewComment> {
  comment: C;
  replies: C[];
}

/**
 * Top-level comments in timeline order (those without a timecode last), each with its replies oldest first.
 * A reply whose parent is not in the list (deleted, or on a page not loaded) stands on its own.
 */
export function threads<C extends ReviewComment>(comments: readonly C[]): Thread<C>[] {
  const ids = new Set(comments.map((c) => c.id));
  const byParent = new Map<string, C[]>();
  const roots: C[] = [];
  for (const comment of comments) {
    if (comment.parentId && ids.has(comment.parentId) && comment.parentId !== comment.id) {
      const list = byParent.get(comment.parentId) ?? [];
      list.push(comment);
      byParent.set(comment.parentId, list);
    } else roots.push(comment);
  }
  const order = (a: C, b: C) => {
    if (a.timecode !== b.timecode) {
      if (a.timecode === null) return 1;
      if (b.timecode === null) return -1;
      return a.timecode - b.timecode;
    }
    return a.createdAt.localeCompare(b.createdAt);
  };
  // Replies of replies join their thread's root: one level of nesting reads best beside a player.
  const collect = (id: string): C[] => (byParent.get(id) ?? []).flatMap((reply) => [reply, ...collect(reply.id)]);
  return roots
    .sort(order)
    .map((comment) => ({ comment, replies: collect(comment.id).sort((a, b) => a.createdAt.localeCompare(b.createdAt)) }));
}

/** The comment the playhead is at: the last one (by timecode) at or before `t`, with a little slack for seeks. */
export function activeComment<C extends ReviewComment>(comments: readonly C[], t: number, slack = 0.25): C | null {
  let best: C | null = null;
  for (const comment of comments) {
    if (comment.timecode === null || comment.timecode > t + slack) continue;
    if (best === null || comment.timecode > best.timecode!) best = comment;
  }
  return best;
}

export const SEEK_STEP = 5;
export const SEEK_PAGE = 30;

/** Where a key on the timeline slider moves the playhead; null for keys it does not handle. */
export function sliderKey(key: string, current: number, duration: number): number | null {
  const clamp = (t: number) => Math.min(Math.max(0, duration || 0), Math.max(0, t));
  switch (key) {
    case "ArrowRight":
    case "ArrowUp":
      return clamp(current + SEEK_STEP);
    case "ArrowLeft":
    case "ArrowDown":
      return clamp(current - SEEK_STEP);
    case "PageUp":
      return clamp(current + SEEK_PAGE);
    case "PageDown":
      return clamp(current - SEEK_PAGE);
    case "Home":
      return 0;
    case "End":
      return clamp(duration);
    default:
      return null;
  }
}

/** True when a key press belongs to what the person is typing (a single-letter shortcut must not fire). */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== "function") return false;
  const element = target as HTMLElement;
  if (element.isContentEditable) return true;
  const field = element.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  if (!field) return false;
  if (field instanceof HTMLInputElement) {
    return !["button", "checkbox", "radio", "range", "reset", "submit", "file", "color", "image"].includes(field.type);
  }
  return true;
}

/** Whether a key press is the "comment here" shortcut: C outside text fields, or Alt+C anywhere. */
export function isCommentShortcut(event: Pick<KeyboardEvent, "key" | "code" | "altKey" | "ctrlKey" | "metaKey" | "shiftKey" | "target">): boolean {
  if (event.ctrlKey || event.metaKey) return false;
  if (event.altKey) return event.code === "KeyC";
  return (event.key === "c" || event.key === "C") && !event.shiftKey && !isTypingTarget(event.target);
}

/** A comment body shortened for a marker's label. */
export function excerpt(body: string, max = 80): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}
