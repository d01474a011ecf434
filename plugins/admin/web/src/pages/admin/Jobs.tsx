// /jobs (admins): background jobs by status, the dead-letter list first; "Retry" gives a dead job a fresh set of
// attempts. The status is kept in the address (?status=QUEUED) so a filtered list can be linked to.
import { useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { afterOf, Pager } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { AdminJobsDocument, RetryJobDocument } from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import { problemOf, transportMessage } from "../../lib/results";
import { firstLine, statusOf } from "./format";

const PAGE = 50;

const STATUSES: readonly { value: string; label: string }[] = [
  { value: "DEAD", label: "Dead (gave up: the dead-letter list)" },
  { value: "QUEUED", label: "Queued" },
  { value: "RUNNING", label: "Running" },
  { value: "SUCCEEDED", label: "Succeeded" },
  { value: "ALL", label: "All statuses" },
];

export function Jobs() {
  const [params, setParams] = useSearchParams();
  const status = statusOf(params.get("status"));
  const key = params.toString();
  const [paging, setPaging] = useState<{ key: string; cursors: (string | null)[] }>({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const setCursors = (next: (string | null)[]) => setPaging({ key, cursors: next });
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: AdminJobsDocument,
    variables: { status, first: PAGE, after: afterOf(cursors) },
  });
  const [, retryJob] = useMutation(RetryJobDocument);
  const [outcome, setOutcome] = useState<{ ok: boolean; message: string } | null>(null);
  const outcomeRef = useRef<HTMLDivElement>(null);

  const changeStatus = (value: string) => {
    setOutcome(null);
    setParams(value === "DEAD" ? {} : { status: value });
  };

  const retry = async (id: string, kind: string) => {
    setOutcome(null);
    const result = await retryJob({ id });
    let next: { ok: boolean; message: string };
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
  const selected = status ?? "ALL";
  return (
    <>
      <h1>Jobs</h1>
      <div className="filters">
        <Field label="Status" hint="Dead jobs ran out of attempts; retry them once the cause is fixed.">
          {(props) => (
            <select {...props} value={selected} onChange={(event) => changeStatus(event.target.value)}>
              {STATUSES.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" onClick={() => reexecute({ requestPolicy: "network-only" })}>
          Refresh
        </button>
      </div>
      <div ref={outcomeRef} tabIndex={-1} className="outcome">
        <div role="status">{outcome?.ok ? outcome.message : null}</div>
        {outcome && !outcome.ok ? <Notice kind="error">{outcome.message}</Notice> : null}
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
        <div className="table-wrap" role="region" aria-label="Jobs" tabIndex={0}>
          <table>
            <caption className="visually-hidden">Jobs</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col" className="number">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Created</th>
                <th scope="col">Updated</th>
                <th scope="col">Next attempt / finished</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
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
                    <time dateTime={job.createdAt}>{dateTime(job.createdAt)}</time>
                  </td>
                  <td>
                    <time dateTime={job.updatedAt}>{dateTime(job.updatedAt)}</time>
                  </td>
                  <td>
                    {job.finishedAt ? (
                      <time dateTime={job.finishedAt}>{dateTime(job.finishedAt)}</time>
                    ) : job.runAfter ? (
                      <time dateTime={job.runAfter}>{dateTime(job.runAfter)}</time>
                    ) : (
                      "—"
                    )}
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
            </tbody>
          </table>
        </div>
      ) : null}
      {data && (data.jobs.pageInfo.hasNextPage || cursors.length > 1) ? (
        <Pager
          label="Job pages"
          cursors={cursors}
          hasNextPage={data.jobs.pageInfo.hasNextPage}
          endCursor={data.jobs.pageInfo.endCursor}
          onChange={setCursors}
        />
      ) : null}
    </>
  );
}
