import { StatusBadge } from "../../components/StatusBadge";
import { Time } from "../../components/Time";

/** A source's last run: how it went and when it started, or "Never". */
export function LastRun({ run }: { run: { status: string; startedAt: string } | null | undefined }) {
  return run ? (
    <>
      <StatusBadge status={run.status} /> <Time at={run.startedAt} />
    </>
  ) : (
    <>Never</>
  );
}
