"""After the claim check: renditions from the master (HLS ladder + artwork for video, AAC HLS for audio,
responsive WebP for images, a first-page preview and WebP thumbnails for PDFs), made in an isolated child process
and stored in previews under keys derived from the master's sha256 and the output settings, so a re-run overwrites
instead of duplicating. A PDF's text comes back beside its renditions and is kept for search (AssetText)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import mimetypes
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from cms.core import outbox
from cms.core.outbox import Event
from cms.media.intake import IntakeRefused, local_file
from cms.media.models import Asset, AssetKind, AssetStatus, AssetText, Rendition
from cms.media.probe import DocumentLimits
from cms.media.renditions import playable, rendition_rows
from cms.media.storage import Area, Storage, file_chunks, master_key
from cms.media.transcode.capabilities import Capabilities
from cms.media.transcode.documents import PREVIEW_QUALITY, RENDER_WIDTH
from cms.media.transcode.images import DEFAULT_WIDTHS
from cms.media.transcode.isolated import IsolatedTaskFailed, run_isolated
from cms.media.transcode.ladder import DEFAULT_LADDER, DEFAULT_SETTINGS, ladder_fingerprint

PROGRESS_EVERY_SECONDS = 0.5
STAGES = {
    AssetKind.VIDEO: "transcode",
    AssetKind.AUDIO: "transcode",
    AssetKind.IMAGE: "images",
    AssetKind.DOCUMENT: "document",
}
TEXT_FILE = "text.txt"  # beside the renditions' folder, never in it: what is in there is published


@dataclass(frozen=True)
class ProcessingLimits:
    timeout_seconds: float
    memory_bytes: int


@dataclass(frozen=True)
class Speed:
    """How fast one encode ran (for the transcode metrics): `rung` is a ladder rung, or "ladder" for the whole
    pass; `encoder` the FFmpeg encoder that really ran (libx264, h264_nvenc)."""

    rung: str
    encoder: str
    media_seconds: float
    frames: int
    work_seconds: float


def speeds(result: dict[str, Any]) -> list[Speed]:
    """The speed of each rung a video transcode made, and of the whole pass; none for other media."""
    video = result.get("video")
    if not video or not video.get("encoder"):
        return []
    duration, encoder = float(video["duration"]), str(video["encoder"])
    made = [v for v in video["renditions"] if v.get("ok") and v.get("frames")]
    found = [Speed(v["name"], encoder, duration, int(v["frames"]), float(v["encode_seconds"])) for v in made]
    if made:
        frames = max(int(v["frames"]) for v in made)
        found.append(Speed("ladder", encoder, duration, frames, float(video.get("work_seconds") or 0.0)))
    return found


@dataclass(frozen=True)
class ExtractedText:
    """A document's text as the child wrote it, on its way to AssetText."""

    text: str
    pages: int
    truncated: bool


def _fingerprint(value: object) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:12]


def output_prefix(asset: Asset, capabilities: Capabilities) -> str:
    if asset.kind == AssetKind.IMAGE:
        return f"{asset.sha256}/images-{_fingerprint(DEFAULT_WIDTHS)}"
    if asset.kind == AssetKind.DOCUMENT:
        return f"{asset.sha256}/document-{_fingerprint([DEFAULT_WIDTHS, RENDER_WIDTH, PREVIEW_QUALITY])}"
    settings = dataclasses.replace(DEFAULT_SETTINGS, video_encoder=capabilities.video_encoder)
    return f"{asset.sha256}/hls-{ladder_fingerprint(DEFAULT_LADDER, settings)}"


async def set_progress(asset_id: int, *, stage: str | None, percent: float) -> None:
    await Asset.filter(id=asset_id).update(stage=stage, progress=round(percent, 1))


def _progress_writer(asset_id: int, stage: str) -> Callable[[float], Awaitable[None]]:
    last = 0.0

    async def write(fraction: float) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_SECONDS or fraction >= 1.0:
            last = time.monotonic()
            await set_progress(asset_id, stage=stage, percent=fraction * 100)

    return write


def _task(asset: Asset, path: Path, out: Path, capabilities: Capabilities, limits: ProcessingLimits) -> dict[str, Any]:
    probe = asset.probe or {}
    return {
        "task": asset.kind.value.lower(),
        "src": str(path),
        "out_dir": str(out),
        "timeout": limits.timeout_seconds,
        "input_format": probe.get("format") or None,
        "width": probe.get("width") or 0,
        "height": probe.get("height") or 0,
        "frame_rate": probe.get("frame_rate") or 25.0,
        "rotation": probe.get("rotation") or 0,
        "duration": probe.get("duration") or 0.0,
        "video_encoder": capabilities.video_encoder,
        "hw_decode": capabilities.hw_decode,
    }


