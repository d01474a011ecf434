// /audit (admins): every change with who, what, when and the fields it changed. Filters (action, actor, target)
// live in the address, so "the audit trail of this source" is a link.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery } from "urql";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { afterOf, Pager } from "../../components/Pager";
import { AuditEntriesDocument, type AuditEntriesQuery } from "../../gql/graphql";
import { dateTime } from "../../lib/format";
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

type Entry = AuditEntriesQuery["auditEntries"]["edges"][number]["node"];

const PAGES_BY_TYPE: Record<string, string> = { Program: "/programs", Episode: "/episodes", Source: "/sources" };

function filtersOf(params: URLSearchParams): AuditFilters {
  return { action: params.get("action") ?? "", actor: params.get("actor") ?? "", target: params.get("target") ?? "" };
}

export function Audit() {
  const [params, setParams] = useSearchParams();
  const applied = filtersOf(params);
  const [draft, setDraft] = useState<AuditFilters>(applied);
  // Paging starts over whenever the filters change (in the form or with the browser's back button).
  const key = params.toString();
  const [paging, setPaging] = useState<{ key: string; cursors: (string | null)[] }>({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const setCursors = (next: (string | null)[]) => setPaging({ key, cursors: next });
  useEffect(() => setDraft(filtersOf(new URLSearchParams(key))), [key]);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AuditEntriesDocument,
    variables: { first: PAGE, after: afterOf(cursors), filter: auditFilter(applied) },
  });

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next: Record<string, string> = {};
    if (draft.action.trim()) next.action = draft.action.trim();
    if (draft.actor.trim()) next.actor = draft.actor.trim();
    if (draft.target.trim()) next.target = draft.target.trim();
    setParams(next);
  };

  const entries = data?.auditEntries.edges.map((edge) => edge.node) ?? [];
  const filtered = auditFilter(applied) !== null;
  return (
    <>
      <h1>Audit trail</h1>
      <form className="filters" role="search" aria-label="Filter the audit trail" onSubmit={apply}>
        <Field label="Action" hint="e.g. source.create">
          {(props) => (
            <>
              <input
                {...props}
                type="text"
                list="audit-actions"
                autoComplete="off"
                spellCheck={false}
                value={draft.action}
                onChange={(event) => setDraft({ ...draft, action: event.target.value })}
              />
              <datalist id="audit-actions">
                {ACTIONS.map((action) => (
                  <option key={action} value={action} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Actor (user id)" hint="Pick a name below to fill it.">
          {(props) => (
            <input
              {...props}
              type="text"
              autoComplete="off"
              spellCheck={false}
              value={draft.actor}
              onChange={(event) => setDraft({ ...draft, actor: event.target.value })}
            />
          )}
        </Field>
        <Field label="Target (id)" hint="A program's, episode's, source's... id.">
          {(props) => (
            <input
              {...props}
              type="text"
              autoComplete="off"
              spellCheck={false}
              value={draft.target}
              onChange={(event) => setDraft({ ...draft, target: event.target.value })}
            />
          )}
        </Field>
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
        <div className="table-wrap" role="region" aria-label="Audit entries" tabIndex={0}>
          <table className="audit">
            <caption className="visually-hidden">Audit entries</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Target</th>
                <th scope="col">Changes</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <AuditRow key={entry.id} entry={entry} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {data && (data.auditEntries.pageInfo.hasNextPage || cursors.length > 1) ? (
        <Pager
          label="Audit pages"
          cursors={cursors}
          hasNextPage={data.auditEntries.pageInfo.hasNextPage}
          endCursor={data.auditEntries.pageInfo.endCursor}
          onChange={setCursors}
        />
      ) : null}
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
        <time dateTime={entry.at}>{dateTime(entry.at)}</time>
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
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
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
