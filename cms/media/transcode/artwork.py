"""Posters, thumbnail strips and storyboards from a video, with PyAV.

Pure and synchronous: the caller runs these in a worker thread and stores the files they write.
Frames are found by seeking to keyframes (one packet decoded per frame wanted) and decoded forward only
where keyframes are too sparse; scaling and rotation run in FFmpeg's filter graph, never in Python loops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from PIL import Image

# `file` only: a playlist or reference file cannot make FFmpeg reach out (same rule as the probe).
_OPTIONS = {"protocol_whitelist": "file"}
_JPEG_QUALITY = 82
_POSTER_AT = (0.10, 0.25, 0.40, 0.50, 0.65)  # fractions of the duration tried as posters
_NICE_INTERVALS = (2, 3, 4, 5, 6, 10, 15, 20, 30, 60, 120, 300)
_MAX_TILES = 200
_HARD_MAX_TILES = 2000  # an explicit interval may ask for more, but not without bound
VTT_NAME = "storyboard.vtt"

# Clockwise rotation needed for display -> filters that do it (transpose is a plain C loop in FFmpeg).
_TURNS: dict[int, tuple[tuple[str, str | None], ...]] = {
    0: (),
    90: (("transpose", "clock"),),
    180: (("hflip", None), ("vflip", None)),
    270: (("transpose", "cclock"),),
}


class ArtworkFailed(Exception):
    """No artwork could be made; `reason` is shown to people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PosterResult:
    width: int
    height: int
    at_seconds: float


@dataclass(frozen=True)
class StripResult:
    width: int
    height: int
    count: int
    tile_width: int
    tile_height: int


@dataclass(frozen=True)
class StoryboardResult:
    vtt: str  # file name inside out_dir; cues point at the sheets by relative name
    sheets: list[str]
    tile_width: int
    tile_height: int
    count: int
    interval: float


def poster(
    src: str | Path,
    out_path: str | Path,
    *,
    input_format: str | None,
    rotation: int | None,
    max_width: int = 1280,
    deadline: float | None = None,
) -> PosterResult:
    """A JPEG poster from the best-exposed, most detailed of a few frames spread over the video."""
    with _open(src, input_format, rotation, deadline) as video:
        duration = video.duration()
        times = [duration * share for share in _POSTER_AT]
        best: tuple[float, av.VideoFrame] | None = None
        for _, frame in video.frames_at(times, tolerance=max(0.5, duration * 0.05)):
            score = _score(frame)
            if best is None or score > best[0]:
                best = (score, frame)
        assert best is not None  # frames_at yields once per time or raises
        frame = best[1]
        render = video.renderer(frame, max_width, shrink_only=True)
        _save_jpeg(render(frame), out_path)
        return PosterResult(width=render.width, height=render.height, at_seconds=round(video.seconds(frame), 3))


def thumbnail_strip(
    src: str | Path,
    out_path: str | Path,
    *,
    input_format: str | None,
    rotation: int | None,
    count: int = 10,
    tile_width: int = 160,
    deadline: float | None = None,
) -> StripResult:
    """One horizontal JPEG of `count` evenly spaced frames (the middle of each equal slice)."""
    if count < 1 or tile_width < 8:
        raise ValueError("count must be >= 1 and tile_width >= 8")
    with _open(src, input_format, rotation, deadline, tiles=True) as video:
        step = video.duration() / count
        tiles, render = _tiles(video, [step * (i + 0.5) for i in range(count)], step / 2, tile_width)
    _save_jpeg(np.concatenate(tiles, axis=1), out_path)
    return StripResult(render.width * count, render.height, count, render.width, render.height)


