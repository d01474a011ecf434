// The program and episode lists' shared parts: state in the URL, the search and filter bar, row selection and the
// bulk publish bar.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import { useClient } from "urql";
import type { DocumentNode } from "graphql";
import type { OrderDirection, PublishStatus, SearchOrder } from "../../gql/graphql";
import { Field, SelectField, type Choice } from "../Field";
import { Notice } from "../Notice";
import {
  changeList,
  isSearching,
  listStateToParams,
  parseListState,
  STATUSES,
  type ListOptions,
  type ListState,
} from "../../lib/listState";
import { batchDocument, batchOutcomes, batchVariables, summariseBulk, type BulkSummary } from "../../lib/bulk";

/** The list state from the URL, and a setter that writes it back (a new history entry unless `replace`). */
export function useListState<F extends string>(options: ListOptions<F>) {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  // `options` must be a constant of the page (it is not a dependency that changes).
  const state = useMemo(() => parseListState(new URLSearchParams(key), options), [key, options]);
  const update = useCallback(
    (next: ListState<F>, how: { replace?: boolean } = {}) => {
      setParams(listStateToParams(next, options), { replace: how.replace ?? false });
    },
    [setParams, options],
  );
  return [state, update] as const;
}

/** A text input that commits after a pause in typing (or at once on Enter), and follows outside changes (Back). */
function TextFilter(props: {
  label: string;
  value: string;
  onCommit: (value: string) => void;
  type?: "search" | "text";
  hint?: string;
  placeholder?: string;
}) {
  const { value, onCommit } = props;
  const [text, setText] = useState(value);
  const committed = useRef(value);
  useEffect(() => {
    if (value !== committed.current) {
      committed.current = value;
      setText(value);
    }
  }, [value]);
  useEffect(() => {
    if (text === committed.current) return;
    const timer = window.setTimeout(() => {
      committed.current = text;
      onCommit(text);
    }, 400);
    return () => window.clearTimeout(timer);
  }, [text, onCommit]);
  return (
    <Field label={props.label} hint={props.hint}>
      {(field) => (
        <input
          {...field}
          type={props.type ?? "text"}
          dir="auto"
          value={text}
          placeholder={props.placeholder}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && text !== committed.current) {
              event.preventDefault();
              committed.current = text;
              onCommit(text);
            }
          }}
        />
      )}
    </Field>
  );
}

const STATUS_CHOICES: readonly Choice<PublishStatus | "">[] = [
  { value: "", label: "Any status" },
  ...STATUSES.map((status) => ({ value: status, label: status.charAt(0) + status.slice(1).toLowerCase() })),
];
const ORDER_CHOICES: readonly Choice<SearchOrder>[] = [
  { value: "RELEVANCE", label: "Relevance" },
  { value: "DATE", label: "Newest" },
];
const DIRECTION_CHOICES: readonly Choice<OrderDirection>[] = [
  { value: "ASC", label: "Ascending" },
  { value: "DESC", label: "Descending" },
];

interface ListFiltersProps<F extends string> {
  state: ListState<F>;
  onChange: (next: ListState<F>, how?: { replace?: boolean }) => void;
  sorts: readonly Choice<F>[];
  /** Status filtering: editors only (others see published items only). */
  showStatus: boolean;
  /** The episode list's program picker. */
  programs?: { options: readonly { id: string; title: string }[]; more: boolean };
}

export function ListFilters<F extends string>({ state, onChange, sorts, showStatus, programs }: ListFiltersProps<F>) {
  const searching = isSearching(state);
  // New only when the state changes, so the debounced inputs do not restart their timers on every render.
  const commits = useMemo(() => {
    // Starting to type adds a history entry (Back returns to the list as it was); refining the text replaces it.
    const text = (key: "q" | "category" | "language" | "tags") => (value: string) =>
      onChange(changeList(state, { [key]: value }), { replace: state[key] !== "" });
    return { q: text("q"), category: text("category"), language: text("language"), tags: text("tags") };
  }, [state, onChange]);
  const filtered = state.status !== null || [state.q, state.category, state.language, state.tags, state.program].some(Boolean);
  const onSubmit = (event: FormEvent) => event.preventDefault();
  return (
    <form className="filters" role="search" aria-label="List filters" onSubmit={onSubmit}>
      <TextFilter label="Search" type="search" value={state.q} onCommit={commits.q} />
      {showStatus ? (
        <SelectField
          label="Status"
          hint={searching ? "Not applied to search results" : undefined}
          value={state.status ?? ""}
          choices={STATUS_CHOICES}
          disabled={searching}
          onChange={(value) => onChange(changeList(state, { status: value || null }))}
        />
      ) : null}
      {programs ? (
        <Field label="Program" hint={programs.more ? "The first programs by title" : undefined}>
          {(field) => (
            <select
              {...field}
              value={state.program}
              onChange={(event) => onChange(changeList(state, { program: event.target.value }))}
            >
              <option value="">All programs</option>
              {state.program && !programs.options.some((p) => p.id === state.program) ? (
                <option value={state.program}>(the chosen program)</option>
              ) : null}
              {programs.options.map((program) => (
                <option key={program.id} value={program.id} dir="auto">
                  {program.title}
                </option>
              ))}
            </select>
          )}
        </Field>
      ) : null}
      <TextFilter label="Category" value={state.category} onCommit={commits.category} />
      <TextFilter label="Language" value={state.language} onCommit={commits.language} placeholder="e.g. en, fa-IR" />
      <TextFilter label="Tags" value={state.tags} onCommit={commits.tags} hint="Comma separated; all must match" />
      {searching ? (
        <SelectField
          label="Sort by"
          value={state.order}
          choices={ORDER_CHOICES}
          onChange={(order) => onChange(changeList(state, { order }))}
        />
      ) : (
        <>
          <SelectField label="Sort by" value={state.sort} choices={sorts} onChange={(sort) => onChange(changeList(state, { sort }))} />
          <SelectField label="Direction" value={state.dir} choices={DIRECTION_CHOICES} onChange={(dir) => onChange(changeList(state, { dir }))} />
        </>
      )}
      {filtered ? (
        <div className="field">
          <button
            type="button"
            onClick={() => onChange(changeList(state, { q: "", status: null, category: "", language: "", tags: "", program: "" }))}
          >
            Clear filters
          </button>
        </div>
      ) : null}
    </form>
  );
}

