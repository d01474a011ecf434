// The form of a source, new or existing: the common fields, then the kind's config fields as its plugin describes
// them (see ./config.ts), each with the API's message beside it. What the editor typed stays when the API refuses it.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import {
  CreateSourceDocument,
  UpdateSourceDocument,
  type CreateSourceInput,
  type UpdateSourceInput,
} from "../../gql/graphql";
import { problemOf, transportMessage } from "../../lib/results";
import { CheckField } from "./CheckField";
import {
  formFields,
  initialValues,
  kindTitle,
  splitErrors,
  toCreateInput,
  toUpdateInput,
  type ExistingSource,
  type FormField,
  type KindInfo,
  type SourceFormValues,
  type SplitErrors,
} from "./config";
import type { ProgramOptions } from "./programs";

export interface EditedSource extends ExistingSource {
  id: string;
}

interface SourceEditorProps {
  kinds: readonly KindInfo[];
  programs: ProgramOptions;
  /** The source to edit; absent: a new one. */
  source?: EditedSource;
  onCreated?: (id: string) => void;
}

const NO_ERRORS: SplitErrors = { fields: {}, config: {} };

function kindInfo(kinds: readonly KindInfo[], kind: string, source?: EditedSource): KindInfo {
  return kinds.find((item) => item.kind === kind) ?? { kind, secretFields: source?.secretsSet ?? [] };
}

