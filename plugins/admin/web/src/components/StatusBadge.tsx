/** DRAFT / PUBLISHED / READY / FAILED ... as a badge whose colour is never the only cue (the word is shown). */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  return <span className={`badge badge-${status.toLowerCase()}`}>{status.toLowerCase()}</span>;
}
