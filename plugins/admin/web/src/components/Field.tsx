// A labelled form control with its error beside it: the API's field message, announced to screen readers.
import { useId, type ReactNode } from "react";

/** A control's id and the ids of its context note, hint and error (each only when present), and the
 * `aria-describedby` that names them in that order. */
export function useFieldIds({ context, hint, error }: { context?: unknown; hint?: unknown; error?: unknown }) {
  const id = useId();
  const contextId = context ? `${id}-context` : undefined;
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [contextId, hintId, errorId].filter(Boolean).join(" ") || undefined;
  return { id, contextId, hintId, errorId, describedBy };
}

type FieldIds = ReturnType<typeof useFieldIds>;

/** The hint and the error under a control (the error is what `data-testid="field-error"` finds). */
export function FieldNotes({ ids, hint, error }: { ids: FieldIds; hint?: ReactNode; error?: string | undefined }) {
  return (
    <>
      {hint ? (
        <p className="hint" id={ids.hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={ids.errorId} data-testid="field-error">
          {error}
        </p>
      ) : null}
    </>
  );
}

interface FieldProps {
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby": string | undefined }) => ReactNode;
}

export function Field({ label, error, hint, children }: FieldProps) {
  const ids = useFieldIds({ hint, error });
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={ids.id}>{label}</label>
      {children({ id: ids.id, "aria-invalid": Boolean(error), "aria-describedby": ids.describedBy })}
      <FieldNotes ids={ids} hint={hint} error={error} />
    </div>
  );
}

export interface Choice<T extends string = string> {
  value: T;
  label: string;
}

interface SelectFieldProps<T extends string> {
  label: string;
  value: T;
  choices: readonly Choice<T>[];
  onChange: (value: T) => void;
  hint?: ReactNode;
  disabled?: boolean;
}

/** A labelled <select> of fixed choices. */
export function SelectField<T extends string>({ label, value, choices, onChange, hint, disabled }: SelectFieldProps<T>) {
  return (
    <Field label={label} hint={hint}>
      {(field) => (
        <select {...field} value={value} disabled={disabled} onChange={(event) => onChange(event.target.value as T)}>
          {choices.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