/** Which rows are ticked; ids no longer on the page drop out. */
export function useSelection(ids: readonly string[]) {
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const key = ids.join(" ");
  // Another page (or a changed one): ticks on rows no longer shown are dropped, not kept for later.
  useEffect(() => {
    const shown = new Set(key.split(" "));
    setChosen((current) => {
      const kept = [...current].filter((id) => shown.has(id));
      return kept.length === current.size ? current : new Set(kept);
    });
  }, [key]);
  const selected = ids.filter((id) => chosen.has(id));
  const all = ids.length > 0 && selected.length === ids.length;
  return {
    selected,
    all,
    some: selected.length > 0 && !all,
    has: (id: string) => chosen.has(id),
    toggle: (id: string) =>
      setChosen((current) => {
        const next = new Set(current);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    toggleAll: () => setChosen(all ? new Set() : new Set(ids)),
    /** Keep just these ticked (after a bulk action: the items that failed, ready to retry). */
    keep: (kept: readonly string[]) => setChosen(new Set(kept)),
  };
}

/** "Select all on this page": checked, unchecked or mixed. */
export function SelectAll({ all, some, onToggle }: { all: boolean; some: boolean; onToggle: () => void }) {
  const box = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (box.current) box.current.indeterminate = some;
  }, [some]);
  return <input ref={box} type="checkbox" aria-label="Select all on this page" checked={all} onChange={onToggle} />;
}

interface BulkBarProps {
  selected: readonly string[];
  publish: DocumentNode;
  unpublish: DocumentNode;
  noun: [string, string];
  titleOf: (id: string) => string;
  /** Called with the ids that failed (none when all went through). */
  onSettled: (failed: string[]) => void;
}

/** Publish / unpublish the ticked rows: one request, one mutation per row, each row's failure reported. */
export function BulkBar({ selected, publish, unpublish, noun, titleOf, onSettled }: BulkBarProps) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [summary, setSummary] = useState<BulkSummary | null>(null);
  const run = async (document: DocumentNode, verb: string) => {
    const ids = [...selected];
    setBusy(true);
    setSummary(null);
    try {
      const answer = await client
        .mutation<Record<string, unknown>>(batchDocument(document, ids.length), batchVariables(ids.map((id) => ({ id }))))
        .toPromise();
      const outcomes = batchOutcomes(ids, answer);
      setSummary(summariseBulk(outcomes, verb, noun, titleOf));
      onSettled(outcomes.filter((outcome) => !outcome.ok).map((outcome) => outcome.id));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="bulk-bar">
      <div className="toolbar" role="group" aria-label="Bulk actions">
        <span className="bulk-count">{selected.length} selected</span>
        <button type="button" disabled={busy || selected.length === 0} onClick={() => void run(publish, "Published")}>
          Publish selected
        </button>
        <button type="button" disabled={busy || selected.length === 0} onClick={() => void run(unpublish, "Unpublished")}>
          Unpublish selected
        </button>
      </div>
      {busy ? <p role="status">Working…</p> : null}
      {summary ? (
        <Notice kind={summary.ok ? "success" : "error"}>
          {summary.text}
          {summary.failures.length ? (
            <ul className="bulk-failures">
              {summary.failures.map((line) => (
                <li key={line} dir="auto">
                  {line}
                </li>
              ))}
            </ul>
          ) : null}
        </Notice>
      ) : null}
    </div>
  );
}
