// Upload progress as people read it: bytes sent of the total, a speed averaged over the last few seconds (so one
// slow or fast progress event does not make the numbers jump) and the time left at that speed.
import { bytes } from "./format";

/** Bytes sent so far at a moment (milliseconds, any monotonic clock). */
export interface Sample {
  at: number;
  loaded: number;
}

export const SPEED_WINDOW_MS = 5000;

/**
 * Adds a sample and drops those older than the window (keeping one just outside it, so the window stays full).
 * Bytes going backwards mean a part or the whole body started again: the history no longer describes the
 * transfer, so it starts over from the new sample.
 */
export function addSample(samples: readonly Sample[], next: Sample, windowMs: number = SPEED_WINDOW_MS): Sample[] {
  const last = samples[samples.length - 1];
  if (last && (next.loaded < last.loaded || next.at < last.at)) return [next];
  const kept = [...samples, next];
  let first = 0;
  while (first < kept.length - 2 && kept[first + 1]!.at <= next.at - windowMs) first += 1;
  return kept.slice(first);
}

/** Bytes per second over the samples' span; null until there is at least half a second to judge by. */
export function averageSpeed(samples: readonly Sample[], minSpanMs = 500): number | null {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || last.at - first.at < minSpanMs) return null;
  return ((last.loaded - first.loaded) * 1000) / (last.at - first.at);
}

/** Seconds left at `speed`; null when unknown or stalled (no promise of a time is better than a wrong one). */
export function secondsLeft(loaded: number, total: number, speed: number | null): number | null {
  if (speed === null || !Number.isFinite(speed) || speed <= 0) return null;
  return Math.max(0, total - loaded) / speed;
}

/** 1_500_000 -> "1.4 MB/s". */
export function formatSpeed(bytesPerSecond: number): string {
  return `${bytes(Math.round(bytesPerSecond))}/s`;
}

/** 7.2 -> "8 s", 185 -> "3 min 5 s", 1250 -> "21 min", 7300 -> "2 h 2 min". */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${Math.max(1, s)} s`;
  if (s < 600) {
    const rest = s % 60;
    return rest > 0 ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  // Seconds dropped from a longer time round the minutes up: the end should never be promised early.
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m > 0 ? `${h} h ${m} min` : `${h} h`;
}

/** "3.2 MB of 10 MB · 1.1 MB/s · 7 s left": what an editor watching the bar wants to know. */
export function describeProgress(loaded: number, total: number, speed: number | null): string {
  const parts = [`${bytes(loaded)} of ${bytes(total)}`];
  if (speed !== null && speed > 0) parts.push(formatSpeed(speed));
  const left = secondsLeft(loaded, total, speed);
  if (left !== null && loaded < total) parts.push(`${formatDuration(left)} left`);
  return parts.join(" · ");
}

/** Whole percent for a label, never 100 before every byte is sent. */
export function percent(loaded: number, total: number): number {
  if (total <= 0) return 0;
  const value = Math.floor((loaded / total) * 100);
  return loaded < total ? Math.min(99, value) : 100;
}
