"""Turn a processing result (JSON from the child process) into Rendition rows; keys are under `prefix`."""

from __future__ import annotations

from typing import Any

from cms.media.models import Asset, Rendition, RenditionKind, RenditionStatus

READY, FAILED = RenditionStatus.READY, RenditionStatus.FAILED


def _variant(prefix: str, v: dict[str, Any]) -> Rendition:
    return Rendition(
        kind=RenditionKind.HLS_VARIANT,
        name=v["name"],
        status=READY if v["ok"] else FAILED,
        key=f"{prefix}/hls/{v['playlist']}" if v["ok"] else None,
        width=v["width"],
        height=v["height"],
        bitrate=v["average_bandwidth"] or None,
        peak_bitrate=v["bandwidth"] or None,
        codecs=v["codecs"] or None,
        frame_rate=v["frame_rate"] or None,
        size=v["size_bytes"],
        error=v.get("error"),
    )


def _audio(prefix: str, a: dict[str, Any]) -> Rendition:
    return Rendition(
        kind=RenditionKind.HLS_VARIANT,
        name="audio",
        status=READY,
        key=f"{prefix}/hls/{a['playlist']}",
        bitrate=a["average_bandwidth"],
        peak_bitrate=a["bandwidth"],
        codecs=a["codecs"],
        size=a["size_bytes"],
    )


def _master(prefix: str, master: str | None, error: str | None = None) -> Rendition:
    return Rendition(
        kind=RenditionKind.HLS_MASTER,
        name="master",
        status=READY if master else FAILED,
        key=f"{prefix}/hls/{master}" if master else None,
        error=error,
    )


def _artwork(prefix: str, name: str, made: dict[str, Any], key: str) -> Rendition:
    kind = {"poster": RenditionKind.POSTER, "thumbnails": RenditionKind.THUMBNAILS}.get(name, RenditionKind.STORYBOARD)
    if "error" in made:
        return Rendition(kind=kind, name=name, status=FAILED, error=made["error"])
    return Rendition(
        kind=kind,
        name=name,
        status=READY,
        key=f"{prefix}/{key}",
        width=made.get("width") or made.get("tile_width"),
        height=made.get("height") or made.get("tile_height"),
    )


def _images(prefix: str, folder: str, variants: list[dict[str, Any]]) -> list[Rendition]:
    """One IMAGE row per WebP size (an image asset's, or a document's first-page thumbnails)."""
    return [
        Rendition(
            kind=RenditionKind.IMAGE,
            name=f"{v['width']}w",
            status=READY,
            key=f"{prefix}/{folder}/{v['filename']}",
            width=v["width"],
            height=v["height"],
            size=v["size_bytes"],
        )
        for v in variants
    ]


def _document(prefix: str, made: dict[str, Any]) -> list[Rendition]:
    """A PDF: its first page as the POSTER (`playback.posterUrl`) and as IMAGE sizes (`playback.images`, `srcset`),
    so a frontend shows a document's cover exactly as it shows a picture's."""
    preview = Rendition(
        kind=RenditionKind.POSTER,
        name="preview",
        status=READY,
        key=f"{prefix}/{made['preview']}",
        width=made["preview_width"],
        height=made["preview_height"],
        size=made["preview_size_bytes"],
    )
    return [preview, *_images(prefix, "images", made["thumbnails"]["variants"])]


def rendition_rows(asset: Asset, result: dict[str, Any], prefix: str) -> list[Rendition]:
    rows: list[Rendition] = []
    if "video" in result:
        video = result["video"]
        rows += [_variant(prefix, v) for v in video["renditions"]]
        if video.get("audio"):
            rows.append(_audio(prefix, video["audio"]))
        errors = [v["error"] for v in video["renditions"] if v.get("error")]
        rows.append(_master(prefix, video["master"], errors[0] if errors and not video["master"] else None))
        storyboard = result.get("storyboard", {})
        rows += [
            _artwork(prefix, "poster", result.get("poster", {"error": "not made"}), "poster.jpg"),
            _artwork(prefix, "thumbnails", result.get("thumbnails", {"error": "not made"}), "thumbnails.jpg"),
            _artwork(prefix, "storyboard", storyboard, f"storyboard/{storyboard.get('vtt', '')}"),
        ]
    if "audio" in result:
        audio = result["audio"]
        rows += [_audio(prefix, audio["rendition"]), _master(prefix, audio["master"])]
    if "image" in result:
        rows += _images(prefix, "images", result["image"]["variants"])
    if "document" in result:
        rows += _document(prefix, result["document"])
    return rows


def playable(rows: list[Rendition]) -> str | None:
    """None when the rows give the asset something to serve, else the reason why not."""
    for row in rows:
        if row.status == READY and row.kind in (RenditionKind.HLS_MASTER, RenditionKind.IMAGE):
            return None
    return next((row.error for row in rows if row.error), "no rendition could be made")
