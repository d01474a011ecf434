// Running a source now, and the words for its runs and schedule.
import { useCallback, useEffect, useRef } from "react";
import { useMutation } from "urql";
import { RunSourceDocument } from "../../gql/graphql";
import type { Outcome } from "../../components/Notice";
import { problemOf, transportMessage } from "../../lib/results";

/** runSource: the request is queued for the worker, which starts the run within moments. */
export function useRunSource(): (id: string, name: string) => Promise<Outcome> {
  const [, run] = useMutation(RunSourceDocument);
  return useCallback(
    async (id: string, name: string) => {
      const result = await run({ id });
      if (result.error) return { ok: false, message: `“${name}” was not run: ${transportMessage(result.error)}` };
      const problem = problemOf(result.data?.runSource);
      if (problem) {
        const detail = Object.values(problem.fields)[0] ?? problem.message;
        return { ok: false, message: `“${name}” was not run: ${detail}` };
      }
      return { ok: true, message: `Run of “${name}” started: the worker picks it up within moments.` };
    },
    [run],
  );
}

/** "every 60 minutes", "every 2 hours", "only when asked", "paused". */
export function scheduleText(minutes: number | null | undefined, enabled = true): string {
  if (minutes == null) return "Only when asked";
  const every =
    minutes % 1440 === 0
      ? `${minutes / 1440} day${minutes === 1440 ? "" : "s"}`
      : minutes % 60 === 0
        ? `${minutes / 60} hour${minutes === 60 ? "" : "s"}`
        : `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return enabled ? `Every ${every}` : `Paused (every ${every})`;
}

/** Run counts in words: "3 new, 1 updated, 0 failed". */
export function runCounts(run: { created: number; updated: number; failed: number }): string {
  return `${run.created} new, ${run.updated} updated, ${run.failed} failed`;
}

/** Calls `tick` every `ms` while `active`. */
export function usePolling(active: boolean, tick: () => void, ms: number) {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => latest.current(), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
}
