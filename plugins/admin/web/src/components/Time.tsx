import { dateTime } from "../lib/format";

/** A moment in the reader's date and time (machine-readable in `dateTime`); a dash when there is none. */
export function Time({ at }: { at: string | null | undefined }) {
  return at ? <time dateTime={at}>{dateTime(at)}</time> : <>—</>;
}
