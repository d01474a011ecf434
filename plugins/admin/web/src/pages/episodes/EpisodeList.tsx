// Episodes: search, filter (by program too), sort and page (all in the URL), and publish or unpublish several at once.
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { BulkBar, ListFilters, SelectAll, useListState, useSelection, type SortChoice } from "../../components/content/ListControls";
import { useArrivalFocus, useArrivalNotice } from "../../components/content/FormParts";
import { Notice } from "../../components/Notice";
import { Pager, afterOf } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import {
  AdminEpisodesDocument,
  AdminProgramOptionsDocument,
  AdminSearchDocument,
  PublishEpisodeDocument,
  UnpublishEpisodeDocument,
  type EpisodeOrderField,
  type PublishStatus,
} from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import {
  countSentence,
  isSearching,
  PAGE_SIZE,
  episodeFilterOf,
  searchFilterOf,
  shownStatus,
  type ListOptions,
} from "../../lib/listState";
import { transportMessage } from "../../lib/results";
import { useViewer } from "../../viewer";

const OPTIONS: ListOptions<EpisodeOrderField> = {
  sortFields: ["CREATED_AT", "PUBLISH_AT", "TITLE", "NUMBER"],
  defaultSort: "CREATED_AT",
};
const SORTS: SortChoice<EpisodeOrderField>[] = [
  { value: "CREATED_AT", label: "Created" },
  { value: "PUBLISH_AT", label: "Publish date" },
  { value: "TITLE", label: "Title" },
  { value: "NUMBER", label: "Number" },
];
/** The most programs the API gives in one page: the program picker lists these, by title. */
const PROGRAM_OPTIONS = 100;

interface Row {
  id: string;
  title: string;
  status: PublishStatus;
  publishAt: string | null;
  season: number | null;
  number: number | null;
  program: { id: string; title: string };
}

export function EpisodeList() {
  const { can } = useViewer();
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  const [state, setState] = useListState(OPTIONS);
  const searching = isSearching(state);
  const newEpisode = state.program ? `/episodes/new?program=${encodeURIComponent(state.program)}` : "/episodes/new";
  const after = afterOf(state.cursors);

  const [programs] = useQuery({ query: AdminProgramOptionsDocument, variables: { first: PROGRAM_OPTIONS } });
  const programOptions = {
    options: programs.data?.programs.edges.map((edge) => edge.node) ?? [],
    more: programs.data?.programs.pageInfo.hasNextPage ?? false,
  };
  const [listed] = useQuery({
    query: AdminEpisodesDocument,
    variables: { first: PAGE_SIZE, after, filter: episodeFilterOf(state), orderBy: { field: state.sort, direction: state.dir } },
    pause: searching,
  });
  const [found] = useQuery({
    query: AdminSearchDocument,
    variables: {
      query: state.q.trim(),
      first: PAGE_SIZE,
      after,
      filter: searchFilterOf(state, "EPISODE", can.edit),
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
    for (const edge of found.data.search.edges) if (edge.node.__typename === "Episode") rows.push(edge.node);
    total = found.data.search.totalCount;
    exact = found.data.search.exactCounts;
    pageInfo = found.data.search.pageInfo;
  } else if (!searching && listed.data) {
    rows = listed.data.episodes.edges.map((edge) => edge.node);
    total = listed.data.episodes.totalCount;
    pageInfo = listed.data.episodes.pageInfo;
  }

  const selection = useSelection(rows.map((row) => row.id));
  const titleOf = (id: string) => rows.find((row) => row.id === id)?.title ?? id;
  const sortedBy = (field: EpisodeOrderField) =>
    !searching && state.sort === field ? (state.dir === "ASC" ? "ascending" : "descending") : undefined;

  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>Episodes</h1>
        {can.edit ? (
          <Link className="button primary" to={newEpisode}>
            New episode
          </Link>
        ) : null}
      </div>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
      <ListFilters state={state} onChange={setState} sorts={SORTS} showStatus={can.edit} programs={programOptions} />
      {current.error ? <Notice kind="error">Could not load episodes: {transportMessage(current.error)}</Notice> : null}
      <p className="list-count" aria-live="polite">
        {total === null
          ? current.fetching
            ? "Loading…"
            : ""
          : countSentence({ total, exact, searching, page: state.cursors.length, noun: ["episode", "episodes"] })}
      </p>
      {can.edit ? (
        <BulkBar
          selected={selection.selected}
          publish={PublishEpisodeDocument}
          unpublish={UnpublishEpisodeDocument}
          noun={["episode", "episodes"]}
          titleOf={titleOf}
          onSettled={selection.keep}
        />
      ) : null}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Episodes</caption>
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
              <th scope="col">Program</th>
              <th scope="col">Season</th>
              <th scope="col" aria-sort={sortedBy("NUMBER")}>
                Number
              </th>
              <th scope="col">Status</th>
              <th scope="col" aria-sort={sortedBy("PUBLISH_AT")}>
                Publish at
              </th>
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
                  <Link to={`/episodes/${encodeURIComponent(row.id)}`}>{row.title}</Link>
                </td>
                <td dir="auto">
                  <Link to={`/programs/${encodeURIComponent(row.program.id)}`}>{row.program.title}</Link>
                </td>
                <td>{row.season ?? "—"}</td>
                <td>{row.number ?? "—"}</td>
                <td>
                  <StatusBadge status={shownStatus(row.status, row.publishAt)} />
                </td>
                <td>{dateTime(row.publishAt)}</td>
              </tr>
            ))}
            {rows.length === 0 && total !== null ? (
              <tr>
                <td colSpan={can.edit ? 7 : 6}>{searching ? "Nothing matches the search." : "No episodes match."}</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager
        label="Episode pages"
        cursors={state.cursors}
        hasNextPage={pageInfo?.hasNextPage ?? false}
        endCursor={pageInfo?.endCursor}
        onChange={(cursors) => setState({ ...state, cursors })}
      />
    </>
  );
}
