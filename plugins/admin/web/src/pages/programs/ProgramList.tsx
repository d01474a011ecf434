// Programs: search, filter, sort and page (all in the URL), and publish or unpublish several at once.
import { ContentTable, ListHeading, type Column } from "../../components/content/ContentList";
import { ListFilters, useListState } from "../../components/content/ListControls";
import { listPaging, useContentList } from "../../components/content/useContentList";
import type { Choice } from "../../components/Field";
import { StatusBadge } from "../../components/StatusBadge";
import {
  ProgramsDocument,
  PublishProgramDocument,
  UnpublishProgramDocument,
  type ProgramOrderField,
} from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import { programFilterOf, shownStatus, type ListOptions } from "../../lib/listState";
import { useViewer } from "../../viewer";

const OPTIONS: ListOptions<ProgramOrderField> = { sortFields: ["CREATED_AT", "PUBLISH_AT", "TITLE"], defaultSort: "CREATED_AT" };
const SORTS: Choice<ProgramOrderField>[] = [
  { value: "CREATED_AT", label: "Created" },
  { value: "PUBLISH_AT", label: "Publish date" },
  { value: "TITLE", label: "Title" },
];
const COLUMNS: Column<ProgramOrderField>[] = [
  { label: "Status" },
  { label: "Publish at", sort: "PUBLISH_AT" },
  { label: "Category" },
  { label: "Language" },
  { label: "Tags" },
];

export function ProgramList() {
  const { can } = useViewer();
  const [state, setState] = useListState(OPTIONS);
  const list = useContentList({
    state,
    kind: "Program",
    includeDrafts: can.edit,
    query: ProgramsDocument,
    variables: { ...listPaging(state), filter: programFilterOf(state) },
    connection: (data) => data.programs,
  });

  return (
    <>
      <ListHeading title="Programs" add={can.edit ? { to: "/programs/new", label: "New program" } : null} />
      <ListFilters state={state} onChange={setState} sorts={SORTS} showStatus={can.edit} />
      <ContentTable
        noun={["program", "programs"]}
        list={list}
        state={state}
        onState={setState}
        canEdit={can.edit}
        publish={PublishProgramDocument}
        unpublish={UnpublishProgramDocument}
        columns={COLUMNS}
        cells={(row) => (
          <>
            <td>
              <StatusBadge status={shownStatus(row.status, row.publishAt)} />
            </td>
            <td>{dateTime(row.publishAt)}</td>
            <td dir="auto">{row.category ?? "—"}</td>
            <td>{row.language ?? "—"}</td>
            <td dir="auto">{row.tags.length ? row.tags.join(", ") : "—"}</td>
          </>
        )}
      />
    </>
  );
}
