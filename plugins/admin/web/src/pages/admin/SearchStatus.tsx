// /search-status (admins): how current the search index is. Refreshes itself every 10 s (which can be paused: content
// that moves on its own must be stoppable) and on demand.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { Notice } from "../../components/Notice";
import { SearchStatusDocument } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";
import { lagText } from "./format";

const EVERY_MS = 10_000;

export function SearchStatus() {
  const [{ data, error, fetching }, reexecute] = useQuery({ query: SearchStatusDocument, requestPolicy: "network-only" });
  const [auto, setAuto] = useState(true);
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);
  const [announce, setAnnounce] = useState<string | null>(null);
  // Only a refresh asked for is announced; the automatic ones update the page quietly.
  const [asked, setAsked] = useState(false);

  useEffect(() => {
    if (!data || fetching) return;
    const now = new Date();
    setCheckedAt(now);
    if (asked) {
      setAnnounce(`Refreshed at ${now.toLocaleTimeString()}.`);
      setAsked(false);
    }
  }, [data, fetching]);

  useEffect(() => {
    if (!auto) return;
    const timer = window.setInterval(() => reexecute({ requestPolicy: "network-only" }), EVERY_MS);
    return () => window.clearInterval(timer);
  }, [auto, reexecute]);

  const refresh = () => {
    setAnnounce(null);
    setAsked(true);
    reexecute({ requestPolicy: "network-only" });
  };

  const status = data?.searchStatus;
  const behind = status ? status.pendingChanges > 0 || status.lagSeconds > 0 : false;
  return (
    <>
      <h1>Search index</h1>
      <div className="toolbar">
        <button type="button" onClick={refresh}>
          Refresh
        </button>
        <label className="check-row">
          <input type="checkbox" checked={auto} onChange={(event) => setAuto(event.target.checked)} />
          Refresh every 10 seconds
        </label>
        <span className="hint">
          {checkedAt ? (
            <>
              Checked at <time dateTime={checkedAt.toISOString()}>{checkedAt.toLocaleTimeString()}</time>
            </>
          ) : null}
        </span>
        <span role="status" className="visually-hidden">
          {asked ? "Refreshing…" : announce}
        </span>
      </div>
      {error ? <Notice kind="error">The search status could not be loaded: {transportMessage(error)}</Notice> : null}
      {!data && fetching ? <p role="status">Loading…</p> : null}
      {status ? (
        <>
          <p>{behind ? "The index is catching up with recent changes." : "The index is current."}</p>
          <dl className="facts">
            <div>
              <dt>Backend</dt>
              <dd>{status.backend}</dd>
            </div>
            <div>
              <dt>Documents</dt>
              <dd>{status.documents.toLocaleString()}</dd>
            </div>
            <div>
              <dt>Pending changes</dt>
              <dd>{status.pendingChanges.toLocaleString()}</dd>
            </div>
            <div>
              <dt>Lag (oldest pending change)</dt>
              <dd>{lagText(status.lagSeconds)}</dd>
            </div>
            <div>
              <dt>Failed index jobs</dt>
              <dd>
                {status.failedJobs.toLocaleString()}
                {status.failedJobs > 0 ? (
                  <>
                    {" "}
                    (<Link to="/jobs?status=DEAD">retry them on the Jobs page</Link>)
                  </>
                ) : null}
              </dd>
            </div>
          </dl>
        </>
      ) : null}
    </>
  );
}
