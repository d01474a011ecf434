import type { ReactNode } from "react";

/** A message for the whole page or form: errors interrupt (alert), the rest wait their turn (status). */
export function Notice({ kind = "info", children }: { kind?: "info" | "error" | "success"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** What an action came to, in a sentence. */
export interface Outcome {
  ok: boolean;
  message: string;
}

/**
 * News after an action: `status` goes to a live region that is always there (so what appears in it is read out),
 * `problem` to an alert.
 */
export function Announcement({ status, problem, className }: { status: string | null; problem: string | null; className?: string }) {
  return (
    <>
      <div role="status" className={className}>
        {status}
      </div>
      {problem ? <Notice kind="error">{problem}</Notice> : null}
    </>
  );
}

/** An outcome announced: told when the action worked, an alert when it failed. */
export function OutcomeNotice({ outcome, className }: { outcome: Outcome | null; className?: string }) {
  const worked = outcome?.ok ? outcome.message : null;
  const failed = outcome && !outcome.ok ? outcome.message : null;
  return <Announcement status={worked} problem={failed} className={className} />;
}
