// Cursor paging: the API gives an end cursor; going back keeps the cursors already seen.
import { useState } from "react";

export type Cursors = (string | null)[];

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

interface PagerProps {
  cursors: readonly (string | null)[];
  /** The shown page's; none while it loads (Next is then disabled). */
  pageInfo: PageInfo | null | undefined;
  onChange: (cursors: Cursors) => void;
  label?: string;
}

export function Pager({ cursors, pageInfo, onChange, label = "Pages" }: PagerProps) {
  const page = cursors.length;
  const endCursor = pageInfo?.endCursor;
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={page <= 1} onClick={() => onChange(cursors.slice(0, -1))}>
        Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button
        type="button"
        disabled={!pageInfo?.hasNextPage || !endCursor}
        onClick={() => endCursor && onChange([...cursors, endCursor])}
      >
        Next
      </button>
    </nav>
  );
}

/** The pager only where there is more than one page: a next one, or pages already passed. */
export function MorePages(props: PagerProps) {
  const { pageInfo, cursors } = props;
  return pageInfo && (pageInfo.hasNextPage || cursors.length > 1) ? <Pager {...props} /> : null;
}

/** The `after` argument for the page the cursors describe (the first page has none). */
export function afterOf(cursors: readonly (string | null)[]): string | null {
  return cursors[cursors.length - 1] ?? null;
}

/** Pager cursors that start over at the first page whenever `key` (the list's filters) changes. */
export function useCursorsFor(key: string): [Cursors, (next: Cursors) => void] {
  const [paging, setPaging] = useState<{ key: string; cursors: Cursors }>({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  return [cursors, (next) => setPaging({ key, cursors: next })];
}
