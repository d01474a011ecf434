// The editor's upload area for an episode: a drop zone and a normal file input, then a progress bar with speed and
// time left. The work (methods, retries, resume) is done by lib/uploader.ts; this only shows its state.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type DragEvent } from "react";
import { useClient } from "urql";
import { useAuth } from "../../auth/auth";
import { bytes } from "../../lib/format";
import { readPending, sameFile, writePending, type PendingUpload } from "../../lib/pendingUpload";
import { uploadApi } from "../../lib/uploadApi";
import { Uploader, type UploadState } from "../../lib/uploader";
import { addSample, averageSpeed, describeProgress, percent, type Sample } from "../../lib/uploadProgress";
import { xhrSend } from "../../lib/xhrSend";
import { Notice } from "../Notice";

const ACCEPT = "video/*,audio/*";
const RENDER_EVERY_MS = 200;

interface View {
  state: UploadState;
  speed: number | null;
  filename: string;
}

function statusLine(view: View, now: number): string {
  const { state, filename } = view;
  switch (state.phase) {
    case "creating":
      return `Starting the upload of ${filename}…`;
    case "uploading":
      return `Uploading ${filename}…`;
    case "retrying": {
      const wait = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : 0;
      return wait > 0 ? `Connection lost — retrying in ${wait} s…` : "Connection lost — retrying…";
    }
    case "stalled":
      return state.message ?? "The upload stopped.";
    case "completing":
      return "All bytes sent; checking them…";
    case "done":
      return `Uploaded ${filename}.`;
    case "cancelled":
      return "Upload cancelled.";
    case "failed":
      return "The upload failed.";
  }
}

