// /sources: the ingest sources, newest first, with their last run and next run; "Run now" per row.
import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router-dom";
import { useQuery } from "urql";
import { Notice } from "../../components/Notice";
import { afterOf, Pager } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { AdminSourcesDocument } from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import { transportMessage } from "../../lib/results";
import { kindLabel } from "./config";
import { programTitle, useProgramOptions } from "./programs";
import { scheduleText, usePolling, useRunSource, type RunOutcome } from "./runs";

const PAGE = 25;
const WATCH_MS = 60_000;

export function SourceList() {
  const location = useLocation();
  const arrived = (location.state as { notice?: string } | null)?.notice ?? null;
  const heading = useRef<HTMLHeadingElement>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AdminSourcesDocument,
    variables: { first: PAGE, after: afterOf(cursors) },
  });
  const programs = useProgramOptions();
  const runSource = useRunSource();
  const [outcome, setOutcome] = useState<RunOutcome | null>(null);
  const [watchUntil, setWatchUntil] = useState(0);

  useEffect(() => {
    if (arrived) heading.current?.focus();
  }, [arrived]);

  const sources = data?.sources.edges.map((edge) => edge.node) ?? [];
  const running = sources.some((source) => source.lastRun?.status === "RUNNING");
  usePolling(running || watchUntil > Date.now(), () => reexecute({ requestPolicy: "network-only" }), 3000);

  const run = async (id: string, name: string) => {
    setOutcome(null);
    const result = await runSource(id, name);
    setOutcome(result);
    if (result.ok) {
      setWatchUntil(Date.now() + WATCH_MS);
      reexecute({ requestPolicy: "network-only" });
    }
  };

  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Sources
      </h1>
      <p className="hint">Feeds, channels and playlists the worker brings episodes in from.</p>
      <div className="toolbar">
        <Link to="/sources/new" className="button primary">
          New source
        </Link>
      </div>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
      <div aria-live="polite" role="status" className="run-outcome">
        {outcome?.ok ? outcome.message : null}
      </div>
      {outcome && !outcome.ok ? <Notice kind="error">{outcome.message}</Notice> : null}
      {error ? <Notice kind="error">The sources could not be loaded: {transportMessage(error)}</Notice> : null}
      {fetching && !data ? <p role="status">Loading…</p> : null}
      {data && sources.length === 0 && cursors.length === 1 ? (
        <p>
          No sources yet. <Link to="/sources/new">Add the first one</Link>.
        </p>
      ) : null}
      {sources.length > 0 ? (
        <div className="table-wrap" role="region" aria-label="Ingest sources" tabIndex={0}>
          <table>
            <caption className="visually-hidden">Ingest sources</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Program</th>
                <th scope="col">Schedule</th>
                <th scope="col">Last run</th>
                <th scope="col">Next run</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sources.map((source) => (
                <tr key={source.id}>
                  <th scope="row">
                    <Link to={`/sources/${encodeURIComponent(source.id)}`} dir="auto">
                      {source.name}
                    </Link>
                  </th>
                  <td>
                    <span title={kindLabel(source.kind)}>{source.kind}</span>
                  </td>
                  <td dir="auto">{programTitle(programs.programs, source.programId)}</td>
                  <td>{scheduleText(source.scheduleMinutes, source.enabled)}</td>
                  <td>
                    {source.lastRun ? (
                      <>
                        <StatusBadge status={source.lastRun.status} />{" "}
                        <time dateTime={source.lastRun.startedAt}>{dateTime(source.lastRun.startedAt)}</time>
                      </>
                    ) : (
                      "Never"
                    )}
                  </td>
                  <td>{source.nextRunAt ? <time dateTime={source.nextRunAt}>{dateTime(source.nextRunAt)}</time> : "—"}</td>
                  <td>
                    <button type="button" onClick={() => void run(source.id, source.name)}>
                      Run now<span className="visually-hidden">: {source.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {data && (data.sources.pageInfo.hasNextPage || cursors.length > 1) ? (
        <Pager
          label="Source pages"
          cursors={cursors}
          hasNextPage={data.sources.pageInfo.hasNextPage}
          endCursor={data.sources.pageInfo.endCursor}
          onChange={setCursors}
        />
      ) : null}
    </>
  );
}
