// A program: create (/programs/new) or edit (/programs/:id) with publishing, deletion and its episodes; viewers
// get the same page read-only.
import { useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { ConfirmButton } from "../../components/ConfirmButton";
import {
  answerProblem,
  FormNotice,
  ReadOnlyValues,
  slugHint,
  TextField,
  useArrivalFocus,
  useArrivalNotice,
  useFocusFirstProblem,
} from "../../components/content/FormParts";
import { PublishControls } from "../../components/content/PublishControls";
import { Notice } from "../../components/Notice";
import { Pager, afterOf } from "../../components/Pager";
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
import { transportMessage, type ResultProblem } from "../../lib/results";
import { useViewer } from "../../viewer";

const FIELDS = ["title", "slug", "description", "category", "language", "tags"];

export function ProgramForm() {
  const { id } = useParams();
  return id ? <ProgramPage id={id} /> : <NewProgram />;
}

function ProgramFields({
  values,
  onChange,
  problem,
  creating,
}: {
  values: ProgramValues;
  onChange: (name: keyof ProgramValues, value: string) => void;
  problem: ResultProblem | null;
  creating: boolean;
}) {
  const error = (name: string) => problem?.fields[name];
  const common = { values, onChange };
  return (
    <>
      <TextField {...common} label="Title" name="title" error={error("title")} content required />
      <TextField
        {...common}
        label="Slug"
        name="slug"
        error={error("slug")}
        hint={slugHint(creating)}
      />
      <TextField {...common} label="Description" name="description" error={error("description")} content multiline />
      <TextField {...common} label="Category" name="category" error={error("category")} content />
      <TextField {...common} label="Language" name="language" error={error("language")} hint="A language tag such as en or fa-IR." />
      <TextField {...common} label="Tags" name="tags" error={error("tags")} hint="Comma separated." content />
    </>
  );
}

function NewProgram() {
  const navigate = useNavigate();
  const [values, setValues] = useState<ProgramValues>(EMPTY_PROGRAM);
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [created, createProgram] = useMutation(CreateProgramDocument);
  const form = useFocusFirstProblem(problem);
  const onChange = (name: keyof ProgramValues, value: string) => setValues((current) => ({ ...current, [name]: value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const answer = await createProgram({ input: programCreateInput(values) });
    const result = answer.data?.createProgram;
    const found = answerProblem(answer, result);
    if (found) return setProblem(found);
    if (result?.__typename === "Program") {
      navigate(`/programs/${encodeURIComponent(result.id)}`, { state: { notice: `Program “${result.title}” created.` } });
    }
  };

  return (
    <>
      <p className="breadcrumb">
        <Link to="/programs">Programs</Link>
      </p>
      <h1>New program</h1>
      <form ref={form} className="content-form" noValidate onSubmit={(event) => void submit(event)}>
        <FormNotice problem={problem} action="create the program" known={FIELDS} />
        <ProgramFields values={values} onChange={onChange} problem={problem} creating />
        <div className="actions">
          <button type="submit" className="primary" disabled={created.fetching}>
            Create program
          </button>
          <Link to="/programs">Cancel</Link>
        </div>
        {created.fetching ? <p role="status">Saving…</p> : null}
      </form>
    </>
  );
}

type Program = NonNullable<AdminProgramQuery["program"]>;

function ProgramPage({ id }: { id: string }) {
  const [{ data, error, fetching }] = useQuery({ query: AdminProgramDocument, variables: { id } });
  if (error && !data) return <Notice kind="error">Could not load the program: {transportMessage(error)}</Notice>;
  if (!data) return fetching ? <p role="status">Loading…</p> : null;
  if (!data.program) {
    return (
      <>
        <h1>Program not found</h1>
        <Notice kind="error">No program has this id, or you may not see it.</Notice>
        <Link to="/programs">Back to programs</Link>
      </>
    );
  }
  return <ProgramDetail key={data.program.id} program={data.program} />;
}

function ProgramDetail({ program }: { program: Program }) {
  const { can } = useViewer();
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  const navigate = useNavigate();
  const [, publish] = useMutation(PublishProgramDocument);
  const [, unpublish] = useMutation(UnpublishProgramDocument);
  const [deleting, deleteProgram] = useMutation(DeleteProgramDocument);
  const [deleteProblem, setDeleteProblem] = useState<string | null>(null);

  const onPublish = async (at: string | null) => {
    const answer = await publish({ id: program.id, at });
    return answerProblem(answer, answer.data?.publishProgram);
  };
  const onUnpublish = async () => {
    const answer = await unpublish({ id: program.id });
    return answerProblem(answer, answer.data?.unpublishProgram);
  };
  const onDelete = async () => {
    setDeleteProblem(null);
    const answer = await deleteProgram({ id: program.id });
    const found = answerProblem(answer, answer.data?.deleteProgram);
    if (found) return setDeleteProblem(found.message);
    navigate("/programs", { state: { notice: `Program “${program.title}” deleted.` } });
  };

  return (
    <>
      <p className="breadcrumb">
        <Link to="/programs">Programs</Link>
      </p>
      <h1 dir="auto" ref={heading} tabIndex={-1}>
        {program.title}
      </h1>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
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
      <PublishControls
        status={program.status}
        publishAt={program.publishAt}
        onPublish={onPublish}
        onUnpublish={onUnpublish}
        readOnly={!can.edit}
      />
      <ProgramEpisodes programId={program.id} canEdit={can.edit} />
      {can.edit ? (
        <section className="danger-zone" aria-label="Delete program">
          <ConfirmButton
            label="Delete"
            question={`Delete the program “${program.title}” and all its episodes?`}
            confirmLabel="Delete"
            disabled={deleting.fetching}
            onConfirm={onDelete}
          />
          {deleteProblem ? <Notice kind="error">Could not delete the program: {deleteProblem}</Notice> : null}
        </section>
      ) : null}
    </>
  );
}

function EditProgram({ program }: { program: Program }) {
  const headingId = useId();
  const [initial, setInitial] = useState<ProgramValues>(() => programValues(program));
  const [values, setValues] = useState<ProgramValues>(initial);
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [updating, updateProgram] = useMutation(UpdateProgramDocument);
  const form = useFocusFirstProblem(problem);
  const onChange = (name: keyof ProgramValues, value: string) => {
    setValues((current) => ({ ...current, [name]: value }));
    setSaved(null);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setSaved(null);
    const input = programUpdateInput(values, initial);
    if (!hasChanges(input)) return setSaved("No changes to save.");
    const answer = await updateProgram({ id: program.id, input });
    const result = answer.data?.updateProgram;
    const found = answerProblem(answer, result);
    if (found) return setProblem(found);
    if (result?.__typename === "Program") {
      const next = programValues(result);
      setInitial(next);
      setValues(next);
      setSaved("Changes saved.");
    }
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Details</h2>
      <form ref={form} className="content-form" noValidate onSubmit={(event) => void submit(event)}>
        <FormNotice problem={problem} action="save the program" known={FIELDS} />
        <ProgramFields values={values} onChange={onChange} problem={problem} creating={false} />
        <div className="actions">
          <button type="submit" className="primary" disabled={updating.fetching}>
            Save changes
          </button>
        </div>
        {updating.fetching ? <p role="status">Saving…</p> : null}
        {saved ? <Notice kind="success">{saved}</Notice> : null}
      </form>
    </section>
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
            {episodes.pageInfo.hasNextPage || cursors.length > 1 ? (
              <Pager
                label="Episode pages"
                cursors={cursors}
                hasNextPage={episodes.pageInfo.hasNextPage}
                endCursor={episodes.pageInfo.endCursor}
                onChange={setCursors}
              />
            ) : null}
          </>
        )
      ) : null}
    </section>
  );
}
