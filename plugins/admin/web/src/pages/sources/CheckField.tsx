// A labelled checkbox with its hint and the API's error beside it (the box before its label, as forms expect).
import type { ReactNode } from "react";
import { FieldNotes, useFieldIds } from "../../components/Field";

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
  const ids = useFieldIds({ context, hint, error });
  return (
    <div className={error ? "field field-check field-invalid" : "field field-check"}>
      <div className="check-row">
        <input
          type="checkbox"
          id={ids.id}
          name={name}
          checked={checked}
          aria-invalid={Boolean(error)}
          aria-describedby={ids.describedBy}
          onChange={(event) => onChange(event.target.checked)}
        />
        <label htmlFor={ids.id}>{label}</label>
        {context ? (
          <span id={ids.contextId} className="visually-hidden">
            {context}
          </span>
        ) : null}
      </div>
      <FieldNotes ids={ids} hint={hint} error={error} />
    </div>
  );
}
