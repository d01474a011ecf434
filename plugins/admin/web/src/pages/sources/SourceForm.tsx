// /sources/new: a new ingest source. Its config fields follow the chosen kind (see ./config.ts).
import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useQuery } from "urql";
import { Notice } from "../../components/Notice";
import { SourceKindsDocument } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";
import { useProgramOptions } from "./programs";
import { SourceEditor } from "./SourceEditor";

export function SourceForm() {
  const navigate = useNavigate();
  const heading = useRef<HTMLHeadingElement>(null);
  const [{ data, error, fetching }] = useQuery({ query: SourceKindsDocument });
  const programs = useProgramOptions();

  useEffect(() => heading.current?.focus(), []);

  const kinds = data?.sourceKinds ?? [];
  return (
    <>
      <p className="breadcrumbs">
        <Link to="/sources">Sources</Link>
      </p>
      <h1 ref={heading} tabIndex={-1}>
        New source
      </h1>
      {error ? <Notice kind="error">The source kinds could not be loaded: {transportMessage(error)}</Notice> : null}
      {fetching && !data ? <p role="status">Loading…</p> : null}
      {data && kinds.length === 0 ? (
        <Notice>No ingest source plugins are installed: there is nothing to add a source of.</Notice>
      ) : null}
      {!programs.loading && !programs.error && programs.programs.length === 0 ? (
        <Notice>
          Episodes from a source go into a program, and there is none yet. <Link to="/programs/new">Create a program</Link>{" "}
          first.
        </Notice>
      ) : null}
      {kinds.length > 0 ? (
        <SourceEditor
          kinds={kinds}
          programs={programs}
          onCreated={(id) =>
            navigate(`/sources/${encodeURIComponent(id)}`, { state: { notice: "Source created." } })
          }
        />
      ) : null}
    </>
  );
}
