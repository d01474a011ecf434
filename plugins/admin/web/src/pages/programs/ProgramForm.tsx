// A program: create (/programs/new) or edit (/programs/:id) with publishing, deletion and its episodes; viewers
// get the same page read-only.
import { useId, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { DetailsForm, NewItemForm, useContentForm } from "../../components/content/ContentForm";
import { answerProblem, ReadOnlyValues, TextField, TitleAndSlug, type FormBinding } from "../../components/content/FormParts";
import { DeleteItem, ItemHeading, LoadedItem, useOpenCreated } from "../../components/content/ItemPage";
import { ItemPublishing } from "../../components/content/PublishControls";
import { Notice } from "../../components/Notice";
import { afterOf, MorePages } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import {
  AdminProgramDocument,
  CreateProgramDocument,
  DeleteProgramDocument,
  ProgramEpisodesDocument,
  PublishProgramDocument,
  UnpublishProgramDocument,
  UpdateProgramDocument,
  type AdminProgramQuery,
} from "../../gql/graphql";
import {
  EMPTY_PROGRAM,
  hasChanges,
  programCreateInput,
  programUpdateInput,
  programValues,
  type ProgramValues,
} from "../../lib/contentForms";
import { dateTime } from "../../lib/format";
import { PAGE_SIZE } from "../../lib/listState";
import { transportMessage } from "../../lib/results";
import { useViewer } from "../../viewer";

const FIELDS = ["title", "slug", "description", "category", "language", "tags"];

export function ProgramForm() {
  const { id } = useParams();
  return id ? <ProgramPage id={id} /> : <NewProgram />;
}

function ProgramFields({ form, creating }: { form: FormBinding<ProgramValues>; creating: boolean }) {
  return (
    <>
      <TitleAndSlug form={form} creating={creating} />
      <TextField form={form} label="Description" name="description" content multiline />
      <TextField form={form} label="Category" name="category" content />
      <TextField form={form} label="Language" name="language" hint="A language tag such as en or fa-IR." />
      <TextField form={form} label="Tags" name="tags" hint="Comma separated." content />
    </>
  );
}

function NewProgram() {
  const form = useContentForm(EMPTY_PROGRAM);
  const opened = useOpenCreated("program");
  const [created, createProgram] = useMutation(CreateProgramDocument);
  const create = async () => {
    const answer = await createProgram({ input: programCreateInput(form.values) });
    return opened(answer, answer.data?.createProgram);
  };
  return (
    <NewItemForm noun="program" form={form} known={FIELDS} busy={created.fetching} onSave={create} cancelTo="/programs">
      <ProgramFields form={form} creating />
    </NewItemForm>
  );
}

type Program = NonNullable<AdminProgramQuery["program"]>;

function ProgramPage({ id }: { id: string }) {
  const [result] = useQuery({ query: AdminProgramDocument, variables: { id } });
  return (
    <LoadedItem noun="program" result={result} item={result.data?.program}>
      {(program) => <ProgramDetail key={program.id} program={program} />}
    </LoadedItem>
  );
}

function ProgramDetail({ program }: { program: Program }) {
  const { can } = useViewer();
  return (
    <>
      <p className="breadcrumb">
        <Link to="/programs">Programs</Link>
      </p>
      <ItemHeading title={program.title} />
      {can.edit ? (
        <EditProgram program={program} />
      ) : (
        <ReadOnlyValues
          items={[
            ["Slug", program.slug],
            ["Description", program.description],
            ["Category", program.category],
            ["Language", program.language],
            ["Tags", program.tags.join(", ")],
            ["Updated", dateTime(program.updatedAt)],
          ]}
        />
      )}
      <ItemPublishing item={program} publish={PublishProgramDocument} unpublish={UnpublishProgramDocument} readOnly={!can.edit} />
      <ProgramEpisodes programId={program.id} canEdit={can.edit} />
      {can.edit ? (
        <DeleteItem
          noun="program"
          item={program}
          question={`Delete the program “${program.title}” and all its episodes?`}
          mutation={DeleteProgramDocument}
        />
      ) : null}
    </>
  );
}

function EditProgram({ program }: { program: Program }) {
  const form = useContentForm(() => programValues(program));
  const [updating, updateProgram] = useMutation(UpdateProgramDocument);
  const save = async () => {
    const input = programUpdateInput(form.values, form.initial);
    if (!hasChanges(input)) return form.unchanged();
    const answer = await updateProgram({ id: program.id, input });
    const result = answer.data?.updateProgram;
    if (result?.__typename === "Program") form.savedAs(programValues(result));
    return answerProblem(answer, result);
  };
  return (
    <DetailsForm noun="program" form={form} known={FIELDS} busy={updating.fetching} onSave={save}>
      <ProgramFields form={form} creating={false} />
    </DetailsForm>
  );
}

function ProgramEpisodes({ programId, canEdit }: { programId: string; canEdit: boolean }) {
  const headingId = useId();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }] = useQuery({
    query: ProgramEpisodesDocument,
    variables: {
      id: programId,
      first: PAGE_SIZE,
      after: afterOf(cursors),
      filter: null,
      orderBy: { field: "NUMBER", direction: "ASC" },
    },
  });
  const episodes = data?.program?.episodes;
  return (
    <section aria-labelledby={headingId}>
      <div className="page-head">
        <h2 id={headingId}>Episodes{episodes ? ` (${episodes.totalCount})` : ""}</h2>
        {canEdit ? (
          <Link className="button" to={`/episodes/new?program=${encodeURIComponent(programId)}`}>
            New episode
          </Link>
        ) : null}
      </div>
      {error ? <Notice kind="error">Could not load the episodes: {transportMessage(error)}</Notice> : null}
      {!episodes && fetching ? <p role="status">Loading…</p> : null}
      {episodes ? (
        episodes.edges.length === 0 ? (
          <p>No episodes yet.</p>
        ) : (
          <>
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Episodes of this program</caption>
                <thead>
                  <tr>
                    <th scope="col">Title</th>
                    <th scope="col">Season</th>
                    <th scope="col" aria-sort="ascending">
                      Number
                    </th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {episodes.edges.map(({ node }) => (
                    <tr key={node.id}>
                      <td dir="auto">
                        <Link to={`/episodes/${encodeURIComponent(node.id)}`}>{node.title}</Link>
                      </td>
                      <td>{node.season ?? "—"}</td>
                      <td>{node.number ?? "—"}</td>
                      <td>
                        <StatusBadge status={node.status} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <MorePages label="Episode pages" cursors={cursors} pageInfo={episodes.pageInfo} onChange={setCursors} />
          </>
        )
      ) : null}
    </section>
  );
}
