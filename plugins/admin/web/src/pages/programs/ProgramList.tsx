// Programs: search, filter, sort and page (all in the URL), and publish or unpublish several at once.
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { BulkBar, ListFilters, SelectAll, useListState, useSelection, type SortChoice } from "../../components/content/ListControls";
import { useArrivalFocus, useArrivalNotice } from "../../components/content/FormParts";
import { Notice } from "../../components/Notice";
import { Pager, afterOf } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import {
  AdminSearchDocument,
  ProgramsDocument,
  PublishProgramDocument,
  UnpublishProgramDocument,
  type ProgramOrderField,
  type PublishStatus,
} from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import {
  countSentence,
  isSearching,
  PAGE_SIZE,
  programFilterOf,
  searchFilterOf,
  shownStatus,
  type ListOptions,
} from "../../lib/listState";
import { transportMessage } from "../../lib/results";
import { useViewer } from "../../viewer";

const OPTIONS: ListOptions<ProgramOrderField> = { sortFields: ["CREATED_AT", "PUBLISH_AT", "TITLE"], defaultSort: "CREATED_AT" };
const SORTS: SortChoice<ProgramOrderField>[] = [
  { value: "CREATED_AT", label: "Created" },
  { value: "PUBLISH_AT", label: "Publish date" },
  { value: "TITLE", label: "Title" },
];

interface Row {
  id: string;
  title: string;
  status: PublishStatus;
  publishAt: string | null;
  category: string | null;
  language: string | null;
  tags: readonly string[];
}

export function ProgramList() {
  const { can } = useViewer();
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  const [state, setState] = useListState(OPTIONS);
  const searching = isSearching(state);
  const after = afterOf(state.cursors);

  const [listed] = useQuery({
    query: ProgramsDocument,
    variables: { first: PAGE_SIZE, after, filter: programFilterOf(state), orderBy: { field: state.sort, direction: state.dir } },
    pause: searching,
  });
  const [found] = useQuery({
    query: AdminSearchDocument,
    variables: {
      query: state.q.trim(),
      first: PAGE_SIZE,
      after,
      filter: searchFilterOf(state, "PROGRAM", can.edit),
      orderBy: state.order,
    },
    pause: !searching,
  });

  const current = searching ? found : listed;
  let rows: Row[] = [];
  let total: number | null = null;
  let exact = true;
  let pageInfo: { hasNextPage: boolean; endCursor: string | null } | null = null;
  if (searching && found.data) {
    for (const edge of found.data.search.edges) if (edge.node.__typename === "Program") rows.push(edge.node);
    total = found.data.search.totalCount;
    exact = found.data.search.exactCounts;
    pageInfo = found.data.search.pageInfo;
  } else if (!searching && listed.data) {
    rows = listed.data.programs.edges.map((edge) => edge.node);
    total = listed.data.programs.totalCount;
    pageInfo = listed.data.programs.pageInfo;
  }

  const selection = useSelection(rows.map((row) => row.id));
  const titleOf = (id: string) => rows.find((row) => row.id === id)?.title ?? id;
  const sortedBy = (field: ProgramOrderField) =>
    !searching && state.sort === field ? (state.dir === "ASC" ? "ascending" : "descending") : undefined;

  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>Programs</h1>
        {can.edit ? (
          <Link className="button primary" to="/programs/new">
            New program
          </Link>
        ) : null}
      </div>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
      <ListFilters state={state} onChange={setState} sorts={SORTS} showStatus={can.edit} />
      {current.error ? <Notice kind="error">Could not load programs: {transportMessage(current.error)}</Notice> : null}
      <p className="list-count" aria-live="polite">
        {total === null
          ? current.fetching
            ? "Loading…"
            : ""
          : countSentence({ total, exact, searching, page: state.cursors.length, noun: ["program", "programs"] })}
      </p>
      {can.edit ? (
        <BulkBar
          selected={selection.selected}
          publish={PublishProgramDocument}
          unpublish={UnpublishProgramDocument}
          noun={["program", "programs"]}
          titleOf={titleOf}
          onSettled={selection.keep}
        />
      ) : null}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Programs</caption>
          <thead>
            <tr>
              {can.edit ? (
                <th scope="col" className="select-col">
                  <SelectAll all={selection.all} some={selection.some} onToggle={selection.toggleAll} />
                </th>
              ) : null}
              <th scope="col" aria-sort={sortedBy("TITLE")}>
                Title
              </th>
              <th scope="col">Status</th>
              <th scope="col" aria-sort={sortedBy("PUBLISH_AT")}>
                Publish at
              </th>
              <th scope="col">Category</th>
              <th scope="col">Language</th>
              <th scope="col">Tags</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                {can.edit ? (
                  <td className="select-col">
                    <input
                      type="checkbox"
                      aria-label={`Select ${row.title}`}
                      checked={selection.has(row.id)}
                      onChange={() => selection.toggle(row.id)}
                    />
                  </td>
                ) : null}
                <td dir="auto">
                  <Link to={`/programs/${encodeURIComponent(row.id)}`}>{row.title}</Link>
                </td>
                <td>
                  <StatusBadge status={shownStatus(row.status, row.publishAt)} />
                </td>
                <td>{dateTime(row.publishAt)}</td>
                <td dir="auto">{row.category ?? "—"}</td>
                <td>{row.language ?? "—"}</td>
                <td dir="auto">{row.tags.length ? row.tags.join(", ") : "—"}</td>
              </tr>
            ))}
            {rows.length === 0 && total !== null ? (
              <tr>
                <td colSpan={can.edit ? 7 : 6}>{searching ? "Nothing matches the search." : "No programs match."}</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager
        label="Program pages"
        cursors={state.cursors}
        hasNextPage={pageInfo?.hasNextPage ?? false}
        endCursor={pageInfo?.endCursor}
        onChange={(cursors) => setState({ ...state, cursors })}
      />
    </>
  );
}
