// Cursor paging: the API gives an end cursor; going back keeps the cursors already seen.
interface PagerProps {
  cursors: readonly (string | null)[];
  hasNextPage: boolean;
  endCursor: string | null | undefined;
  onChange: (cursors: (string | null)[]) => void;
  label?: string;
}

export function Pager({ cursors, hasNextPage, endCursor, onChange, label = "Pages" }: PagerProps) {
  const page = cursors.length;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={page <= 1} onClick={() => onChange(cursors.slice(0, -1))}>
        Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button
        type="button"
        disabled={!hasNextPage || !endCursor}
        onClick={() => endCursor && onChange([...cursors, endCursor])}
      >
        Next
      </button>
    </nav>
  );
}

/** The `after` argument for the page the cursors describe (the first page has none). */
export function afterOf(cursors: readonly (string | null)[]): string | null {
  return cursors[cursors.length - 1] ?? null;
}
