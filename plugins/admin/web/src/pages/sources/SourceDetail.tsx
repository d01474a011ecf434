// /sources/:id: one ingest source: what it is, "Run now", its settings (edited in place), its run history, delete.
import { useEffect, useRef, useState } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Announcement, Notice } from "../../components/Notice";
import { afterOf, MorePages } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { TableRegion, type ColumnHeading } from "../../components/TableRegion";
import { Time } from "../../components/Time";
import { AdminSourceDocument, DeleteSourceDocument, SourceKindsDocument, type AdminSourceQuery } from "../../gql/graphql";
import { problemOf, transportMessage } from "../../lib/results";
import { useViewer } from "../../viewer";
import { kindLabel } from "./config";
import { LastRun } from "./LastRun";
import { programTitle, useProgramOptions } from "./programs";
import { runCounts, scheduleText, usePolling, useRunSource } from "./runs";
import { SourceEditor } from "./SourceEditor";

const RUNS_PAGE = 20;
const WATCH_MS = 120_000;

const RUN_COLUMNS: readonly ColumnHeading[] = [
  "Started",
  "Finished",
  "Status",
  "Trigger",
  ...["Found", "New", "Updated", "Skipped", "Failed", "Gone"].map((label) => ({ label, number: true })),
  "Problems",
];

type Run = NonNullable<AdminSourceQuery["source"]>["runs"]["edges"][number]["node"];

