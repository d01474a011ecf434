// An episode: create (/episodes/new, ?program=ID preselects its program) or edit (/episodes/:id) with publishing,
// media, review and deletion; viewers get the same page read-only.
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useMutation, useQuery } from "urql";
import { DetailsForm, NewItemForm, useContentForm } from "../../components/content/ContentForm";
import {
  answerProblem,
  markedFields,
  ReadOnlyValues,
  TextField,
  TitleAndSlug,
  type FormBinding,
} from "../../components/content/FormParts";
import { DeleteItem, ItemHeading, LoadedItem, useOpenCreated } from "../../components/content/ItemPage";
import { ItemPublishing } from "../../components/content/PublishControls";
import { Field } from "../../components/Field";
import { EpisodeMedia } from "../../components/media/EpisodeMedia";
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
import { useViewer } from "../../viewer";

const FIELDS = ["programId", "title", "slug", "season", "number", "description"];
/** The most programs the API gives in one page: the program picker lists these, by title. */
const PROGRAM_OPTIONS = 100;

export function EpisodeForm() {
  const { id } = useParams();
  return id ? <EpisodePage id={id} /> : <NewEpisode />;
}

function EpisodeFields({ form, creating }: { form: FormBinding<EpisodeValues>; creating: boolean }) {
  return (
    <>
      <TitleAndSlug form={form} creating={creating} />
      <div className="field-row">
        <TextField form={form} label="Season" name="season" inputMode="numeric" />
        <TextField form={form} label="Number" name="number" inputMode="numeric" />
      </div>
      <TextField form={form} label="Description" name="description" content multiline />
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
  const [params] = useSearchParams();
  const form = useContentForm<EpisodeValues>(() => ({ ...EMPTY_EPISODE, programId: params.get("program") ?? "" }));
  const opened = useOpenCreated("episode");
  const [created, createEpisode] = useMutation(CreateEpisodeDocument);
  const create = async () => {
    const converted = episodeCreateInput(form.values);
    if (converted.problems) return markedFields(converted.problems);
    const answer = await createEpisode({ input: converted.input });
    return opened(answer, answer.data?.createEpisode);
  };
  const { programId } = form.values;
  return (
    <NewItemForm
      noun="episode"
      form={form}
      known={FIELDS}
      busy={created.fetching}
      onSave={create}
      cancelTo={programId ? `/programs/${encodeURIComponent(programId)}` : "/episodes"}
    >
      <ProgramPicker value={programId} onChange={(id) => form.onChange("programId", id)} error={form.problem?.fields.programId} />
      <EpisodeFields form={form} creating />
    </NewItemForm>
  );
}

type Episode = NonNullable<AdminEpisodeQuery["episode"]>;

function EpisodePage({ id }: { id: string }) {
  const [result] = useQuery({ query: AdminEpisodeDocument, variables: { id } });
  return (
    <LoadedItem noun="episode" result={result} item={result.data?.episode}>
      {(episode) => <EpisodeDetail key={episode.id} episode={episode} />}
    </LoadedItem>
  );
}

function EpisodeDetail({ episode }: { episode: Episode }) {
  const { can } = useViewer();
  const program = episode.program;
  const programLive = shownStatus(program.status, program.publishAt) === "PUBLISHED";
  return (
    <>
      <p className="breadcrumb">
        <Link to="/episodes">Episodes</Link>
        <span aria-hidden="true"> / </span>
        <ProgramLink program={program} />
      </p>
      <ItemHeading title={episode.title} />
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
      <ItemPublishing item={episode} publish={PublishEpisodeDocument} unpublish={UnpublishEpisodeDocument} readOnly={!can.edit} />
      {programLive ? null : (
        <p className="hint">
          Its program is not public yet, so this episode stays hidden from the public until the program is published too.
        </p>
      )}
      <EpisodeMedia episodeId={episode.id} canEdit={can.edit} />
      {can.edit ? (
        <DeleteItem
          noun="episode"
          item={episode}
          question={`Delete the episode “${episode.title}”?`}
          mutation={DeleteEpisodeDocument}
        />
      ) : null}
    </>
  );
}

function ProgramLink({ program }: { program: Episode["program"] }) {
  return (
    <Link to={`/programs/${encodeURIComponent(program.id)}`} dir="auto">
      {program.title}
    </Link>
  );
}

function EditEpisode({ episode }: { episode: Episode }) {
  const form = useContentForm(() => episodeValues(episode));
  const [updating, updateEpisode] = useMutation(UpdateEpisodeDocument);
  const save = async () => {
    const converted = episodeUpdateInput(form.values, form.initial);
    if (converted.problems) return markedFields(converted.problems);
    if (!hasChanges(converted.input)) return form.unchanged();
    const answer = await updateEpisode({ id: episode.id, input: converted.input });
    const result = answer.data?.updateEpisode;
    if (result?.__typename === "Episode") form.savedAs(episodeValues({ ...result, program: episode.program }));
    return answerProblem(answer, result);
  };
  const intro = (
    <p>
      Program: <ProgramLink program={episode.program} />
    </p>
  );
  return (
    <DetailsForm noun="episode" form={form} known={FIELDS} busy={updating.fetching} onSave={save} intro={intro}>
      <EpisodeFields form={form} creating={false} />
    </DetailsForm>
  );
}
