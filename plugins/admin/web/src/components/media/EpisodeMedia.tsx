// An episode's main media on its edit page: status, file facts, renditions, image sizes and poster; for editors an
// upload area, then live processing progress (assetProgress subscription) until the asset is ready or failed.
import { useCallback, useEffect, useId, useState } from "react";
import { Link } from "react-router-dom";
import { useQuery, useSubscription } from "urql";
import { AdminEpisodeMediaDocument, AssetProgressDocument, type AdminEpisodeMediaQuery } from "../../gql/graphql";
import { bitrate, dimensions, duration, probeFacts, renditionKind, size, sortRenditions, stageText } from "../../lib/media";
import { transportMessage } from "../../lib/results";
import { Notice } from "../Notice";
import { StatusBadge } from "../StatusBadge";
import { MediaUpload } from "../upload/MediaUpload";

type Asset = NonNullable<NonNullable<AdminEpisodeMediaQuery["episode"]>["mediaAsset"]>;

const POLL_MS = 5000;

export function EpisodeMedia({ episodeId, canEdit }: { episodeId: string; canEdit: boolean }) {
  const headingId = useId();
  const [{ data, error, fetching }, reexecute] = useQuery({ query: AdminEpisodeMediaDocument, variables: { id: episodeId } });
  const [uploaded, setUploaded] = useState<string | null>(null);
  const refresh = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);
  const asset = data?.episode?.mediaAsset ?? null;
  // Watch the file uploaded here, else the shown asset while it is still being processed.
  const tracked = uploaded ?? (asset && (asset.status === "PROCESSING" || asset.status === "UPLOADING") ? asset.id : null);

  return (
    <section className="media" aria-labelledby={headingId}>
      <h2 id={headingId}>Media</h2>
      {error ? <Notice kind="error">The media could not be loaded: {transportMessage(error)}</Notice> : null}
      {/* While a request is out, "no asset" may be a partial cache answer: it says loading rather than "no media". */}
      <ProcessingStatus assetId={tracked} asset={asset} onFinished={refresh} loading={fetching && !asset} />
      {canEdit ? (
        <MediaUpload
          episodeId={episodeId}
          onUploaded={(assetId) => {
            setUploaded(assetId);
            refresh();
          }}
        />
      ) : null}
      {asset ? <AssetDetails asset={asset} episodeId={episodeId} /> : null}
    </section>
  );
}

interface ProcessingProps {
  assetId: string | null;
  asset: Asset | null;
  onFinished: () => void;
  loading: boolean;
}

/** The status word of the asset being watched (live while it processes), in a status region. */
function ProcessingStatus({ assetId, asset, onFinished, loading }: ProcessingProps) {
  // UPLOADING assets only change once their upload completes: live progress is for processing.
  const live = assetId !== null && !(assetId === asset?.id && asset.status === "UPLOADING");
  const [{ data, error }] = useSubscription({ query: AssetProgressDocument, variables: { id: assetId ?? "" }, pause: !live });
  const progress = data?.assetProgress && data.assetProgress.assetId === assetId ? data.assetProgress : null;
  const own = assetId !== null && assetId === asset?.id ? asset : null;
  const status = progress?.status ?? own?.status ?? (assetId ? "PROCESSING" : (asset?.status ?? null));
  const stage = progress?.stage ?? own?.stage ?? null;
  const percent = progress?.percent ?? own?.progress ?? 0;
  const failure = progress?.failureReason ?? (status === "FAILED" ? (own ?? asset)?.failureReason : null);
  const finished = progress !== null && (progress.status === "READY" || progress.status === "FAILED");

  useEffect(() => {
    if (finished) onFinished();
  }, [finished, onFinished]);

  // Without the live channel, look again every few seconds until processing ends.
  useEffect(() => {
    if (!error || status !== "PROCESSING") return;
    const timer = setInterval(onFinished, POLL_MS);
    return () => clearInterval(timer);
  }, [error, status, onFinished]);

  const newer = assetId !== null && asset !== null && assetId !== asset.id;
  return (
    <div className="processing">
      <p role="status" aria-label="Processing status">
        {loading ? (
          "Loading…"
        ) : status ? (
          <>
            {newer ? "New upload: " : "Media: "}
            <StatusBadge status={status} />
            {/* The stage, not its percent: a live region that changed every half second would never stop talking. */}
            {status === "PROCESSING" && stage ? <span className="processing-stage"> ({stage})</span> : null}
            {status === "FAILED" && failure ? <span className="processing-failure"> {failure}</span> : null}
          </>
        ) : (
          "No media uploaded yet."
        )}
      </p>
      {status === "PROCESSING" ? (
        <p className="processing-progress">
          <progress aria-label="Processing progress" max={100} value={Math.min(100, Math.max(0, percent))} />
          <span className="hint">{stageText(stage, percent) || "Waiting for a worker…"}</span>
        </p>
      ) : null}
      {error && status === "PROCESSING" ? <p className="hint">Live progress is unavailable; checking every few seconds.</p> : null}
    </div>
  );
}