export function SourceEditor({ kinds, programs, source, onCreated }: SourceEditorProps) {
  const editing = source !== undefined;
  const firstKind = source?.kind ?? kinds[0]?.kind ?? "";
  const [values, setValues] = useState<SourceFormValues>(() =>
    initialValues(formFields(kindInfo(kinds, firstKind, source)), firstKind, source),
  );
  const kind = useMemo(() => kindInfo(kinds, values.kind, source), [kinds, values.kind, source]);
  const fields = useMemo(() => formFields(kind), [kind]);
  const [errors, setErrors] = useState<SplitErrors>(NO_ERRORS);
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const busy = useRef(false);
  const form = useRef<HTMLFormElement>(null);
  const alert = useRef<HTMLDivElement>(null);
  const [createState, create] = useMutation(CreateSourceDocument);
  const [updateState, update] = useMutation(UpdateSourceDocument);
  const saving = createState.fetching || updateState.fetching;

  // After a refused save: focus the first field marked invalid, or the message when no field owns the problem.
  useEffect(() => {
    if (attempt === 0 || problem === null) return;
    const invalid = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    (invalid ?? alert.current)?.focus();
  }, [attempt, problem]);

  const setConfig = (name: string, value: string | boolean) =>
    setValues((current) => ({ ...current, config: { ...current.config, [name]: value } }));

  const changeKind = (next: string) => {
    setValues((current) => {
      const fresh = initialValues(formFields(kindInfo(kinds, next)), next);
      const config = { ...fresh.config };
      for (const [name, value] of Object.entries(current.config)) {
        if (name in config && value !== "" && value !== false) config[name] = value;
      }
      return { ...current, kind: next, config };
    });
    setErrors(NO_ERRORS);
  };

  const refused = (message: string, split: SplitErrors) => {
    setErrors(split);
    setProblem(message);
    setSaved(null);
    setAttempt((count) => count + 1);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy.current) return;
    const configNames = fields.map((field) => field.name);
    const built = source ? toUpdateInput(fields, values, source) : toCreateInput(fields, values);
    if (built.errors) {
      const { scheduleMinutes, ...config } = built.errors;
      refused("The source was not saved: see the messages beside the fields.", {
        fields: scheduleMinutes ? { scheduleMinutes } : {},
        config,
      });
      return;
    }
    busy.current = true;
    setSaved(null);
    try {
      const result = source
        ? await update({ id: source.id, input: built.input as UpdateSourceInput })
        : await create({ input: built.input as CreateSourceInput });
      if (result.error) {
        refused(`The source was not saved: ${transportMessage(result.error)}`, NO_ERRORS);
        return;
      }
      const answer = result.data && ("updateSource" in result.data ? result.data.updateSource : result.data.createSource);
      const found = problemOf(answer);
      if (found || !answer || answer.__typename !== "Source") {
        const split = splitErrors(answer && "fields" in answer ? answer.fields : [], configNames);
        const owned = Object.keys(split.fields).length + Object.keys(split.config).length > 0 || split.configGeneral;
        refused(
          owned ? "The source was not saved: see the messages beside the fields." : `The source was not saved: ${found?.message ?? "no answer"}`,
          split,
        );
        return;
      }
      setErrors(NO_ERRORS);
      setProblem(null);
      if (source) {
        const next: EditedSource = { ...source, ...answer, kind: source.kind };
        setValues(initialValues(formFields(kindInfo(kinds, next.kind, next)), next.kind, next));
        setSaved("Changes saved.");
      } else {
        onCreated?.(answer.id);
      }
    } finally {
      busy.current = false;
    }
  };

  const programChoices = programs.programs.some((program) => program.id === values.programId) || !values.programId
    ? programs.programs
    : [...programs.programs, { id: values.programId, title: `Program ${values.programId}` }];

  return (
    <form ref={form} className="source-form" noValidate onSubmit={(event) => void submit(event)}>
      {problem ? (
        <div ref={alert} tabIndex={-1}>
          <Notice kind="error">{problem}</Notice>
        </div>
      ) : null}
      {!editing ? (
        <Field label="Kind" error={errors.fields.kind} hint="The ingest source plugin: where episodes come from.">
          {(props) => (
            <select {...props} required value={values.kind} onChange={(event) => changeKind(event.target.value)}>
              {kinds.map((option) => (
                <option key={option.kind} value={option.kind}>
                  {kindTitle(option)}
                </option>
              ))}
            </select>
          )}
        </Field>
      ) : null}
      <Field label="Name" error={errors.fields.name} hint="Required. Shown to editors only.">
        {(props) => (
          <input
            {...props}
            type="text"
            dir="auto"
            required
            autoComplete="off"
            value={values.name}
            onChange={(event) => setValues((current) => ({ ...current, name: event.target.value }))}
          />
        )}
      </Field>
      <Field
        label="Program"
        error={errors.fields.programId}
        hint={
          programs.error
            ? `Required. The programs could not be loaded: ${programs.error}`
            : programs.truncated
              ? "Required. New episodes go into this program (only the first 2,000 programs by title are listed)."
              : "Required. New episodes go into this program."
        }
      >
        {(props) => (
          <select
            {...props}
            required
            value={values.programId}
            onChange={(event) => setValues((current) => ({ ...current, programId: event.target.value }))}
          >
            <option value="">{programs.loading ? "Loading programs…" : "Choose a program"}</option>
            {programChoices.map((program) => (
              <option key={program.id} value={program.id} dir="auto">
                {program.title}
              </option>
            ))}
          </select>
        )}
      </Field>
      <fieldset className="config-fields">
        <legend>{`${kind.label || kind.kind} settings`}</legend>
        {kind.description ? <p className="hint">{kind.description}</p> : null}
        {errors.configGeneral ? (
          <p className="field-error" data-testid="field-error">
            {errors.configGeneral}
          </p>
        ) : null}
        {fields.map((field) => (
          <ConfigControl
            key={`${values.kind}:${field.name}`}
            field={field}
            value={values.config[field.name]}
            onChange={(value) => setConfig(field.name, value)}
            error={errors.config[field.name]}
            isSet={Boolean(source?.secretsSet.includes(field.name))}
            remove={Boolean(values.removeSecrets[field.name])}
            onRemove={(remove) =>
              setValues((current) => ({ ...current, removeSecrets: { ...current.removeSecrets, [field.name]: remove } }))
            }
          />
        ))}
      </fieldset>
      <Field
        label="Run every (minutes)"
        error={errors.fields.scheduleMinutes}
        hint="An interval in minutes, 5 to 10,080 (a week), e.g. 60 for hourly. Empty: only when asked (Run now)."
      >
        {(props) => (
          <input
            {...props}
            type="number"
            inputMode="numeric"
            min={5}
            max={10080}
            step={1}
            value={values.scheduleMinutes}
            onChange={(event) => setValues((current) => ({ ...current, scheduleMinutes: event.target.value }))}
          />
        )}
      </Field>
      <CheckField
        label="Enabled"
        checked={values.enabled}
        error={errors.fields.enabled}
        hint="Runs on its schedule. A paused source runs only with Run now."
        onChange={(enabled) => setValues((current) => ({ ...current, enabled }))}
      />
      <CheckField
        label="Auto-publish new episodes"
        checked={values.autoPublish}
        error={errors.fields.autoPublish}
        hint="Publish each new episode once its media is ready; otherwise it waits as a draft."
        onChange={(autoPublish) => setValues((current) => ({ ...current, autoPublish }))}
      />
      <div className="actions">
        <button type="submit" className="primary">
          {editing ? "Save changes" : "Create source"}
        </button>
        <span role="status" className="save-status">
          {saving ? "Saving…" : saved}
        </span>
      </div>
    </form>
  );
}

