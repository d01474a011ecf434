// A labelled checkbox with its hint and the API's error beside it (the box before its label, as forms expect).
import { useId, type ReactNode } from "react";

interface CheckFieldProps {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: ReactNode;
  error?: string | undefined;
  name?: string;
  /** Said after the label by screen readers (not part of the name): which field a "remove" box belongs to. */
  context?: string;
}

export function CheckField({ label, checked, onChange, hint, error, name, context }: CheckFieldProps) {
  const id = useId();
  const contextId = context ? `${id}-context` : undefined;
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [contextId, hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={error ? "field field-check field-invalid" : "field field-check"}>
      <div className="check-row">
        <input
          type="checkbox"
          id={id}
          name={name}
          checked={checked}
          aria-invalid={Boolean(error)}
          aria-describedby={describedBy}
          onChange={(event) => onChange(event.target.checked)}
        />
        <label htmlFor={id}>{label}</label>
        {context ? (
          <span id={contextId} className="visually-hidden">
            {context}
          </span>
        ) : null}
      </div>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId} data-testid="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
