// Pieces the program and episode forms share: the notice a page arrives with, read-only values, the mutations'
// answers as one problem, focus on the first field the API rejected, and the fields bound to the form's values.
import { useEffect, useRef, type ReactNode } from "react";
import { useLocation } from "react-router-dom";
import type { CombinedError } from "urql";
import { problemOf, transportMessage, type ResultProblem } from "../../lib/results";
import { Field } from "../Field";
import { Notice } from "../Notice";

/** What a page was sent with (`navigate(to, { state: { notice } })`), e.g. "Program created.". */
export function useArrivalNotice(): string | undefined {
  const location = useLocation();
  return (location.state as { notice?: string } | null)?.notice;
}

/** Arriving with a notice (after create or delete), focus goes to the page's heading (give it tabIndex -1). */
export function useArrivalFocus<T extends HTMLElement>(notice: string | undefined) {
  const heading = useRef<T>(null);
  useEffect(() => {
    if (notice) heading.current?.focus();
  }, [notice]);
  return heading;
}

type Union = Parameters<typeof problemOf>[0];

/** One problem for the whole answer: a transport failure, a missing result, or the typed error. */
export function answerProblem(answer: { data?: unknown; error?: CombinedError | undefined }, result: Union): ResultProblem | null {
  if (answer.error && !result) return { message: transportMessage(answer.error), fields: {} };
  if (!result) return { message: "The API gave no answer.", fields: {} };
  return problemOf(result);
}

/** A mutation's answer holds one field (besides __typename): its result. */
function onlyResult(data: object | undefined): Union {
  const entry = Object.entries(data ?? {}).find(([key]) => key !== "__typename");
  return entry?.[1] as Union;
}

/** The problem with a mutation's one result, or null when it worked (publish, unpublish, delete). */
export function mutationProblem(answer: { data?: object | undefined; error?: CombinedError | undefined }): ResultProblem | null {
  return answerProblem(answer, onlyResult(answer.data));
}

/** The problem for field messages found before asking the API. */
export const markedFields = (fields: Record<string, string>): ResultProblem => ({ message: "check the marked fields", fields });

/** Move focus to the first invalid control inside `form` after a failed save (or to the alert when none). */
export function useFocusFirstProblem(trigger: unknown) {
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (!trigger || !form.current) return;
    const find = (selector: string) => form.current?.querySelector<HTMLElement>(selector) ?? null;
    const target = find('[aria-invalid="true"]') ?? find('[role="alert"]');
    if (target) {
      if (target.getAttribute("role") === "alert") target.tabIndex = -1;
      target.focus();
    }
  }, [trigger]);
  return form;
}

const slugHint = (creating: boolean) =>
  creating ? "Optional: made from the title when left blank." : "Letters and digits separated by dashes; blank keeps the current one.";

/** The Title and Slug fields every program and episode form starts with. */
export function TitleAndSlug<V extends { title: string; slug: string }>({ form, creating }: { form: FormBinding<V>; creating: boolean }) {
  return (
    <>
      <TextField form={form} label="Title" name="title" content required />
      <TextField form={form} label="Slug" name="slug" hint={slugHint(creating)} />
    </>
  );
}

/** Values shown as text for readers without the edit role. */
export function ReadOnlyValues({ items }: { items: readonly [string, ReactNode][] }) {
  return (
    <dl className="values">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd dir="auto">{value === "" || value === null || value === undefined ? "—" : value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Field messages for fields the form has no control for, appended to the form's notice. */
export function otherFieldMessages(problem: ResultProblem, known: readonly string[]): string[] {
  return Object.entries(problem.fields)
    .filter(([field]) => !known.includes(field))
    .map(([field, message]) => `${field}: ${message}`);
}

/** What a field needs of its form: the values as typed, the change handler and the last save's problem. */
export interface FormBinding<V extends object> {
  values: V;
  onChange: (name: keyof V & string, value: string) => void;
  problem: ResultProblem | null;
}

interface TextFieldProps<V extends object> {
  form: FormBinding<V>;
  label: string;
  name: keyof V & string;
  hint?: ReactNode;
  multiline?: boolean;
  /** Content in any script (titles, descriptions) lays out by its own direction. */
  content?: boolean;
  required?: boolean;
  inputMode?: "numeric" | "text";
  autoComplete?: string;
}

/** One labelled text input (or textarea) bound to a field of the form's values, the API's error for it beside it. */
export function TextField<V extends object>(props: TextFieldProps<V>) {
  const { form, label, name, hint, multiline, content, required, inputMode } = props;
  const { onChange } = form;
  const value = String((form.values as Record<string, unknown>)[name] ?? "");
  return (
    <Field label={label} error={form.problem?.fields[name]} hint={hint}>
      {(field) =>
        multiline ? (
          <textarea
            {...field}
            name={name}
            dir={content ? "auto" : undefined}
            value={value}
            aria-required={required || undefined}
            onChange={(event) => onChange(name, event.target.value)}
          />
        ) : (
          <input
            {...field}
            type="text"
            name={name}
            dir={content ? "auto" : undefined}
            value={value}
            inputMode={inputMode}
            autoComplete={props.autoComplete ?? "off"}
            aria-required={required || undefined}
            onChange={(event) => onChange(name, event.target.value)}
          />
        )
      }
    </Field>
  );
}

/** The form's own notice for a failed save: the API's message, and messages for fields without a control here. */
export function FormNotice({ problem, action, known }: { problem: ResultProblem | null; action: string; known: readonly string[] }) {
  if (!problem) return null;
  const others = otherFieldMessages(problem, known);
  const marked = Object.keys(problem.fields).length > others.length;
  return (
    <Notice kind="error">
      Could not {action}: {problem.message}
      {marked ? ". See the marked fields." : null}
      {others.length ? ` (${others.join("; ")})` : null}
    </Notice>
  );
}