export function MediaUpload({ episodeId, onUploaded }: { episodeId: string; onUploaded: (assetId: string) => void }) {
  const client = useClient();
  const auth = useAuth();
  const inputId = useId();
  const hintId = `${inputId}-hint`;
  const input = useRef<HTMLInputElement>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const uploader = useRef<Uploader | null>(null);
  const samples = useRef<Sample[]>([]);
  const lastRender = useRef<{ at: number; phase: string; message: string | null }>({ at: 0, phase: "", message: null });
  const [view, setView] = useState<View | null>(null);
  const [dragging, setDragging] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  const [pending, setPending] = useState<PendingUpload | null>(() => readPending(window.sessionStorage, episodeId));
  const api = useMemo(() => uploadApi(client), [client]);
  const onUploadedRef = useRef(onUploaded);
  onUploadedRef.current = onUploaded;

  const phase = view?.state.phase;
  const busy = phase === "creating" || phase === "uploading" || phase === "retrying" || phase === "completing";

  /** The end of a run (first try, resume or retry): show it, tell the page, put focus somewhere useful. */
  const follow = useCallback((which: Uploader, filename: string, run: Promise<UploadState>) => {
    void run.then((final) => {
      if (uploader.current !== which) return;
      setView({ state: final, speed: null, filename });
      if (final.phase === "done" && final.assetId) onUploadedRef.current(final.assetId);
      // Cancel is gone once the upload ends: focus goes back to the file input rather than to nowhere.
      requestAnimationFrame(() => {
        if (final.phase !== "stalled" && (document.activeElement === document.body || document.activeElement === null)) {
          input.current?.focus();
        }
      });
    });
  }, []);

  const choose = useCallback(
    (file: File | undefined) => {
      if (!file || uploader.current?.busy) return;
      const filename = file.name;
      const identity = { name: file.name, size: file.size, lastModified: file.lastModified };
      samples.current = [];
      lastRender.current = { at: 0, phase: "", message: null };
      const next = new Uploader(file, {
        send: xhrSend(),
        api,
        token: auth.token,
        remember: (ticket) => {
          const record = ticket ? { episodeId, file: identity, ticket } : null;
          writePending(window.sessionStorage, record, episodeId);
          setPending(record);
        },
        onChange: (state) => {
          // Progress events come many times a second: render the numbers a few times a second, phases at once.
          const at = performance.now();
          samples.current = addSample(samples.current, { at, loaded: state.loaded });
          const shown = lastRender.current;
          if (state.phase === shown.phase && state.message === shown.message && at - shown.at < RENDER_EVERY_MS) return;
          lastRender.current = { at, phase: state.phase, message: state.message };
          setView({ state, speed: averageSpeed(samples.current), filename });
        },
      });
      uploader.current = next;
      setView({ state: next.state, speed: null, filename });
      const resumable = pending && sameFile(pending.file, identity) ? pending.ticket : null;
      follow(next, filename, resumable ? next.resume(resumable) : next.start(episodeId));
      // Focus goes to Cancel while the file input is disabled (it returns to the input afterwards).
      requestAnimationFrame(() => cancelButton.current?.focus());
    },
    [api, auth.token, episodeId, pending, follow],
  );

  const retry = useCallback(() => {
    const current = uploader.current;
    if (!current || current.state.phase !== "stalled") return;
    follow(current, view?.filename ?? "", current.retry());
    // "Retry upload" goes away while it runs: Cancel takes the focus.
    requestAnimationFrame(() => cancelButton.current?.focus());
  }, [follow, view?.filename]);

  // A countdown for "retrying in N s"; back online: retry now instead of waiting.
  useEffect(() => {
    if (phase !== "retrying") return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [phase]);

  useEffect(() => {
    const online = () => {
      const current = uploader.current;
      if (!current) return;
      if (current.state.phase === "retrying") current.wake();
      else if (current.state.phase === "stalled") retry();
    };
    window.addEventListener("online", online);
    return () => window.removeEventListener("online", online);
  }, [retry]);

  // Leaving the page mid-upload asks first; leaving the screen inside the app stops it (it can be resumed).
  useEffect(() => {
    if (!busy) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [busy]);
  useEffect(() => () => uploader.current?.cancel({ forget: false }), []);

  const drop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    if (!busy) choose(event.dataTransfer.files[0]);
  };

  const state = view?.state;
  const problems = state?.phase === "failed" ? Object.values(state.fields) : [];
  return (
    <div className="upload">
      <div
        className={dragging ? "dropzone dropzone-active" : "dropzone"}
        onDragEnter={(event) => {
          event.preventDefault();
          if (!busy) setDragging(true);
        }}
        onDragOver={(event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = busy ? "none" : "copy";
        }}
        onDragLeave={(event) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={drop}
      >
        <label htmlFor={inputId}>Upload media file</label>
        <input
          ref={input}
          id={inputId}
          type="file"
          accept={ACCEPT}
          disabled={busy}
          aria-describedby={hintId}
          aria-invalid={problems.length > 0}
          onChange={(event) => {
            choose(event.currentTarget.files?.[0]);
            event.currentTarget.value = "";
          }}
        />
        <p className="hint" id={hintId}>
          Drop a video or audio file here, or choose one. It replaces the episode&apos;s media once processed.
        </p>
        {problems.map((message) => (
          <p key={message} className="field-error">
            {message}
          </p>
        ))}
      </div>

      {pending && !busy && phase !== "stalled" ? (
        <div className="notice">
          <p>
            An upload of <span dir="auto">{pending.file.name}</span> ({bytes(pending.file.size)}) did not finish. Choose the
            same file again to continue where it stopped.
          </p>
          <button
            type="button"
            onClick={() => {
              writePending(window.sessionStorage, null, episodeId);
              setPending(null);
            }}
          >
            Discard unfinished upload
          </button>
        </div>
      ) : null}

      {view && state ? (
        <div className="upload-progress">
          <p className="upload-file" dir="auto">
            {view.filename}
          </p>
          <progress aria-label="Upload progress" max={Math.max(1, state.total)} value={state.loaded}>
            {percent(state.loaded, state.total)}%
          </progress>
          <p className="hint">{describeProgress(state.loaded, state.total, state.phase === "uploading" ? view.speed : null)}</p>
          <p role="status" className={state.phase === "retrying" || state.phase === "stalled" ? "upload-warning" : undefined}>
            {statusLine(view, now)}
          </p>
          {state.phase === "failed" ? <Notice kind="error">{state.message}</Notice> : null}
          <div className="actions">
            {state.phase === "stalled" ? (
              <button type="button" className="primary" onClick={retry}>
                Retry upload
              </button>
            ) : null}
            {busy || state.phase === "stalled" ? (
              <button
                ref={cancelButton}
                type="button"
                onClick={() => {
                  uploader.current?.cancel();
                  requestAnimationFrame(() => input.current?.focus());
                }}
              >
                Cancel upload
              </button>
            ) : null}
          </div>
        </div>
      ) : null}
    </div>
  );
}