export function SourceDetail() {
  const { id = "" } = useParams();
  const location = useLocation();
  const navigate = useNavigate();
  const { can } = useViewer();
  const arrived = (location.state as { notice?: string } | null)?.notice ?? null;
  const heading = useRef<HTMLHeadingElement>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AdminSourceDocument,
    variables: { id, first: RUNS_PAGE, after: afterOf(cursors) },
  });
  const [kindsResult] = useQuery({ query: SourceKindsDocument });
  const programs = useProgramOptions();
  const runSource = useRunSource();
  const [, deleteSource] = useMutation(DeleteSourceDocument);
  // A run asked for here: watched until it finishes (or for two minutes if the worker never starts it).
  const [watch, setWatch] = useState<{ until: number; after: string | null } | null>(null);
  const [runMessage, setRunMessage] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const source = data?.source ?? null;
  const sourceId = source?.id;
  useEffect(() => {
    if (arrived && sourceId) heading.current?.focus();
  }, [arrived, sourceId]);

  const latest = source?.lastRun ?? null;
  const newRun = watch && latest && latest.id !== watch.after ? latest : null;
  const watching = watch !== null && Date.now() < watch.until && (newRun === null || newRun.status === "RUNNING");
  usePolling(watching || latest?.status === "RUNNING", () => reexecute({ requestPolicy: "network-only" }), 2000);

  // Say how the run asked for here goes: started, then finished with its counts.
  useEffect(() => {
    if (!watch || !newRun) return;
    const firstPage = data?.source?.runs.edges.find((edge) => edge.node.id === newRun.id)?.node;
    if (newRun.status === "RUNNING") setRunMessage("Run started: it is running now.");
    else if (newRun.status === "SUCCEEDED")
      setRunMessage(`Run finished${firstPage ? `: ${runCounts(firstPage)}` : ""}.`);
    else setRunMessage(`Run failed${firstPage?.error ? `: ${firstPage.error}` : ""}.`);
    if (newRun.status !== "RUNNING") setWatch(null);
  }, [watch, newRun?.id, newRun?.status, data]);

  if (error && !data) return <Notice kind="error">The source could not be loaded: {transportMessage(error)}</Notice>;
  if (fetching && !data) return <p role="status">Loading…</p>;
  if (!source) {
    return (
      <>
        <h1>Source not found</h1>
        <p>
          It may have been deleted. <Link to="/sources">All sources</Link>
        </p>
      </>
    );
  }

  const run = async () => {
    setProblem(null);
    setRunMessage(null);
    const result = await runSource(source.id, source.name);
    if (!result.ok) {
      setProblem(result.message);
      return;
    }
    setRunMessage(result.message);
    setCursors([null]);
    setWatch({ until: Date.now() + WATCH_MS, after: latest?.id ?? null });
    reexecute({ requestPolicy: "network-only" });
  };

  const remove = async () => {
    setProblem(null);
    const result = await deleteSource({ id: source.id });
    if (result.error) {
      setProblem(`The source was not deleted: ${transportMessage(result.error)}`);
      return;
    }
    const found = problemOf(result.data?.deleteSource);
    if (found) {
      setProblem(`The source was not deleted: ${found.message}`);
      return;
    }
    navigate("/sources", { state: { notice: `Source “${source.name}” deleted.` } });
  };

  const runs = source.runs.edges.map((edge) => edge.node);
  const kinds = kindsResult.data?.sourceKinds ?? [];
  return (
    <>
      <p className="breadcrumbs">
        <Link to="/sources">Sources</Link>
      </p>
      <h1 ref={heading} tabIndex={-1} dir="auto">
        {source.name}
      </h1>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>
            {kindLabel(source.kind, kinds)} ({source.kind})
          </dd>
        </div>
        <div>
          <dt>Program</dt>
          <dd dir="auto">
            <Link to={`/programs/${encodeURIComponent(source.programId)}`}>{programTitle(programs.programs, source.programId)}</Link>
          </dd>
        </div>
        <div>
          <dt>Schedule</dt>
          <dd>{scheduleText(source.scheduleMinutes, source.enabled)}</dd>
        </div>
        <div>
          <dt>Next run</dt>
          <dd>
            <Time at={source.nextRunAt} />
          </dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd>
            <LastRun run={latest} />
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <Time at={source.createdAt} />
          </dd>
        </div>
      </dl>
      <div className="actions">
        <button type="button" className="primary" onClick={() => void run()}>
          Run now
        </button>
        {can.administer ? (
          <Link to={`/audit?target=${encodeURIComponent(source.id)}`}>Audit trail of this source</Link>
        ) : null}
      </div>
      <Announcement status={runMessage} problem={problem} className="run-outcome" />

      <h2>Settings</h2>
      {kindsResult.error ? (
        <Notice kind="error">The source kinds could not be loaded: {transportMessage(kindsResult.error)}</Notice>
      ) : null}
      {kindsResult.data ? (
        <SourceEditor
          key={source.id}
          kinds={kinds}
          programs={programs}
          source={{
            id: source.id,
            kind: source.kind,
            name: source.name,
            programId: source.programId,
            config: source.config,
            secretsSet: source.secretsSet,
            scheduleMinutes: source.scheduleMinutes,
            enabled: source.enabled,
            autoPublish: source.autoPublish,
          }}
        />
      ) : (
        <p role="status">Loading…</p>
      )}

      <h2>Run history</h2>
      {runs.length === 0 ? (
        <p>No runs yet.</p>
      ) : (
        <TableRegion label="Run history" caption={`Runs of ${source.name}, newest first`} columns={RUN_COLUMNS}>
          {runs.map((item) => (
            <RunRow key={item.id} run={item} />
          ))}
        </TableRegion>
      )}
      <MorePages label="Run history pages" cursors={cursors} pageInfo={source.runs.pageInfo} onChange={setCursors} />

      <h2>Delete</h2>
      <p>The source and its run history go; the episodes it brought in stay.</p>
      <ConfirmButton
        label="Delete"
        question={`Delete the source “${source.name}” and its run history?`}
        confirmLabel="Delete"
        onConfirm={remove}
      />
    </>
  );
}

function RunRow({ run }: { run: Run }) {
  return (
    <tr>
      <th scope="row">
        <Time at={run.startedAt} />
      </th>
      <td>
        <Time at={run.finishedAt} />
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td>{run.trigger}</td>
      <td className="number">{run.found}</td>
      <td className="number">{run.created}</td>
      <td className="number">{run.updated}</td>
      <td className="number">{run.skipped}</td>
      <td className="number">{run.failed}</td>
      <td className="number">{run.gone}</td>
      <td className="run-problems">
        {run.error ? <p className="field-error">{run.error}</p> : null}
        {run.problems.length > 0 ? (
          <details>
            <summary>
              {run.problems.length} item{run.problems.length === 1 ? "" : "s"}
            </summary>
            <ul>
              {run.problems.map((item, index) => (
                <li key={`${item.externalId}-${index}`}>
                  <code dir="ltr">{item.externalId}</code>: {item.reason}
                </li>
              ))}
            </ul>
          </details>
        ) : null}
        {!run.error && run.problems.length === 0 ? "—" : null}
      </td>
    </tr>
  );
}