function AssetDetails({ asset, episodeId }: { asset: Asset; episodeId: string }) {
  const facts = probeFacts(asset.probe);
  const renditions = sortRenditions(asset.renditions);
  const images = asset.playback?.images ?? [];
  const poster = asset.playback?.posterUrl ?? null;
  const captionId = useId();
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>{asset.kind.toLowerCase()}</dd>
        </div>
        <div>
          <dt>File</dt>
          <dd dir="auto">{asset.filename}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{size(asset.size)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{duration(facts.duration)}</dd>
        </div>
        {facts.width && facts.height ? (
          <div>
            <dt>Picture</dt>
            <dd>{[dimensions(facts.width, facts.height), facts.videoCodec].filter(Boolean).join(" · ")}</dd>
          </div>
        ) : null}
        {facts.audioCodec ? (
          <div>
            <dt>Sound</dt>
            <dd>{facts.audioCodec}</dd>
          </div>
        ) : null}
      </dl>
      {asset.status === "READY" && (asset.kind === "VIDEO" || asset.kind === "AUDIO") ? (
        <p>
          <Link to={`/episodes/${episodeId}/review`}>Review this media</Link>
        </p>
      ) : null}
      {poster ? (
        <figure className="poster">
          <img src={poster} alt={`Poster frame of ${asset.filename}`} loading="lazy" />
          <figcaption>Poster</figcaption>
        </figure>
      ) : null}

      <h3 id={captionId}>Renditions</h3>
      {renditions.length === 0 ? (
        <p>{asset.status === "READY" ? "No renditions." : "Renditions appear once processing has finished."}</p>
      ) : (
        <div className="table-wrap" role="region" aria-labelledby={captionId} tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Size (px)</th>
                <th scope="col">Bitrate</th>
                <th scope="col" className="hide-narrow">
                  Codecs
                </th>
                <th scope="col" className="hide-narrow">
                  Bytes
                </th>
              </tr>
            </thead>
            <tbody>
              {renditions.map((r) => (
                <tr key={`${r.kind}/${r.name}`}>
                  <th scope="row">{renditionKind(r.kind)}</th>
                  <td>{r.name}</td>
                  <td>
                    <StatusBadge status={r.status} />
                    {r.error ? <span className="rendition-error"> {r.error}</span> : null}
                  </td>
                  <td>{dimensions(r.width, r.height)}</td>
                  <td>{bitrate(r.bitrate)}</td>
                  <td className="hide-narrow">{r.codecs ?? "—"}</td>
                  <td className="hide-narrow">{size(r.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {images.length > 0 ? (
        <>
          <h3>Image sizes</h3>
          <ul className="image-sizes">
            {images.map((image) => (
              <li key={image.url}>
                <a href={image.url} target="_blank" rel="noreferrer">
                  {dimensions(image.width, image.height)}
                </a>
              </li>
            ))}
          </ul>
          <img
            className="image-preview"
            src={images[0]!.url}
            srcSet={asset.playback?.srcset ?? undefined}
            sizes="(max-width: 600px) 100vw, 40rem"
            alt={`Preview of ${asset.filename}`}
          />
        </>
      ) : null}
    </>
  );
}
