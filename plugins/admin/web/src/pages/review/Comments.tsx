// Review comments: the threaded list that follows playback, replies, resolve and delete, and the form that adds a
// comment at the playhead. What is offered mirrors the API: everyone signed in comments and replies, editors
// resolve, editors and the author delete.
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent, type RefObject } from "react";
import { useMutation, type CombinedError } from "urql";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import {
  AddCommentDocument,
  DeleteCommentDocument,
  ResolveCommentDocument,
  type AdminEpisodeCommentsQuery,
} from "../../gql/graphql";
import { dateTime, timecode } from "../../lib/format";
import { problemOf, transportMessage, type ResultProblem } from "../../lib/results";
import type { Thread } from "../../lib/review";
import { useViewer } from "../../viewer";

export type CommentNode = NonNullable<AdminEpisodeCommentsQuery["episode"]>["comments"]["edges"][number]["node"];

type AddResult = { error?: { message: string; graphQLErrors?: readonly { message: string }[] }; data?: { addComment: Parameters<typeof problemOf>[0] } | null };

/** A mutation's outcome as a problem to show (a transport failure or the typed error), or null on success. */
function outcome(result: AddResult): ResultProblem | null {
  if (result.error) return { message: transportMessage(result.error), fields: {} };
  return problemOf(result.data?.addComment);
}

/** Seconds to the millisecond: what the API stores and what a seek lands on. */
const toMs = (seconds: number) => Math.round(seconds * 1000) / 1000;

function submitOnCtrlEnter(event: KeyboardEvent<HTMLTextAreaElement>) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    event.currentTarget.form?.requestSubmit();
  }
}

interface CommentFormProps {
  episodeId: string;
  /** The playhead; null when there is no playable media (the comment is then for the whole episode). */
  time: number | null;
  box: RefObject<HTMLTextAreaElement | null>;
  onTyping: () => void;
}

export function CommentForm({ episodeId, time, box, onTyping }: CommentFormProps) {
  const [body, setBody] = useState("");
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [done, setDone] = useState("");
  const [{ fetching }, add] = useMutation(AddCommentDocument);
  const at = time === null ? null : toMs(time);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setDone("");
    const result = await add({ input: { targetId: episodeId, body, timecode: at } });
    const found = outcome(result);
    setProblem(found);
    if (found) return;
    setBody("");
    setDone(at === null ? "Comment added." : `Comment added at ${timecode(at)}.`);
    box.current?.focus();
  };

  const general = problem && !problem.fields.body && !problem.fields.timecode ? problem.message : null;
  return (
    <form className="comment-form" onSubmit={submit} noValidate>
      <Field
        label="Comment"
        error={problem?.fields.body}
        hint={
          at === null
            ? "About the whole episode."
            : "Press C (outside a text field) or Alt+C to pause and comment here; Ctrl+Enter adds it."
        }
      >
        {(props) => (
          <textarea
            {...props}
            ref={box}
            dir="auto"
            rows={3}
            value={body}
            onChange={(event) => {
              if (body === "") onTyping();
              setBody(event.target.value);
            }}
            onKeyDown={submitOnCtrlEnter}
          />
        )}
      </Field>
      {problem?.fields.timecode ? <p className="field-error">Time: {problem.fields.timecode}</p> : null}
      {general ? <Notice kind="error">{general}</Notice> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={fetching}>
          {at === null ? "Add comment" : `Add comment at ${timecode(at)}`}
        </button>
      </div>
      <p role="status" className="hint">
        {done}
      </p>
    </form>
  );
}

interface ListProps {
  episodeId: string;
  threads: readonly Thread<CommentNode>[];
  activeId: string | null;
  /** Scroll the active comment into view (while playing, and only when focus is not inside the list). */
  follow: boolean;
  onSeek: (seconds: number) => void;
  headingId: string;
}

export function CommentList({ episodeId, threads, activeId, follow, onSeek, headingId }: ListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [announcement, setAnnouncement] = useState("");

  useEffect(() => {
    const list = scroller.current;
    if (!follow || !activeId || !list || list.contains(document.activeElement)) return;
    const item = list.querySelector<HTMLElement>(`[data-comment="${CSS.escape(activeId)}"]`);
    if (!item) return;
    const top = item.offsetTop;
    if (top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight) {
      const smooth = !window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
      list.scrollTo({ top: Math.max(0, top - 8), behavior: smooth ? "smooth" : "auto" });
    }
  }, [activeId, follow]);

  if (threads.length === 0) return <p>No comments yet.</p>;
  const item = { episodeId, onSeek, onAnnounce: setAnnouncement, headingId };
  return (
    // Scrollable, and every comment has a button in it: keyboard users reach all of it without a tab stop here.
    <div ref={scroller} className="comment-scroll">
      <ol className="comments">
        {threads.map(({ comment, replies }) => (
          <li
            key={comment.id}
            data-comment={comment.id}
            className={comment.id === activeId ? "comment comment-active" : "comment"}
            aria-current={comment.id === activeId ? "time" : undefined}
          >
            <CommentItem {...item} comment={comment} canReply />
            {replies.length > 0 ? (
              <ol className="replies" aria-label={`Replies to ${describe(comment)}`}>
                {replies.map((reply) => (
                  <li key={reply.id} data-comment={reply.id} className="comment reply">
                    <CommentItem {...item} comment={reply} isReply />
                  </li>
                ))}
              </ol>
            ) : null}
          </li>
        ))}
      </ol>
      <p role="status" className="visually-hidden">
        {announcement}
      </p>
    </div>
  );
}

