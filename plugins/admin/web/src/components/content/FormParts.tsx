// Pieces the program and episode forms share: the notice a page arrives with, read-only values, the mutations'
// answers as one problem, and focus on the first field the API rejected.
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

export const slugHint = (creating: boolean) =>
  creating ? "Optional: made from the title when left blank." : "Letters and digits separated by dashes; blank keeps the current one.";

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

interface TextFieldProps<V extends object> {
  label: string;
  name: keyof V & string;
  values: V;
  onChange: (name: keyof V & string, value: string) => void;
  error?: string | undefined;
  hint?: ReactNode;
  multiline?: boolean;
  /** Content in any script (titles, descriptions) lays out by its own direction. */
  content?: boolean;
  required?: boolean;
  inputMode?: "numeric" | "text";
  autoComplete?: string;
}

/** One labelled text input (or textarea) bound to a field of the form's values, its error beside it. */
export function TextField<V extends object>(props: TextFieldProps<V>) {
  const { label, name, values, onChange, error, hint, multiline, content, required, inputMode } = props;
  const value = String((values as Record<string, unknown>)[name] ?? "");
  return (
    <Field label={label} error={error} hint={hint}>
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
