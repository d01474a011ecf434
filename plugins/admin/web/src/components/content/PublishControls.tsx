// Publish now, unpublish, or schedule for a wall-clock time in the editor's own time zone (sent as UTC).
import { useId, useRef, useState } from "react";
import { useMutation, type DocumentInput } from "urql";
import type { PublishStatus } from "../../gql/graphql";
import { dateTime } from "../../lib/format";
import { shownStatus } from "../../lib/listState";
import type { ResultProblem } from "../../lib/results";
import { localInputToUtc, timeZoneName, utcToLocalInput } from "../../lib/schedule";
import { Field } from "../Field";
import { Notice } from "../Notice";
import { StatusBadge } from "../StatusBadge";
import { mutationProblem } from "./FormParts";

interface PublishControlsProps {
  status: PublishStatus;
  publishAt: string | null;
  /** Publish at the UTC instant, or now (null): the problem the API reported, or null when it worked. */
  onPublish: (at: string | null) => Promise<ResultProblem | null>;
  onUnpublish: () => Promise<ResultProblem | null>;
  /** Hide the controls (viewers see the state only). */
  readOnly?: boolean;
}

/** "Published 3 May 2026, 10:00" / "Scheduled for ..." / "Draft: not published". */
export function publishSentence(status: PublishStatus, publishAt: string | null, now: Date = new Date()): string {
  const shown = shownStatus(status, publishAt, now);
  if (shown === "SCHEDULED") return `Scheduled for ${dateTime(publishAt)} (${timeZoneName()}).`;
  if (status === "PUBLISHED") return `Published ${dateTime(publishAt)}.`;
  if (status === "ARCHIVED") return "Archived: not public.";
  return "Draft: not published.";
}

export function PublishControls({ status, publishAt, onPublish, onUnpublish, readOnly = false }: PublishControlsProps) {
  const headingId = useId();
  const scheduled = shownStatus(status, publishAt) === "SCHEDULED";
  const [when, setWhen] = useState(scheduled ? utcToLocalInput(publishAt) : "");
  const [whenError, setWhenError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const act = async (action: () => Promise<ResultProblem | null>, success: () => string) => {
    setBusy(true);
    setResult(null);
    setWhenError(undefined);
    try {
      const problem = await action();
      if (problem) {
        if (problem.fields.at) {
          setWhenError(problem.fields.at);
          input.current?.focus();
        }
        setResult({ ok: false, text: `Could not change publishing: ${problem.message}` });
      } else {
        setResult({ ok: true, text: success() });
      }
    } finally {
      setBusy(false);
    }
  };

  const schedule = () => {
    const at = localInputToUtc(when);
    if (at === null) {
      setWhenError("Enter a date and time");
      input.current?.focus();
      return;
    }
    if (new Date(at).getTime() <= Date.now()) {
      setWhenError("Choose a time in the future, or use Publish now");
      input.current?.focus();
      return;
    }
    void act(
      () => onPublish(at),
      () => `Scheduled for ${dateTime(at)} (${timeZoneName()}).`,
    );
  };

  const live = status === "PUBLISHED" && !scheduled;
  return (
    <section className="publishing" aria-labelledby={headingId}>
      <h2 id={headingId}>Publishing</h2>
      <p className="publish-state">
        <StatusBadge status={shownStatus(status, publishAt)} /> {publishSentence(status, publishAt)}
      </p>
      {readOnly ? null : (
        <>
          <div className="actions">
            {live ? null : (
              <button
                type="button"
                className="primary"
                disabled={busy}
                onClick={() => void act(() => onPublish(null), () => "Published.")}
              >
                Publish now
              </button>
            )}
            {status === "PUBLISHED" ? (
              <button type="button" disabled={busy} onClick={() => void act(onUnpublish, () => "Unpublished: back to draft.")}>
                Unpublish
              </button>
            ) : null}
          </div>
          <div className="schedule">
            <Field label="Publish at" error={whenError} hint={`Your time zone: ${timeZoneName()}`}>
              {(field) => (
                <input
                  {...field}
                  ref={input}
                  type="datetime-local"
                  value={when}
                  onChange={(event) => {
                    setWhen(event.target.value);
                    setWhenError(undefined);
                  }}
                />
              )}
            </Field>
            <button type="button" disabled={busy} onClick={schedule}>
              Schedule
            </button>
          </div>
        </>
      )}
      {busy ? <p role="status">Saving…</p> : null}
      {result ? <Notice kind={result.ok ? "success" : "error"}>{result.text}</Notice> : null}
    </section>
  );
}

interface ItemPublishingProps {
  item: { id: string; status: PublishStatus; publishAt: string | null };
  /** The item's publish and unpublish mutations: each answers the item or an Error. */
  publish: DocumentInput<object, { id: string; at: string | null }>;
  unpublish: DocumentInput<object, { id: string }>;
  readOnly: boolean;
}

/** The publishing section of a program's or episode's page, sending its own mutations. */
export function ItemPublishing({ item, publish, unpublish, readOnly }: ItemPublishingProps) {
  const [, publishItem] = useMutation(publish);
  const [, unpublishItem] = useMutation(unpublish);
  return (
    <PublishControls
      status={item.status}
      publishAt={item.publishAt}
      onPublish={async (at) => mutationProblem(await publishItem({ id: item.id, at }))}
      onUnpublish={async () => mutationProblem(await unpublishItem({ id: item.id }))}
      readOnly={readOnly}
    />
  );
}
