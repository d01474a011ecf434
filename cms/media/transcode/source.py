"""Opening a source safely and turning its frames upright.

A source is one local file. Demuxers that open other files or URLs (HLS, DASH, concat, image
sequences) are refused by name *and* by FFmpeg's own `format_whitelist`, so neither the probe's
answer nor FFmpeg's format guessing can make a playlist read `file:///etc/passwd`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

import av
import av.filter
from av.container import InputContainer

if TYPE_CHECKING:
    from av.codec.hwaccel import HWAccel

from cms.media.transcode.errors import TranscodeFailed, ffmpeg_reason

log = logging.getLogger(__name__)

# Single-file container demuxers (FFmpeg names, as the probe reports them).
ALLOWED_INPUT_FORMATS: frozenset[str] = frozenset(
    {
        "mov,mp4,m4a,3gp,3g2,mj2",
        "matroska,webm",
        "avi",
        "mpegts",
        "flv",
        "ogg",
        "wav",
        "w64",
        "mp3",
        "aac",
        "flac",
        "asf",
        "mpeg",
        "mpegvideo",
        "m4v",
        "h264",
        "hevc",
        "mxf",
        "dv",
        "aiff",
        "caf",
        "amr",
        "ac3",
        "eac3",
        "ivf",
        "gif",
    }
)
_FORMAT_WHITELIST = ",".join(sorted(ALLOWED_INPUT_FORMATS))

_INPUT_OPTIONS = {
    "protocol_whitelist": "file",
    "format_whitelist": _FORMAT_WHITELIST,
    "probesize": "20000000",
    "analyzeduration": "20000000",
}


def open_input(src: Path, input_format: str | None, *, hw_decode: bool = False) -> InputContainer:
    """Open `src` for decoding with the probe's format; raise TranscodeFailed in plain words."""
    if input_format is not None and input_format not in ALLOWED_INPUT_FORMATS:
        raise TranscodeFailed(f"the container format {input_format!r} is not accepted for transcoding")
    # An absolute path can never be read as a protocol prefix ("concat:", "pipe:").
    path = str(Path(src).resolve())
    if hw_decode:
        hwaccel = _cuda_hwaccel()
        if hwaccel is not None:
            try:
                return av.open(path, mode="r", format=input_format, options=dict(_INPUT_OPTIONS), hwaccel=hwaccel)
            except (av.FFmpegError, OSError) as exc:
                # No usable GPU here: decode on the CPU instead of failing the asset.
                log.info("hardware decoding unavailable, using the CPU: %s", ffmpeg_reason(exc))
    try:
        return av.open(path, mode="r", format=input_format, options=dict(_INPUT_OPTIONS))
    except FileNotFoundError as exc:
        raise TranscodeFailed("the source file is missing") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscodeFailed(f"the file could not be opened as media: {ffmpeg_reason(exc)}") from exc


def _cuda_hwaccel() -> HWAccel | None:
    try:
        from av.codec.hwaccel import HWAccel, hwdevices_available
    except ImportError:
        return None
    if "cuda" not in hwdevices_available():
        return None
    return HWAccel("cuda", allow_software_fallback=True)


def frame_rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees (0, 90, 180, 270) the display matrix turns this frame by."""
    try:
        degrees = int(round(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):
        return 0
    return (round(degrees / 90) * 90) % 360


class Rotator:
    """Turns frames upright with FFmpeg's transpose/flip filters (C code, no per-pixel Python)."""

    _FILTERS = {90: (("transpose", "cclock"),), 270: (("transpose", "clock"),), 180: (("hflip", ""), ("vflip", ""))}

    def __init__(self, rotation: int) -> None:
        self.rotation = rotation % 360
        self._graph: av.filter.Graph | None = None
        self._key: tuple[int, int, str] | None = None

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self.rotation not in self._FILTERS:
            return frame
        key = (frame.width, frame.height, frame.format.name)
        if self._graph is None or key != self._key:
            self._graph, self._key = self._build(frame), key  # rebuilt only if the stream changes size
        pts, time_base = frame.pts, frame.time_base
        self._graph.push(frame)
        upright = cast(av.VideoFrame, self._graph.pull())  # a video graph gives video frames
        upright.pts, upright.time_base = pts, time_base
        return upright

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        node = graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format,
            time_base=frame.time_base or 1,  # type: ignore[arg-type]  # PyAV takes an int; its stub says Fraction
        )
        for name, args in self._FILTERS[self.rotation]:
            following = graph.add(name, args) if args else graph.add(name)
            node.link_to(following)
            node = following
        sink = graph.add("buffersink")
        node.link_to(sink)
        graph.configure()
        return graph
