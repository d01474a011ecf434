"""Probe media with PyAV: duration, dimensions, rotation, codecs, bitrate, channels; and PDFs with PDFium, in an
isolated child: page count, page size, version, title and author.

Inputs open with the `file` protocol only, so a playlist or reference file cannot make FFmpeg reach out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av

from cms.core.settings import Settings
from cms.media.models import AssetKind
from cms.media.transcode.images import ImageRejected, refuse_oversized
from cms.media.transcode.isolated import IsolatedTaskFailed, run_isolated
from cms.media.transcode.source import ALLOWED_INPUT_FORMATS


class ProbeFailed(Exception):
    """The file cannot be read as the kind it claims to be; the message is shown to people."""


# Single-file demuxers only (FFmpeg's own format_whitelist): a playlist (HLS, concat) could name other files.
_IMAGE_FORMATS = frozenset({"png_pipe", "jpeg_pipe", "webp_pipe", "gif_pipe", "bmp_pipe", "tiff_pipe"})
_SAFE_OPTIONS = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(sorted(ALLOWED_INPUT_FORMATS | _IMAGE_FORMATS)),
    "probesize": "20000000",
    "analyzeduration": "20000000",
}


def _rotation(frame: av.VideoFrame | None) -> int:
    """Clockwise degrees (0, 90, 180, 270) to turn stored frames to display them upright. FFmpeg exposes the
    display matrix on decoded frames, counter-clockwise (older files' `rotate` tag ends up there too)."""
    try:
        counter_clockwise = int(round(getattr(frame, "rotation", 0) or 0))
    except (TypeError, ValueError):
        return 0
    return (-round(counter_clockwise / 90) * 90) % 360


def _codec(stream: Any) -> str:
    """The codec as people name it ("mp3", "av1"), not the FFmpeg decoder that read it ("mp3float", "libdav1d")."""
    return str(stream.codec_context.codec.canonical_name)


@dataclass(frozen=True)
class DocumentLimits:
    """How much of a PDF the worker reads (CMS_DOCUMENT_*): the pages accepted, the text kept for search, and the
    limits of the child process that reads it (probe and processing alike)."""

    max_pages: int
    max_text_bytes: int
    timeout_seconds: float
    memory_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentLimits:
        return cls(
            max_pages=settings.document_max_pages,
            max_text_bytes=settings.document_max_text_bytes,
            timeout_seconds=settings.document_timeout_seconds,
            memory_bytes=settings.document_memory_bytes,
        )


async def probe_document(path: Path, limits: DocumentLimits) -> dict[str, Any]:
    """A PDF's probe (cms.media.transcode.documents.probe_pdf), read in an isolated child: opening a PDF already
    parses its cross-reference table and page tree, which a hostile file can make explode or crash PDFium, so not
    even that happens in the worker. Raises ProbeFailed with the reason (password, page count, page size, damage)."""
    task = {"task": "document_probe", "src": str(path), "max_pages": limits.max_pages}
    try:
        result = await run_isolated(
            task, timeout=limits.timeout_seconds, memory_limit_bytes=limits.memory_bytes, reader="PDF reader"
        )
    except IsolatedTaskFailed as exc:
        raise ProbeFailed(str(exc)) from exc
    probe: dict[str, Any] = result["probe"]
    return probe


def settle_kind(path: Path, sniffed: AssetKind) -> AssetKind:
    """A video container (MP4, WebM, Matroska) holding sound only is audio: podcasts serve such .mp4 and .m4a files
    (the isom brand sniffs as video). A file that cannot be opened keeps its kind: probe_file says why."""
    if sniffed != AssetKind.VIDEO:
        return sniffed
    try:
        with av.open(str(path), mode="r", options=_SAFE_OPTIONS) as container:
            if not container.streams.video and container.streams.audio:
                return AssetKind.AUDIO
    except (av.FFmpegError, OSError, ValueError):
        pass
    return sniffed


def probe_file(path: Path, kind: AssetKind) -> dict[str, Any]:  # noqa: C901 - each stream kind's checks in turn
    """Read container and stream headers and decode the first frame; raise ProbeFailed when unreadable. Documents
    are not read here (see probe_document): their probe is {}."""
    if kind == AssetKind.DOCUMENT:
        return {}
    if kind == AssetKind.IMAGE:
        try:  # the pixel limit first, from the header: FFmpeg would try to decode a 30000x30000 PNG
            refuse_oversized(path)
        except ImageRejected as exc:
            raise ProbeFailed(exc.reason) from exc
    try:
        with av.open(str(path), mode="r", options=_SAFE_OPTIONS) as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if kind == AssetKind.VIDEO and video is None:
                raise ProbeFailed("the file has no video stream")
            if kind == AssetKind.AUDIO and audio is None:
                raise ProbeFailed("the file has no audio stream")
            if kind == AssetKind.IMAGE and video is None:
                raise ProbeFailed("the image could not be decoded")
            info: dict[str, Any] = {"format": container.format.name}
            if container.duration is not None and kind != AssetKind.IMAGE:
                info["duration"] = round(container.duration / av.time_base, 3)
            if container.bit_rate:
                info["bitrate"] = int(container.bit_rate)
            if video is not None:
                info.update(
                    width=video.codec_context.width,
                    height=video.codec_context.height,
                    video_codec=_codec(video),
                )
                if video.average_rate and kind == AssetKind.VIDEO:
                    info["frame_rate"] = round(float(video.average_rate), 3)
            if audio is not None:
                info.update(
                    audio_codec=_codec(audio),
                    audio_channels=audio.codec_context.channels,
                    sample_rate=audio.codec_context.sample_rate,
                )
            first = _decode_first_frame(container, video or audio)
            if video is not None:
                info["rotation"] = _rotation(cast(av.VideoFrame, first))  # decoded from the video stream
    except ProbeFailed:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ProbeFailed(f"the file is not a readable {kind.value.lower()}: {_reason(exc)}") from exc
    if kind in (AssetKind.VIDEO, AssetKind.AUDIO) and not info.get("duration"):
        raise ProbeFailed(f"the {kind.value.lower()} has no duration (truncated or empty)")
    return info


def _decode_first_frame(container: av.container.InputContainer, stream: av.stream.Stream | None) -> object:
    for frame in container.decode(stream):
        return frame
    raise ProbeFailed("no frame could be decoded (truncated or empty file)")


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0][:200]
