// Review an episode's media: the HLS player with a timeline of comment markers and storyboard thumbnails, the
// threaded comments following playback, and a form to comment at the playhead (C or Alt+C pauses and jumps there).
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery, useSubscription } from "urql";
import { Notice } from "../../components/Notice";
import { StatusBadge } from "../../components/StatusBadge";
import { AdminEpisodeReviewDocument, AssetProgressDocument } from "../../gql/graphql";
import { probeFacts, stageText } from "../../lib/media";
import { transportMessage } from "../../lib/results";
import { activeComment, isCommentShortcut, threads } from "../../lib/review";
import { useViewer } from "../../viewer";
import { CommentForm, CommentList } from "./Comments";
import { useEpisodeComments, useStoryboard } from "./data";
import { Timeline, type Marker } from "./Timeline";
import { usePlayer } from "./usePlayer";

export function Review() {
  const { id = "" } = useParams();
  const viewer = useViewer();
  const headingId = useId();
  const [{ data, error, fetching }, reexecute] = useQuery({ query: AdminEpisodeReviewDocument, variables: { id } });
  const refresh = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);
  const episode = data?.episode ?? null;
  const asset = episode?.mediaAsset ?? null;
  const playback = asset?.playback ?? null;
  const hlsUrl = asset?.status === "READY" ? (playback?.hlsUrl ?? null) : null;

  const video = useRef<HTMLVideoElement>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  const player = usePlayer(video, hlsUrl);
  const storyboard = useStoryboard(hlsUrl ? playback?.storyboardUrl : null);
  const comments = useEpisodeComments(id);
  const [hideResolved, setHideResolved] = useState(false);

  // Signed URLs that expired mid-review: fetch fresh ones (the player continues where it was).
  useEffect(() => {
    if (player.expired) refresh();
  }, [player.expired, refresh]);

  const duration = player.duration ?? probeFacts(asset?.probe).duration;
  const all = useMemo(() => threads(comments.comments), [comments.comments]);
  const shown = useMemo(() => (hideResolved ? all.filter((t) => !t.comment.resolved) : all), [all, hideResolved]);
  const active = hlsUrl ? activeComment(shown.map((t) => t.comment), player.time) : null;
  const markers: Marker[] = shown
    .filter((t) => t.comment.timecode !== null)
    .map(({ comment }) => ({
      id: comment.id,
      timecode: comment.timecode!,
      body: comment.body,
      active: comment.id === active?.id,
      resolved: comment.resolved,
    }));

  const pause = player.pause;
  const commentHere = useCallback(() => {
    pause();
    box.current?.focus();
  }, [pause]);

  useEffect(() => {
    if (!viewer.can.comment) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || !isCommentShortcut(event)) return;
      event.preventDefault();
      commentHere();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [viewer.can.comment, commentHere]);

  if (fetching && !data) return <p role="status">Loading…</p>;
  if (error || !episode) {
    return (
      <>
        <h1>Review</h1>
        <Notice kind="error">
          {error ? `The episode could not be loaded: ${transportMessage(error)}` : "No such episode, or you cannot see it."}
        </Notice>
      </>
    );
  }

  return (
    <>
      <h1>
        Review: <span dir="auto">{episode.title}</span>
      </h1>
      <p>
        <Link to={`/episodes/${episode.id}`}>Back to the episode</Link>
        <span className="hint">
          {" "}
          · <span dir="auto">{episode.program.title}</span>
        </span>
      </p>
      <div className="review">
        <div className="review-main">
          {hlsUrl ? (
            <>
              <video
                ref={video}
                className="review-video"
                controls
                playsInline
                preload="metadata"
                poster={playback?.posterUrl ?? undefined}
                aria-label={`Video of ${episode.title}`}
              />
              {player.error ? <Notice kind="error">{player.error}</Notice> : null}
              <Timeline time={player.time} duration={duration} markers={markers} storyboard={storyboard} onSeek={player.seek} />
            </>
          ) : (
            <NotReady assetId={asset?.id ?? null} status={asset?.status ?? null} stage={asset?.stage ?? null} percent={asset?.progress ?? 0} failure={asset?.failureReason ?? null} onFinished={refresh} />
          )}
          {viewer.can.comment ? (
            <CommentForm episodeId={episode.id} time={hlsUrl ? player.time : null} box={box} onTyping={player.pause} />
          ) : null}
        </div>

        <section className="review-comments" aria-labelledby={headingId}>
          <h2 id={headingId} tabIndex={-1}>
            Comments ({comments.total})
          </h2>
          <div className="toolbar">
            <label className="check-row">
              <input type="checkbox" checked={hideResolved} onChange={(event) => setHideResolved(event.target.checked)} />
              Hide resolved comments
            </label>
          </div>
          {comments.error ? <Notice kind="error">The comments could not be loaded: {comments.error}</Notice> : null}
          {comments.loading ? (
            <p role="status">Loading comments…</p>
          ) : (
            <CommentList
              episodeId={episode.id}
              threads={shown}
              activeId={active?.id ?? null}
              follow={!player.paused}
              onSeek={player.seek}
              headingId={headingId}
            />
          )}
          {comments.hasMore ? (
            <button type="button" disabled={comments.loadingMore} onClick={comments.loadMore}>
              {comments.loadingMore ? "Loading more comments…" : "Load more comments"}
            </button>
          ) : null}
        </section>
      </div>
    </>
  );
}

interface NotReadyProps {
  assetId: string | null;
  status: string | null;
  stage: string | null;
  percent: number;
  failure: string | null;
  onFinished: () => void;
}

/** No playable media yet: say why, and follow processing live until it ends. */
function NotReady({ assetId, status, stage, percent, failure, onFinished }: NotReadyProps) {
  const processing = status === "PROCESSING";
  const [{ data }] = useSubscription({ query: AssetProgressDocument, variables: { id: assetId ?? "" }, pause: !assetId || !processing });
  const live = data?.assetProgress?.assetId === assetId ? data?.assetProgress : null;
  const now = live?.status ?? status;
  const finished = live?.status === "READY" || live?.status === "FAILED";
  useEffect(() => {
    if (finished) onFinished();
  }, [finished, onFinished]);

  if (!assetId) return <Notice>This episode has no media yet. Comments can still be added for the whole episode.</Notice>;
  return (
    <div className="notice" role="status">
      {now === "READY" ? "The media is ready; loading the player…" : "The media is not ready for review yet."} Status:{" "}
      <StatusBadge status={now} />
      {now === "PROCESSING" ? ` ${stageText(live?.stage ?? stage, live?.percent ?? percent)}` : null}
      {now === "FAILED" ? ` ${live?.failureReason ?? failure ?? ""}` : null}
    </div>
  );
}
