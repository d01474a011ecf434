// /audit (admins): every change with who, what, when and the fields it changed. Filters (action, actor, target)
// live in the address, so "the audit trail of this source" is a link.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "urql";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { afterOf, MorePages, useCursorsFor } from "../../components/Pager";
import { TableHead, TableRegion } from "../../components/TableRegion";
import { Time } from "../../components/Time";
import { AuditEntriesDocument, type AuditEntriesQuery } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";
import { auditDiff } from "./diff";
import { auditFilter, type AuditFilters } from "./format";

const PAGE = 50;

/** The audit events the API records (cms.core.outbox.Event), offered as suggestions for the action filter. */
const ACTIONS = [
  "program.create",
  "program.update",
  "program.delete",
  "program.publish",
  "program.unpublish",
  "episode.create",
  "episode.update",
  "episode.delete",
  "episode.publish",
  "episode.unpublish",
  "comment.add",
  "comment.resolve",
  "comment.delete",
  "upload.create",
  "upload.complete",
  "asset.import",
  "source.create",
  "source.update",
  "source.delete",
  "source.run",
];

const ENTRY_COLUMNS = ["When", "Who", "What", "Target", "Changes"];
const DIFF_COLUMNS = ["Field", "Before", "After"];

type Entry = AuditEntriesQuery["auditEntries"]["edges"][number]["node"];

const PAGES_BY_TYPE: Record<string, string> = { Program: "/programs", Episode: "/episodes", Source: "/sources" };

interface Suggestions {
  /** The <datalist>'s id. */
  id: string;
  values: readonly string[];
}

const FILTERS: readonly { name: keyof AuditFilters; label: string; hint: string; suggestions?: Suggestions }[] = [
  { name: "action", label: "Action", hint: "e.g. source.create", suggestions: { id: "audit-actions", values: ACTIONS } },
  { name: "actor", label: "Actor (user id)", hint: "Pick a name below to fill it." },
  { name: "target", label: "Target (id)", hint: "A program's, episode's, source's... id." },
];

function filtersOf(params: URLSearchParams): AuditFilters {
  return { action: params.get("action") ?? "", actor: params.get("actor") ?? "", target: params.get("target") ?? "" };
}

/** One text filter of the form: an id or name, typed exactly (no spelling help, no autofill). */
function FilterInput({ label, hint, value, onChange, suggestions }: {
  label: string;
  hint: string;
  value: string;
  onChange: (value: string) => void;
  suggestions?: Suggestions | undefined;
}) {
  return (
    <Field label={label} hint={hint}>
      {(props) => (
        <>
          <input
            {...props}
            type="text"
            list={suggestions?.id}
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(event) => onChange(event.target.value)}
          />
          {suggestions ? (
            <datalist id={suggestions.id}>
              {suggestions.values.map((suggestion) => (
                <option key={suggestion} value={suggestion} />
              ))}
            </datalist>
          ) : null}
        </>
      )}
    </Field>
  );
}

export function Audit() {
  const [params, setParams] = useSearchParams();
  const applied = filtersOf(params);
  const [draft, setDraft] = useState<AuditFilters>(applied);
  // Paging starts over whenever the filters change (in the form or with the browser's back button).
  const key = params.toString();
  const [cursors, setCursors] = useCursorsFor(key);
  useEffect(() => setDraft(filtersOf(new URLSearchParams(key))), [key]);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AuditEntriesDocument,
    variables: { first: PAGE, after: afterOf(cursors), filter: auditFilter(applied) },
  });

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    for (const { name } of FILTERS) if (draft[name].trim()) next[name] = draft[name].trim();
    setParams(next);
  };

  const entries = data?.auditEntries.edges.map((edge) => edge.node) ?? [];
  const filtered = auditFilter(applied) !== null;
  return (
    <>
      <h1>Audit trail</h1>
      <form className="filters" role="search" aria-label="Filter the audit trail" onSubmit={apply}>
        {FILTERS.map(({ name, label, hint, suggestions }) => (
          <FilterInput
            key={name}
            label={label}
            hint={hint}
            value={draft[name]}
            onChange={(value) => setDraft({ ...draft, [name]: value })}
            suggestions={suggestions}
          />
        ))}
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          {filtered ? (
            <button type="button" onClick={() => setParams({})}>
              Clear filters
            </button>
          ) : null}
          <button type="button" onClick={() => reexecute({ requestPolicy: "network-only" })}>
            Refresh
          </button>
        </div>
      </form>
      {error ? <Notice kind="error">The audit trail could not be loaded: {transportMessage(error)}</Notice> : null}
      {fetching && !data ? <p role="status">Loading…</p> : null}
      {data ? (
        <p className="hint" role="status">
          {data.auditEntries.totalCount === 1 ? "1 entry" : `${data.auditEntries.totalCount.toLocaleString()} entries`}
          {filtered ? " match the filters" : ""}, newest first.
        </p>
      ) : null}
      {entries.length > 0 ? (
        <TableRegion label="Audit entries" className="audit" columns={ENTRY_COLUMNS}>
          {entries.map((entry) => (
            <AuditRow key={entry.id} entry={entry} />
          ))}
        </TableRegion>
      ) : null}
      <MorePages label="Audit pages" cursors={cursors} pageInfo={data?.auditEntries.pageInfo} onChange={setCursors} />
    </>
  );
}

function AuditRow({ entry }: { entry: Entry }) {
  const rows = auditDiff(entry.before, entry.after);
  const who = entry.actor?.displayName ?? entry.actorSubject ?? "System";
  const page = PAGES_BY_TYPE[entry.entityType];
  return (
    <tr>
      <th scope="row">
        <Time at={entry.at} />
      </th>
      <td dir="auto">
        {entry.actor ? (
          <Link to={`/audit?actor=${encodeURIComponent(entry.actor.id)}`} title={`Only the changes of ${who}`}>
            {who}
          </Link>
        ) : (
          who
        )}
      </td>
      <td>
        <code>{entry.action}</code>
      </td>
      <td>
        {entry.entityType}{" "}
        {page && !entry.action.endsWith(".delete") ? (
          <Link to={`${page}/${encodeURIComponent(entry.entityId)}`}>
            open<span className="visually-hidden"> {entry.entityType.toLowerCase()}</span>
          </Link>
        ) : null}{" "}
        <Link to={`/audit?target=${encodeURIComponent(entry.entityId)}`}>
          history<span className="visually-hidden"> of this {entry.entityType.toLowerCase()}</span>
        </Link>
      </td>
      <td>
        {rows.length === 0 ? (
          "—"
        ) : (
          <details>
            <summary>
              {rows.length} field{rows.length === 1 ? "" : "s"}{" "}
              {entry.before == null ? "set" : entry.after == null ? "removed" : "changed"}
            </summary>
            <table className="diff">
              <TableHead columns={DIFF_COLUMNS} />
              <tbody>
                {rows.map((row) => (
                  <tr key={row.field} className={`diff-${row.change}`}>
                    <th scope="row">
                      <code>{row.field}</code>
                    </th>
                    <td dir="auto">{row.before ?? <span className="muted">(none)</span>}</td>
                    <td dir="auto">{row.after ?? <span className="muted">(none)</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        )}
        {entry.requestId ? <small className="muted request-id">request {entry.requestId}</small> : null}
      </td>
    </tr>
  );
}
