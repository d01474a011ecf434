// /sources: the ingest sources, newest first, with their last run and next run; "Run now" per row.
import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router-dom";
import { useQuery } from "urql";
import { Notice, OutcomeNotice, type Outcome } from "../../components/Notice";
import { afterOf, MorePages } from "../../components/Pager";
import { TableRegion, type ColumnHeading } from "../../components/TableRegion";
import { Time } from "../../components/Time";
import { AdminSourcesDocument } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";
import { kindLabel } from "./config";
import { LastRun } from "./LastRun";
import { programTitle, useProgramOptions } from "./programs";
import { scheduleText, usePolling, useRunSource } from "./runs";

const PAGE = 25;
const WATCH_MS = 60_000;

const SOURCE_COLUMNS: readonly ColumnHeading[] = [
  "Name",
  "Kind",
  "Program",
  "Schedule",
  "Last run",
  "Next run",
  { label: "Actions", hidden: true },
];

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
  const [outcome, setOutcome] = useState<Outcome | null>(null);
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
      <OutcomeNotice outcome={outcome} className="run-outcome" />
      {error ? <Notice kind="error">The sources could not be loaded: {transportMessage(error)}</Notice> : null}
      {fetching && !data ? <p role="status">Loading…</p> : null}
      {data && sources.length === 0 && cursors.length === 1 ? (
        <p>
          No sources yet. <Link to="/sources/new">Add the first one</Link>.
        </p>
      ) : null}
      {sources.length > 0 ? (
        <TableRegion label="Ingest sources" columns={SOURCE_COLUMNS}>
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
                <LastRun run={source.lastRun} />
              </td>
              <td>
                <Time at={source.nextRunAt} />
              </td>
              <td>
                <button type="button" onClick={() => void run(source.id, source.name)}>
                  Run now<span className="visually-hidden">: {source.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </TableRegion>
      ) : null}
      <MorePages label="Source pages" cursors={cursors} pageInfo={data?.sources.pageInfo} onChange={setCursors} />
    </>
  );
}
