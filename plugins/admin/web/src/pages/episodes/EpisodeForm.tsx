// An episode: create (/episodes/new, ?program=ID preselects its program) or edit (/episodes/:id) with publishing,
// media, review and deletion; viewers get the same page read-only.
import { useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
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
import { Field } from "../../components/Field";
import { EpisodeMedia } from "../../components/media/EpisodeMedia";
import { Notice } from "../../components/Notice";
import {
  AdminEpisodeDocument,
  AdminProgramOptionsDocument,
  CreateEpisodeDocument,
  DeleteEpisodeDocument,
  ProgramDocument,
  PublishEpisodeDocument,
  UnpublishEpisodeDocument,
  UpdateEpisodeDocument,
  type AdminEpisodeQuery,
} from "../../gql/graphql";
import {
  EMPTY_EPISODE,
  episodeCreateInput,
  episodeUpdateInput,
  episodeValues,
  hasChanges,
  type EpisodeValues,
} from "../../lib/contentForms";
import { dateTime } from "../../lib/format";
import { shownStatus } from "../../lib/listState";
import { transportMessage, type ResultProblem } from "../../lib/results";
import { useViewer } from "../../viewer";

const FIELDS = ["programId", "title", "slug", "season", "number", "description"];
/** The most programs the API gives in one page: the program picker lists these, by title. */
const PROGRAM_OPTIONS = 100;

export function EpisodeForm() {
  const { id } = useParams();
  return id ? <EpisodePage id={id} /> : <NewEpisode />;
}

function EpisodeFields({
  values,
  onChange,
  problem,
  creating,
}: {
  values: EpisodeValues;
  onChange: (name: keyof EpisodeValues, value: string) => void;
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
      <div className="field-row">
        <TextField {...common} label="Season" name="season" error={error("season")} inputMode="numeric" />
        <TextField {...common} label="Number" name="number" error={error("number")} inputMode="numeric" />
      </div>
      <TextField {...common} label="Description" name="description" error={error("description")} content multiline />
    </>
  );
}

function ProgramPicker({ value, onChange, error }: { value: string; onChange: (id: string) => void; error: string | undefined }) {
  const [options] = useQuery({ query: AdminProgramOptionsDocument, variables: { first: PROGRAM_OPTIONS } });
  const programs = options.data?.programs.edges.map((edge) => edge.node) ?? [];
  const missing = value !== "" && options.data !== undefined && !programs.some((program) => program.id === value);
  // A preselected program beyond the first page of options is looked up on its own.
  const [chosen] = useQuery({ query: ProgramDocument, variables: { id: value, slug: null }, pause: !missing });
  const extra = missing && chosen.data?.program ? [chosen.data.program] : [];
  const more = options.data?.programs.pageInfo.hasNextPage ?? false;
  return (
    <Field label="Program" error={error} hint={more ? "The first programs by title are listed." : undefined}>
      {(field) => (
        <select {...field} value={value} aria-required onChange={(event) => onChange(event.target.value)}>
          <option value="">{options.fetching && !options.data ? "Loading programs…" : "Choose a program"}</option>
          {[...extra, ...programs].map((program) => (
            <option key={program.id} value={program.id} dir="auto">
              {program.title}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function NewEpisode() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [values, setValues] = useState<EpisodeValues>(() => ({ ...EMPTY_EPISODE, programId: params.get("program") ?? "" }));
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [created, createEpisode] = useMutation(CreateEpisodeDocument);
  const form = useFocusFirstProblem(problem);
  const onChange = (name: keyof EpisodeValues, value: string) => setValues((current) => ({ ...current, [name]: value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const converted = episodeCreateInput(values);
    if (converted.problems) return setProblem({ message: "check the marked fields", fields: converted.problems });
    const answer = await createEpisode({ input: converted.input });
    const result = answer.data?.createEpisode;
    const found = answerProblem(answer, result);
    if (found) return setProblem(found);
    if (result?.__typename === "Episode") {
      navigate(`/episodes/${encodeURIComponent(result.id)}`, { state: { notice: `Episode “${result.title}” created.` } });
    }
  };

  return (
    <>
      <p className="breadcrumb">
        <Link to="/episodes">Episodes</Link>
      </p>
      <h1>New episode</h1>
      <form ref={form} className="content-form" noValidate onSubmit={(event) => void submit(event)}>
        <FormNotice problem={problem} action="create the episode" known={FIELDS} />
        <ProgramPicker value={values.programId} onChange={(id) => onChange("programId", id)} error={problem?.fields.programId} />
        <EpisodeFields values={values} onChange={onChange} problem={problem} creating />
        <div className="actions">
          <button type="submit" className="primary" disabled={created.fetching}>
            Create episode
          </button>
          <Link to={values.programId ? `/programs/${encodeURIComponent(values.programId)}` : "/episodes"}>Cancel</Link>
        </div>
        {created.fetching ? <p role="status">Saving…</p> : null}
      </form>
    </>
  );
}

type Episode = NonNullable<AdminEpisodeQuery["episode"]>;

function EpisodePage({ id }: { id: string }) {
  const [{ data, error, fetching }] = useQuery({ query: AdminEpisodeDocument, variables: { id } });
  if (error && !data) return <Notice kind="error">Could not load the episode: {transportMessage(error)}</Notice>;
  if (!data) return fetching ? <p role="status">Loading…</p> : null;
  if (!data.episode) {
    return (
      <>
        <h1>Episode not found</h1>
        <Notice kind="error">No episode has this id, or you may not see it.</Notice>
        <Link to="/episodes">Back to episodes</Link>
      </>
    );
  }
  return <EpisodeDetail key={data.episode.id} episode={data.episode} />;
}

function EpisodeDetail({ episode }: { episode: Episode }) {
  const { can } = useViewer();
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  const navigate = useNavigate();
  const [, publish] = useMutation(PublishEpisodeDocument);
  const [, unpublish] = useMutation(UnpublishEpisodeDocument);
  const [deleting, deleteEpisode] = useMutation(DeleteEpisodeDocument);
  const [deleteProblem, setDeleteProblem] = useState<string | null>(null);
  const program = episode.program;
  const programLive = shownStatus(program.status, program.publishAt) === "PUBLISHED";

  const onPublish = async (at: string | null) => {
    const answer = await publish({ id: episode.id, at });
    return answerProblem(answer, answer.data?.publishEpisode);
  };
  const onUnpublish = async () => {
    const answer = await unpublish({ id: episode.id });
    return answerProblem(answer, answer.data?.unpublishEpisode);
  };
  const onDelete = async () => {
    setDeleteProblem(null);
    const answer = await deleteEpisode({ id: episode.id });
    const found = answerProblem(answer, answer.data?.deleteEpisode);
    if (found) return setDeleteProblem(found.message);
    navigate("/episodes", { state: { notice: `Episode “${episode.title}” deleted.` } });
  };

  return (
    <>
      <p className="breadcrumb">
        <Link to="/episodes">Episodes</Link>
        <span aria-hidden="true"> / </span>
        <Link to={`/programs/${encodeURIComponent(program.id)}`} dir="auto">
          {program.title}
        </Link>
      </p>
      <h1 dir="auto" ref={heading} tabIndex={-1}>
        {episode.title}
      </h1>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
      <p className="actions">
        <Link className="button" to={`/episodes/${encodeURIComponent(episode.id)}/review`}>
          Review
        </Link>
      </p>
      {can.edit ? (
        <EditEpisode episode={episode} />
      ) : (
        <ReadOnlyValues
          items={[
            ["Program", program.title],
            ["Slug", episode.slug],
            ["Season", episode.season],
            ["Number", episode.number],
            ["Description", episode.description],
            ["Updated", dateTime(episode.updatedAt)],
          ]}
        />
      )}
      <PublishControls
        status={episode.status}
        publishAt={episode.publishAt}
        onPublish={onPublish}
        onUnpublish={onUnpublish}
        readOnly={!can.edit}
      />
      {programLive ? null : (
        <p className="hint">
          Its program is not public yet, so this episode stays hidden from the public until the program is published too.
        </p>
      )}
      <EpisodeMedia episodeId={episode.id} canEdit={can.edit} />
      {can.edit ? (
        <section className="danger-zone" aria-label="Delete episode">
          <ConfirmButton
            label="Delete"
            question={`Delete the episode “${episode.title}”?`}
            confirmLabel="Delete"
            disabled={deleting.fetching}
            onConfirm={onDelete}
          />
          {deleteProblem ? <Notice kind="error">Could not delete the episode: {deleteProblem}</Notice> : null}
        </section>
      ) : null}
    </>
  );
}

function EditEpisode({ episode }: { episode: Episode }) {
  const headingId = useId();
  const [initial, setInitial] = useState<EpisodeValues>(() => episodeValues(episode));
  const [values, setValues] = useState<EpisodeValues>(initial);
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [updating, updateEpisode] = useMutation(UpdateEpisodeDocument);
  const form = useFocusFirstProblem(problem);
  const onChange = (name: keyof EpisodeValues, value: string) => {
    setValues((current) => ({ ...current, [name]: value }));
    setSaved(null);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setSaved(null);
    const converted = episodeUpdateInput(values, initial);
    if (converted.problems) return setProblem({ message: "check the marked fields", fields: converted.problems });
    if (!hasChanges(converted.input)) return setSaved("No changes to save.");
    const answer = await updateEpisode({ id: episode.id, input: converted.input });
    const result = answer.data?.updateEpisode;
    const found = answerProblem(answer, result);
    if (found) return setProblem(found);
    if (result?.__typename === "Episode") {
      const next = episodeValues({ ...result, program: episode.program });
      setInitial(next);
      setValues(next);
      setSaved("Changes saved.");
    }
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Details</h2>
      <p>
        Program:{" "}
        <Link to={`/programs/${encodeURIComponent(episode.program.id)}`} dir="auto">
          {episode.program.title}
        </Link>
      </p>
      <form ref={form} className="content-form" noValidate onSubmit={(event) => void submit(event)}>
        <FormNotice problem={problem} action="save the episode" known={FIELDS} />
        <EpisodeFields values={values} onChange={onChange} problem={problem} creating={false} />
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