def _document_task(path: Path, out: Path, text_path: Path, limits: DocumentLimits) -> dict[str, Any]:
    return {
        "task": "document",
        "src": str(path),
        "out_dir": str(out),
        "text_path": str(text_path),
        "timeout": limits.timeout_seconds,
        "max_pages": limits.max_pages,
        "max_text_bytes": limits.max_text_bytes,
    }


async def _store_outputs(storage: Storage, out: Path, prefix: str) -> None:
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(out).as_posix()}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        await storage.write(Area.PREVIEWS, key, file_chunks(path), content_type=content_type)


async def process_asset(
    *,
    storage: Storage,
    asset_id: int,
    capabilities: Capabilities,
    limits: ProcessingLimits,
    document_limits: DocumentLimits,
) -> list[Speed]:
    """Make the asset's renditions (and, for a document, keep its text), then mark it READY ("asset.ready").
    A file the child cannot use raises IntakeRefused with the child's reason. Returns how fast a video's
    transcode ran (`speeds`), for the caller to report."""
    asset = await Asset.get_or_none(id=asset_id)
    if asset is None or asset.status == AssetStatus.READY or asset.sha256 is None:
        return []  # deleted, already done, or not yet persisted
    stage = STAGES.get(asset.kind)
    if stage is None:  # a kind with nothing to make is served as it is
        await _finish(asset, rows=[])
        return []
    await set_progress(asset.id, stage=stage, percent=0)
    prefix = output_prefix(asset, capabilities)
    text: ExtractedText | None = None
    async with local_file(storage, Area.MASTERS, master_key(asset.sha256), known_sha256=asset.sha256) as (path, _):
        with tempfile.TemporaryDirectory(prefix="cms-renditions-") as tmp:
            out, text_path = Path(tmp) / "renditions", Path(tmp) / TEXT_FILE
            out.mkdir()
            if asset.kind == AssetKind.DOCUMENT:
                task = _document_task(path, out, text_path, document_limits)
                timeout, memory, reader = document_limits.timeout_seconds, document_limits.memory_bytes, "PDF reader"
            else:
                task = _task(asset, path, out, capabilities, limits)
                timeout, memory, reader = limits.timeout_seconds, limits.memory_bytes, "media decoder"
            try:
                result = await run_isolated(
                    task,
                    timeout=timeout,
                    memory_limit_bytes=memory,
                    on_progress=_progress_writer(asset.id, stage),
                    reader=reader,
                )
            except IsolatedTaskFailed as exc:
                raise IntakeRefused(str(exc)) from exc
            rows = rendition_rows(asset, result, prefix)
            if (problem := playable(rows)) is not None:
                raise IntakeRefused(problem)
            if "document" in result:
                made = result["document"]
                # At most CMS_DOCUMENT_MAX_TEXT_BYTES, cut on a character boundary by the child.
                content = await asyncio.to_thread(text_path.read_text, encoding="utf-8")
                text = ExtractedText(content, pages=made["pages_read"], truncated=made["text_truncated"])
            await set_progress(asset.id, stage="store", percent=100)
            await _store_outputs(storage, out, prefix)
    await _finish(asset, rows=rows, text=text)
    return speeds(result)


async def _finish(asset: Asset, *, rows: list[Rendition], text: ExtractedText | None = None) -> None:
    """Renditions, text and READY in one transaction with "asset.ready": whoever reacts to the event (the search
    index re-reading the episode, say) finds all of it."""
    async with in_transaction():
        await asset.renditions.all().delete()
        for row in rows:
            row.asset_id = asset.id
            await row.save()
        if text is not None:
            await AssetText.filter(asset_id=asset.id).delete()
            await AssetText.create(asset_id=asset.id, text=text.text, pages=text.pages, truncated=text.truncated)
        updated = (
            await Asset.filter(id=asset.id)
            .exclude(status=AssetStatus.READY)
            .update(status=AssetStatus.READY, stage=None, progress=100, failure_reason=None)
        )
        if updated:
            await outbox.record(Event.ASSET_READY, asset_id=asset.id)
