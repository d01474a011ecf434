// A destructive action asks first, in a modal <dialog> (focus trapped and restored by the browser, Esc cancels).
import { useRef, type ReactNode } from "react";

interface ConfirmButtonProps {
  label: ReactNode;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void | Promise<void>;
  disabled?: boolean;
  className?: string;
}

export function ConfirmButton({ label, question, confirmLabel = "Delete", onConfirm, disabled, className }: ConfirmButtonProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button type="button" className={className ?? "danger"} disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-label={question}>
        <form
          method="dialog"
          onSubmit={(event) => {
            const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
            if (submitter?.value === "confirm") void onConfirm();
          }}
        >
          <p>{question}</p>
          <div className="actions">
            <button value="cancel" autoFocus>
              Cancel
            </button>
            <button value="confirm" className="danger">
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
