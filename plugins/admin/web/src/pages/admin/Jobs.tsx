// /jobs (admins): background jobs by status, the dead-letter list first; "Retry" gives a dead job a fresh set of
// attempts. The status is kept in the address (?status=QUEUED) so a filtered list can be linked to.
import { useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { SelectField, type Choice } from "../../components/Field";
import { Notice, OutcomeNotice, type Outcome } from "../../components/Notice";
import { afterOf, MorePages, useCursorsFor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { TableRegion, type ColumnHeading } from "../../components/TableRegion";
import { Time } from "../../components/Time";
import { AdminJobsDocument, RetryJobDocument } from "../../gql/graphql";
import { problemOf, transportMessage } from "../../lib/results";
import { firstLine, statusOf } from "./format";

const PAGE = 50;

const STATUSES: readonly Choice[] = [
  { value: "DEAD", label: "Dead (gave up: the dead-letter list)" },
  { value: "QUEUED", label: "Queued" },
  { value: "RUNNING", label: "Running" },
  { value: "SUCCEEDED", label: "Succeeded" },
  { value: "ALL", label: "All statuses" },
];

const JOB_COLUMNS: readonly ColumnHeading[] = [
  "Kind",
  "Status",
  { label: "Attempts", number: true },
  "Last error",
  "Created",
  "Updated",
  "Next attempt / finished",
  { label: "Actions", hidden: true },
];

export function Jobs() {
  const [params, setParams] = useSearchParams();
  const status = statusOf(params.get("status"));
  const [cursors, setCursors] = useCursorsFor(params.toString());
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AdminJobsDocument,
    variables: { status, first: PAGE, after: afterOf(cursors) },
  });
  const [, retryJob] = useMutation(RetryJobDocument);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const outcomeRef = useRef<HTMLDivElement>(null);

  const changeStatus = (value: string) => {
    setOutcome(null);
    setParams(value === "DEAD" ? {} : { status: value });
  };

  const retry = async (id: string, kind: string) => {
    setOutcome(null);
    const result = await retryJob({ id });
    let next: Outcome;
    if (result.error) next = { ok: false, message: `The ${kind} job was not retried: ${transportMessage(result.error)}` };
    else {
      const problem = problemOf(result.data?.retryJob);
      next = problem
        ? { ok: false, message: `The ${kind} job was not retried: ${Object.values(problem.fields)[0] ?? problem.message}` }
        : { ok: true, message: `The ${kind} job is queued again with a fresh set of attempts.` };
    }
    setOutcome(next);
    // The row leaves the dead-letter list: keep focus on the outcome rather than lose it with the button.
    outcomeRef.current?.focus();
    if (next.ok) reexecute({ requestPolicy: "network-only" });
  };

  const jobs = data?.jobs.edges.map((edge) => edge.node) ?? [];
  return (
    <>
      <h1>Jobs</h1>
      <div className="filters">
        <SelectField
          label="Status"
          hint="Dead jobs ran out of attempts; retry them once the cause is fixed."
          value={status ?? "ALL"}
          choices={STATUSES}
          onChange={changeStatus}
        />
        <button type="button" onClick={() => reexecute({ requestPolicy: "network-only" })}>
          Refresh
        </button>
      </div>
      <div ref={outcomeRef} tabIndex={-1} className="outcome">
        <OutcomeNotice outcome={outcome} />
      </div>
      {error ? <Notice kind="error">The jobs could not be loaded: {transportMessage(error)}</Notice> : null}
      {fetching && !data ? <p role="status">Loading…</p> : null}
      {data ? (
        <p className="hint">
          {data.jobs.totalCount === 1 ? "1 job" : `${data.jobs.totalCount.toLocaleString()} jobs`}
          {status ? ` ${status.toLowerCase()}` : ""}, newest first.
        </p>
      ) : null}
      {data && jobs.length === 0 ? <p>{status === "DEAD" ? "No dead jobs: nothing gave up." : "No jobs."}</p> : null}
      {jobs.length > 0 ? (
        <TableRegion label="Jobs" columns={JOB_COLUMNS}>
          {jobs.map((job) => (
            <tr key={job.id}>
              <th scope="row">
                <code>{job.kind}</code>
                <br />
                <small className="muted" title="Job id">
                  {job.id}
                </small>
              </th>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td className="number">
                {job.attempts} of {job.maxAttempts}
              </td>
              <td className="error-cell">
                {job.lastError ? (
                  job.lastError.includes("\n") || job.lastError.length > 160 ? (
                    <details>
                      <summary>{firstLine(job.lastError)}</summary>
                      <pre>{job.lastError}</pre>
                    </details>
                  ) : (
                    job.lastError
                  )
                ) : (
                  "—"
                )}
              </td>
              <td>
                <Time at={job.createdAt} />
              </td>
              <td>
                <Time at={job.updatedAt} />
              </td>
              <td>
                <Time at={job.finishedAt ?? job.runAfter} />
              </td>
              <td>
                {job.status === "DEAD" ? (
                  <button type="button" onClick={() => void retry(job.id, job.kind)}>
                    Retry<span className="visually-hidden">: {job.kind} job</span>
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </TableRegion>
      ) : null}
      <MorePages label="Job pages" cursors={cursors} pageInfo={data?.jobs.pageInfo} onChange={setCursors} />
    </>
  );
}
