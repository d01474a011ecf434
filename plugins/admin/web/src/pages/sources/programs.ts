// Every program (drafts included, as editors see them) by title: the choices of a source's program select and the
// titles its list shows. Pages of 100 are followed up to a bound; the select says when there are more.
import { useEffect, useState } from "react";
import { useClient, type OperationResult } from "urql";
import { ProgramsDocument, type ProgramsQuery } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";

export interface ProgramOption {
  id: string;
  title: string;
}

const PAGE = 100;
const MAX_PAGES = 20;

export interface ProgramOptions {
  programs: ProgramOption[];
  loading: boolean;
  error: string | null;
  /** More programs exist than were loaded (over 2,000). */
  truncated: boolean;
}

export function useProgramOptions(): ProgramOptions {
  const client = useClient();
  const [state, setState] = useState<ProgramOptions>({ programs: [], loading: true, error: null, truncated: false });
  useEffect(() => {
    let live = true;
    (async () => {
      const programs: ProgramOption[] = [];
      let after: string | null = null;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const result: OperationResult<ProgramsQuery> = await client
          .query(ProgramsDocument, { first: PAGE, after, filter: null, orderBy: { field: "TITLE", direction: "ASC" } })
          .toPromise();
        if (!live) return;
        if (result.error || !result.data) {
          setState({ programs, loading: false, error: result.error ? transportMessage(result.error) : "No answer", truncated: false });
          return;
        }
        const connection = result.data.programs;
        for (const edge of connection.edges) programs.push({ id: edge.node.id, title: edge.node.title });
        if (!connection.pageInfo.hasNextPage || !connection.pageInfo.endCursor) {
          setState({ programs, loading: false, error: null, truncated: false });
          return;
        }
        after = connection.pageInfo.endCursor;
      }
      if (live) setState({ programs, loading: false, error: null, truncated: true });
    })();
    return () => {
      live = false;
    };
  }, [client]);
  return state;
}

/** The program's title for a list cell; its id when the program was not loaded. */
export function programTitle(programs: readonly ProgramOption[], id: string): string {
  return programs.find((program) => program.id === id)?.title ?? id;
}