function describe(comment: CommentNode, isReply = false): string {
  const who = comment.author.displayName ?? "someone";
  if (isReply) return `reply by ${who}`;
  return comment.timecode === null ? `comment by ${who}` : `comment at ${timecode(comment.timecode)}`;
}

interface ItemProps {
  comment: CommentNode;
  episodeId: string;
  onSeek: (seconds: number) => void;
  onAnnounce: (text: string) => void;
  headingId: string;
  canReply?: boolean;
  isReply?: boolean;
}

function CommentItem({ comment, episodeId, onSeek, onAnnounce, headingId, canReply, isReply }: ItemProps) {
  const viewer = useViewer();
  const [replying, setReplying] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const replyButton = useRef<HTMLButtonElement>(null);
  const seekButton = useRef<HTMLButtonElement>(null);
  const [, resolve] = useMutation(ResolveCommentDocument);
  const [, remove] = useMutation(DeleteCommentDocument);
  const what = describe(comment, isReply);
  const mayDelete = viewer.can.edit || comment.author.id === viewer.id;

  /** Shows the mutation's problem, or announces what was done: true when it worked. */
  const settle = (result: { error?: CombinedError | undefined }, typed: Parameters<typeof problemOf>[0], done: string) => {
    const found = result.error ? transportMessage(result.error) : (problemOf(typed)?.message ?? null);
    setProblem(found);
    if (!found) onAnnounce(done);
    return !found;
  };

  const onResolve = async () => {
    const result = await resolve({ id: comment.id });
    if (settle(result, result.data?.resolveComment, `Resolved the ${what}.`)) (seekButton.current ?? replyButton.current)?.focus();
  };

  const onDelete = async () => {
    const result = await remove({ id: comment.id });
    // The comment is gone: focus the list's heading rather than nothing.
    if (settle(result, result.data?.deleteComment, `Deleted the ${what}.`)) document.getElementById(headingId)?.focus();
  };

  return (
    <div className="comment-card">
      <div className="comment-meta">
        {comment.timecode !== null ? (
          <button
            ref={seekButton}
            type="button"
            className="timecode"
            aria-label={`Seek to ${timecode(comment.timecode)}`}
            onClick={() => onSeek(comment.timecode!)}
          >
            {timecode(comment.timecode)}
          </button>
        ) : null}
        <span className="comment-author" dir="auto">
          {comment.author.displayName ?? "Unknown user"}
        </span>
        <time className="comment-time" dateTime={comment.createdAt}>
          {dateTime(comment.createdAt)}
        </time>
        {comment.resolved ? <span className="badge badge-resolved">resolved</span> : null}
      </div>
      <p className="comment-body" dir="auto">
        {comment.body}
      </p>
      <div className="actions comment-actions">
        {canReply && viewer.can.comment ? (
          <button ref={replyButton} type="button" aria-expanded={replying} onClick={() => setReplying((open) => !open)}>
            Reply<span className="visually-hidden"> to {what}</span>
          </button>
        ) : null}
        {viewer.can.edit && !comment.resolved ? (
          <button type="button" onClick={() => void onResolve()}>
            Resolve<span className="visually-hidden"> {what}</span>
          </button>
        ) : null}
        {mayDelete ? (
          <ConfirmButton
            label={
              <>
                Delete<span className="visually-hidden"> {what}</span>
              </>
            }
            question={`Delete this ${what}?`}
            onConfirm={onDelete}
          />
        ) : null}
      </div>
      {problem ? <Notice kind="error">{problem}</Notice> : null}
      {replying ? (
        <ReplyForm
          episodeId={episodeId}
          parentId={comment.id}
          what={what}
          onClose={(posted) => {
            setReplying(false);
            if (posted) onAnnounce(`Reply posted to the ${what}.`);
            replyButton.current?.focus();
          }}
        />
      ) : null}
    </div>
  );
}

function ReplyForm({ episodeId, parentId, what, onClose }: { episodeId: string; parentId: string; what: string; onClose: (posted: boolean) => void }) {
  const [body, setBody] = useState("");
  const [problem, setProblem] = useState<ResultProblem | null>(null);
  const [{ fetching }, add] = useMutation(AddCommentDocument);
  const labelId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // Replies carry no timecode of their own: they belong to their comment's moment.
    const result = await add({ input: { targetId: episodeId, body, parentId } });
    const found = outcome(result);
    setProblem(found);
    if (!found) onClose(true);
  };

  const general = problem && !problem.fields.body ? problem.message : null;
  return (
    <form className="reply-form" onSubmit={submit} aria-labelledby={labelId} noValidate>
      <span id={labelId} className="visually-hidden">
        Reply to the {what}
      </span>
      <Field label="Reply" error={problem?.fields.body ?? (problem?.fields.parentId || undefined)}>
        {(props) => (
          <textarea
            {...props}
            dir="auto"
            rows={2}
            autoFocus
            value={body}
            onChange={(event) => setBody(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === "Escape") onClose(false);
              else submitOnCtrlEnter(event);
            }}
          />
        )}
      </Field>
      {general ? <Notice kind="error">{general}</Notice> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={fetching}>
          Post reply
        </button>
        <button type="button" onClick={() => onClose(false)}>
          Cancel reply
        </button>
      </div>
    </form>
  );
}
