// Episodes: search, filter (by program too), sort and page (all in the URL), and publish or unpublish several at once.
import { Link } from "react-router-dom";
import { useQuery } from "urql";
import { ContentTable, ListHeading, type Column } from "../../components/content/ContentList";
import { ListFilters, useListState } from "../../components/content/ListControls";
import { listPaging, useContentList } from "../../components/content/useContentList";
import type { Choice } from "../../components/Field";
import { StatusBadge } from "../../components/StatusBadge";
import {
  AdminEpisodesDocument,
  AdminProgramOptionsDocument,
  PublishEpisodeDocument,
  UnpublishEpisodeDocument,
  type EpisodeOrderField,
} from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import { episodeFilterOf, shownStatus, type ListOptions } from "../../lib/listState";
import { useViewer } from "../../viewer";

const OPTIONS: ListOptions<EpisodeOrderField> = {
  sortFields: ["CREATED_AT", "PUBLISH_AT", "TITLE", "NUMBER"],
  defaultSort: "CREATED_AT",
};
const SORTS: Choice<EpisodeOrderField>[] = [
  { value: "CREATED_AT", label: "Created" },
  { value: "PUBLISH_AT", label: "Publish date" },
  { value: "TITLE", label: "Title" },
  { value: "NUMBER", label: "Number" },
];
const COLUMNS: Column<EpisodeOrderField>[] = [
  { label: "Program" },
  { label: "Season" },
  { label: "Number", sort: "NUMBER" },
  { label: "Status" },
  { label: "Publish at", sort: "PUBLISH_AT" },
];
/** The most programs the API gives in one page: the program picker lists these, by title. */
const PROGRAM_OPTIONS = 100;

export function EpisodeList() {
  const { can } = useViewer();
  const [state, setState] = useListState(OPTIONS);
  const newEpisode = state.program ? `/episodes/new?program=${encodeURIComponent(state.program)}` : "/episodes/new";

  const [programs] = useQuery({ query: AdminProgramOptionsDocument, variables: { first: PROGRAM_OPTIONS } });
  const programOptions = {
    options: programs.data?.programs.edges.map((edge) => edge.node) ?? [],
    more: programs.data?.programs.pageInfo.hasNextPage ?? false,
  };
  const list = useContentList({
    state,
    kind: "Episode",
    includeDrafts: can.edit,
    query: AdminEpisodesDocument,
    variables: { ...listPaging(state), filter: episodeFilterOf(state) },
    connection: (data) => data.episodes,
  });

  return (
    <>
      <ListHeading title="Episodes" add={can.edit ? { to: newEpisode, label: "New episode" } : null} />
      <ListFilters state={state} onChange={setState} sorts={SORTS} showStatus={can.edit} programs={programOptions} />
      <ContentTable
        noun={["episode", "episodes"]}
        list={list}
        state={state}
        onState={setState}
        canEdit={can.edit}
        publish={PublishEpisodeDocument}
        unpublish={UnpublishEpisodeDocument}
        columns={COLUMNS}
        cells={(row) => (
          <>
            <td dir="auto">
              <Link to={`/programs/${encodeURIComponent(row.program.id)}`}>{row.program.title}</Link>
            </td>
            <td>{row.season ?? "—"}</td>
            <td>{row.number ?? "—"}</td>
            <td>
              <StatusBadge status={shownStatus(row.status, row.publishAt)} />
            </td>
            <td>{dateTime(row.publishAt)}</td>
          </>
        )}
      />
    </>
  );
}
