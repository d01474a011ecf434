// A `datetime-local` input speaks the editor's wall-clock time; the API stores UTC instants.

/** "2026-12-24T18:30" in the browser's time zone -> "2026-12-24T17:30:00.000Z"; null for an empty or bad value. */
export function localInputToUtc(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  const date = new Date(value); // no offset in the string: parsed as local time
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A UTC instant -> the `datetime-local` value for the browser's time zone ("" when absent). */
export function utcToLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** The editor's time zone name, shown beside the picker ("Europe/Berlin"). */
export function timeZoneName(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}
