// The program and episode forms: their state (values as typed, the last save's problem and outcome), and the two
// frames they are shown in: a "New …" page, and the Details section of an item's page.
import { useId, useState, type FormEvent, type ReactNode } from "react";
import { Link } from "react-router-dom";
import { capitalised } from "../../lib/format";
import type { ResultProblem } from "../../lib/results";
import { Notice } from "../Notice";
import { FormNotice, useFocusFirstProblem, type FormBinding } from "./FormParts";
import type { ContentNoun } from "./ItemPage";

export interface ContentFormState<V extends object> extends FormBinding<V> {
  /** The values last saved (what an update is compared with). */
  initial: V;
  /** What the last save said when it worked. */
  saved: string | null;
  /** The form's element: focus goes to its first rejected field after a failed save. */
  form: ReturnType<typeof useFocusFirstProblem>;
  /** Nothing to save: says so (and has no problem to show). */
  unchanged: () => null;
  /** Saved: the form now holds (and starts from) what the API answered. */
  savedAs: (values: V) => void;
  /** The submit handler for `save`, which answers the problem to show, or null. */
  submitWith: (save: () => Promise<ResultProblem | null>) => (event: FormEvent) => Promise<void>;
}

export function useContentForm<V extends object>(start: V | (() => V)): ContentFormState<V> {
  const [initial, setInitial] = useState<V>(start);
  const [values, setValues] = useState<V>(initial);
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const form = useFocusFirstProblem(problem);
  return {
    values,
    initial,
    problem,
    saved,
    form,
    onChange: (name, value) => {
      setValues((current) => ({ ...current, [name]: value }));
      setSaved(null);
    },
    unchanged: () => {
      setSaved("No changes to save.");
      return null;
    },
    savedAs: (next) => {
      setInitial(next);
      setValues(next);
      setSaved("Changes saved.");
    },
    submitWith: (save) => async (event) => {
      event.preventDefault();
      setProblem(null);
      setSaved(null);
      const found = await save();
      if (found) setProblem(found);
    },
  };
}

interface FrameProps<V extends object> {
  noun: ContentNoun;
  form: ContentFormState<V>;
  /** The field names the form has controls for (the API's messages for others go in the form's notice). */
  known: readonly string[];
  /** The mutation is on its way. */
  busy: boolean;
  onSave: () => Promise<ResultProblem | null>;
  children: ReactNode;
}

function ContentForm<V extends object>({ form, known, busy, onSave, action, submit, after, children }: Omit<FrameProps<V>, "noun"> & {
  action: string;
  submit: string;
  /** Beside the submit button. */
  after?: ReactNode;
}) {
  return (
    <form ref={form.form} className="content-form" noValidate onSubmit={(event) => void form.submitWith(onSave)(event)}>
      <FormNotice problem={form.problem} action={action} known={known} />
      {children}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {submit}
        </button>
        {after}
      </div>
      {busy ? <p role="status">Saving…</p> : null}
      {form.saved ? <Notice kind="success">{form.saved}</Notice> : null}
    </form>
  );
}

/** The "New program" / "New episode" page: breadcrumb, heading and the form, with Cancel going to `cancelTo`. */
export function NewItemForm<V extends object>({ noun, cancelTo, ...props }: FrameProps<V> & { cancelTo: string }) {
  return (
    <>
      <p className="breadcrumb">
        <Link to={`/${noun}s`}>{capitalised(noun)}s</Link>
      </p>
      <h1>New {noun}</h1>
      <ContentForm {...props} action={`create the ${noun}`} submit={`Create ${noun}`} after={<Link to={cancelTo}>Cancel</Link>} />
    </>
  );
}

/** An item's Details section: its editable fields (`intro` goes between the heading and the form). */
export function DetailsForm<V extends object>({ noun, intro, ...props }: FrameProps<V> & { intro?: ReactNode }) {
  const headingId = useId();
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>Details</h2>
      {intro}
      <ContentForm {...props} action={`save the ${noun}`} submit="Save changes" />
    </section>
  );
}