def storyboard(
    src: str | Path,
    out_dir: str | Path,
    *,
    input_format: str | None,
    rotation: int | None,
    duration: float,
    interval: float | None = None,
    tile_width: int = 160,
    columns: int = 10,
    max_sheet_height: int = 4096,
    deadline: float | None = None,
) -> StoryboardResult:
    """Sprite sheets of a tile every `interval` seconds and a WebVTT index (`sheet-N.jpg#xywh=x,y,w,h` cues)."""
    if not duration or duration <= 0:
        raise ArtworkFailed("the video has no duration, so no storyboard can be made")
    if columns < 1 or tile_width < 8 or (interval is not None and interval <= 0):
        raise ValueError("columns must be >= 1, tile_width >= 8 and interval > 0")
    # Whole milliseconds everywhere, so cue ends and starts meet exactly and the last cue ends at the duration.
    total_ms = max(1, round(duration * 1000))
    step_ms = max(1, round((interval or _auto_interval(duration)) * 1000))
    count = -(-total_ms // step_ms)
    if count > _HARD_MAX_TILES:
        raise ArtworkFailed(f"the storyboard would need {count} tiles; use a longer interval")
    bounds = [(i * step_ms, min((i + 1) * step_ms, total_ms)) for i in range(count)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _open(src, input_format, rotation, deadline, tiles=True) as video:
        # The middle of each cue: a keyframe anywhere in the cue's first half still belongs to the cue.
        times = [(start + end) / 2000 for start, end in bounds]
        tiles, render = _tiles(video, times, step_ms / 2000, tile_width)
    tw, th = render.width, render.height
    rows = max_sheet_height // th
    if rows < 1:
        raise ArtworkFailed(f"a tile ({th} px) is taller than a sheet may be ({max_sheet_height} px)")
    per_sheet = rows * columns
    sheets: list[str] = []
    lines = ["WEBVTT", ""]
    for first in range(0, count, per_sheet):
        chunk = tiles[first : first + per_sheet]
        name = f"sheet-{len(sheets) + 1}.jpg"
        sheet = np.zeros((-(-len(chunk) // columns) * th, min(columns, len(chunk)) * tw, 3), dtype=np.uint8)
        for index, tile in enumerate(chunk):
            x, y = (index % columns) * tw, (index // columns) * th
            sheet[y : y + th, x : x + tw] = tile
            start, end = bounds[first + index]
            lines += [f"{_timestamp(start)} --> {_timestamp(end)}", f"{name}#xywh={x},{y},{tw},{th}", ""]
        _save_jpeg(sheet, out / name)
        sheets.append(name)
    (out / VTT_NAME).write_text("\n".join(lines), encoding="utf-8")
    return StoryboardResult(VTT_NAME, sheets, tw, th, count, step_ms / 1000)


def _auto_interval(duration: float) -> float:
    """The first round interval that keeps the storyboard within ~200 tiles (2 s for anything under ~6 min)."""
    for seconds in _NICE_INTERVALS:
        if duration / seconds <= _MAX_TILES:
            return float(seconds)
    return duration / _MAX_TILES


def _tiles(video: _Video, times: Sequence[float], tolerance: float, width: int) -> tuple[list[np.ndarray], _Renderer]:
    tiles: list[np.ndarray] = []
    render: _Renderer | None = None
    for _, frame in video.frames_at(times, tolerance=tolerance):
        render = render or video.renderer(frame, width)
        tiles.append(render(frame))
    assert render is not None
    return tiles, render


def _score(frame: av.VideoFrame) -> float:
    """High for a well-exposed frame with detail; ~0 for black, white or flat frames (fades, slates)."""
    luma = frame.reformat(width=96, height=54, format="gray").to_ndarray().astype(np.float32)
    mean, spread = float(luma.mean()), float(luma.std())
    exposure = 1.0 - min(1.0, abs(mean - 128.0) / 112.0) ** 2
    return (spread + 8.0) * exposure


def _timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _save_jpeg(pixels: np.ndarray, path: str | Path) -> None:
    Image.fromarray(pixels).save(path, "JPEG", quality=_JPEG_QUALITY, optimize=True)


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0][:200]


@contextmanager
def _open(
    src: str | Path,
    input_format: str | None,
    rotation: int | None,
    deadline: float | None,
    *,
    tiles: bool = False,
) -> Iterator[_Video]:
    try:
        container = av.open(str(src), mode="r", format=input_format, options=_OPTIONS)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ArtworkFailed(f"the video could not be opened: {_reason(exc)}") from exc
    try:
        stream = next(iter(container.streams.video), None)
        if stream is None:
            raise ArtworkFailed("the file has no video stream")
        yield _Video(container, stream, rotation, deadline, tiles=tiles)
    except av.FFmpegError as exc:
        raise ArtworkFailed(f"the video could not be decoded: {_reason(exc)}") from exc
    finally:
        container.close()


class _Video:
    """One open video stream: duration, timed frame lookup, and renderers in display orientation."""

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        rotation: int | None,
        deadline: float | None,
        *,
        tiles: bool,
    ) -> None:
        self.container, self.stream, self.deadline = container, stream, deadline
        self.rotation = None if rotation is None else round(rotation / 90) % 4 * 90
        assert stream.time_base is not None  # demuxed streams have one
        self.start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        rate = stream.average_rate or stream.guessed_rate or 25
        self.half_frame = 0.5 / float(rate)
        stream.codec_context.thread_type = "AUTO"  # frame + slice threads: both cores on the forward path
        if tiles:  # deblocking is ~25% of H.264 decode time and invisible at tile size (not for posters)
            stream.codec_context.options = {"skip_loop_filter": "all"}

    def duration(self) -> float:
        if self.container.duration:
            return self.container.duration / av.time_base
        if self.stream.duration and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        raise ArtworkFailed("the video has no duration (truncated or a live stream)")

    def seconds(self, frame: av.VideoFrame) -> float:
        return frame.time - self.start if frame.time is not None else 0.0

    def renderer(self, frame: av.VideoFrame, width: int, *, shrink_only: bool = False) -> _Renderer:
        if self.rotation is None:  # caller did not know: trust the container's display matrix
            self.rotation = round(-(frame.rotation or 0) / 90) % 4 * 90
        sar = self.stream.sample_aspect_ratio
        shown_w, shown_h = frame.width * (float(sar) if sar else 1.0), float(frame.height)
        if self.rotation in (90, 270):
            shown_w, shown_h = shown_h, shown_w
        if shrink_only:
            width = min(width, round(shown_w))
        return _Renderer(width, max(1, round(width * shown_h / shown_w)), self.rotation)

    def frames_at(self, times: Sequence[float], *, tolerance: float) -> Iterator[tuple[float, av.VideoFrame]]:
        """Yield (time, frame) for each ascending target time: the keyframe before it when that keyframe is
        within `tolerance`, otherwise the first frame at or after it decoded forward (sparse keyframes)."""
        forward: Iterator[av.VideoFrame] | None = None
        last: av.VideoFrame | None = None
        last_at, gap = -math.inf, 0.0
        for target in times:
            if forward is not None and target <= last_at + self.half_frame:
                frame = last  # one frame covers several targets (low frame rate)
            elif forward is not None and target - last_at <= max(gap, tolerance):
                frame = self._advance(forward, target) or last  # cheaper than seeking back to a keyframe
            else:
                forward, key = None, self._keyframe(target)
                if key is None:
                    frame = last
                elif target - self.seconds(key) <= tolerance:
                    frame = key
                else:
                    gap = target - self.seconds(key)
                    forward = self._decode_after_seek(target, skip="NONREF")
                    frame = self._advance(forward, target) or key
            if frame is None:
                raise ArtworkFailed("no frame could be decoded (truncated or empty video)")
            last, last_at = frame, self.seconds(frame)
            yield target, frame

    def _keyframe(self, target: float) -> av.VideoFrame | None:
        for frame in self._decode_after_seek(target, skip="NONKEY"):
            return frame
        return None

    def _decode_after_seek(self, target: float, *, skip: Literal["NONREF", "NONKEY"]) -> Iterator[av.VideoFrame]:
        self._tick()
        assert self.stream.time_base is not None  # demuxed streams have one
        self.stream.codec_context.skip_frame = skip  # NONKEY: only keyframes are decoded at all
        base = self.stream.start_time or 0
        self.container.seek(base + int(max(0.0, target) / self.stream.time_base), stream=self.stream, backward=True)
        return self.container.decode(self.stream)

    def _advance(self, frames: Iterator[av.VideoFrame], target: float) -> av.VideoFrame | None:
        seen = None
        for frame in frames:
            self._tick()
            seen = frame
            if self.seconds(frame) >= target - self.half_frame:
                break
        return seen

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ArtworkFailed("making artwork took too long and was stopped")


class _Renderer:
    """Scale, then turn upright, then convert to RGB in one FFmpeg filter graph per input shape."""

    def __init__(self, width: int, height: int, rotation: int) -> None:
        self.width, self.height, self.rotation = width, height, rotation
        self._graphs: dict[tuple[int, int, str], av.filter.Graph] = {}

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        key = (frame.width, frame.height, frame.format.name)
        graph = self._graphs.get(key) or self._graphs.setdefault(key, self._build(frame))
        graph.vpush(frame)
        return graph.vpull().to_ndarray()

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        turned = self.rotation in (90, 270)
        pre_w, pre_h = (self.height, self.width) if turned else (self.width, self.height)
        graph = av.filter.Graph()
        nodes = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 1000),
            ),
            graph.add("scale", f"{pre_w}:{pre_h}:flags=area"),
            *(graph.add(name, args) for name, args in _TURNS[self.rotation]),
            graph.add("format", "rgb24"),
            graph.add("buffersink"),
        ]
        graph.link_nodes(*nodes).configure()
        return graph