interface ConfigControlProps {
  field: FormField;
  value: string | boolean | undefined;
  onChange: (value: string | boolean) => void;
  error: string | undefined;
  /** A secret field that has a stored value. */
  isSet: boolean;
  remove: boolean;
  onRemove: (remove: boolean) => void;
}

function ConfigControl({ field, value, onChange, error, isSet, remove, onRemove }: ConfigControlProps) {
  const text = typeof value === "string" ? value : "";
  const required = field.required && !(field.secret && isSet);
  const hint = [required ? "Required." : null, field.hint ?? null].filter(Boolean).join(" ") || undefined;
  if (field.control === "checkbox") {
    return <CheckField label={field.label} checked={value === true} hint={field.hint} error={error} onChange={onChange} />;
  }
  if (field.secret) {
    const secretHint = isSet
      ? [
          <span key="set" className="badge badge-set">
            set
          </span>,
          " Stored write-only and never shown: type a new value to replace it, leave empty to keep it.",
          field.hint ? ` ${field.hint}` : "",
        ]
      : [required ? "Required. " : "", "Write-only: once saved it is never shown again.", field.hint ? ` ${field.hint}` : ""];
    return (
      <div className="secret-field">
        <Field label={field.label} error={error} hint={secretHint}>
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete="new-password"
              spellCheck={false}
              required={required}
              placeholder={isSet ? "•••••••• (set)" : undefined}
              disabled={remove}
              value={text}
              onChange={(event) => onChange(event.target.value)}
            />
          )}
        </Field>
        {isSet && !field.required ? (
          <CheckField label="Remove the stored value" context={field.label} checked={remove} onChange={onRemove} />
        ) : null}
      </div>
    );
  }
  return (
    <Field label={field.label} error={error} hint={hint}>
      {(props) => {
        switch (field.control) {
          case "select":
            return (
              <select {...props} required={required} value={text} onChange={(event) => onChange(event.target.value)}>
                {required || field.initial !== undefined ? null : <option value="">(none)</option>}
                {(field.options ?? []).map((option) => (
                  <option key={option} value={option}>
                    {option}
                  </option>
                ))}
              </select>
            );
          case "textarea":
            return (
              <textarea
                {...props}
                required={required}
                spellCheck={false}
                dir="ltr"
                value={text}
                onChange={(event) => onChange(event.target.value)}
              />
            );
          case "number":
            return (
              <input
                {...props}
                type="number"
                inputMode="numeric"
                step={1}
                min={field.min}
                max={field.max}
                placeholder={field.placeholder}
                required={required}
                value={text}
                onChange={(event) => onChange(event.target.value)}
              />
            );
          default:
            return (
              <input
                {...props}
                type={field.control === "url" ? "url" : "text"}
                inputMode={field.control === "url" ? "url" : undefined}
                dir="ltr"
                spellCheck={false}
                autoComplete="off"
                placeholder={field.placeholder}
                required={required}
                value={text}
                onChange={(event) => onChange(event.target.value)}
              />
            );
        }
      }}
    </Field>
  );
}
