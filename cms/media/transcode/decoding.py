"""The input side: open the source safely, demux it once, decode, and report progress and deadlines."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from av.container import InputContainer

from cms.media.transcode.errors import TranscodeFailed, TranscodeTimeout, ffmpeg_reason
from cms.media.transcode.source import open_input

Progress = Callable[[float], None]
_PROGRESS_INTERVAL = 0.25  # seconds: at most ~4 calls a second
_MAX_DECODE_ERRORS = 5  # a few damaged packets are concealed, like FFmpeg does; more means a broken file


class opened:
    """`with opened(...) as container`: the input, closed on every path."""

    def __init__(self, src: Path, input_format: str | None, hw_decode: bool) -> None:
        self._args = (src, input_format, hw_decode)

    def __enter__(self) -> InputContainer:
        src, input_format, hw_decode = self._args
        self._container = open_input(src, input_format, hw_decode=hw_decode)
        return self._container

    def __exit__(self, *exc_info: object) -> None:
        self._container.close()


def decoded(
    container: InputContainer, streams: list[av.stream.Stream], deadline: float | None
) -> Iterator[tuple[av.stream.Stream, av.VideoFrame | av.AudioFrame]]:
    """Demux once and decode each stream; damaged packets are tolerated up to a few."""
    errors = 0
    try:
        for packet in container.demux(*streams):
            if deadline is not None and time.monotonic() > deadline:
                raise TranscodeTimeout("the transcode did not finish before its deadline")
            try:
                # Only video and audio streams are demuxed here, so no subtitles come out.
                frames = cast("list[av.VideoFrame | av.AudioFrame]", packet.decode())
            except av.InvalidDataError as exc:
                errors += 1
                if errors > _MAX_DECODE_ERRORS:
                    raise TranscodeFailed(f"the file is damaged and cannot be decoded: {ffmpeg_reason(exc)}") from exc
                continue
            for frame in frames:
                yield packet.stream, frame
    except TranscodeFailed:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscodeFailed(f"the file could not be read to the end: {ffmpeg_reason(exc)}") from exc


def presentation_start(container: InputContainer) -> Fraction:
    """The earliest start of any stream, subtracted from every timestamp: outputs begin at 0 whether the
    source starts later (MPEG-TS) or earlier (AAC priming), and audio and video shift alike (sync kept)."""
    start = container.start_time
    return Fraction(start, av.time_base) if start else Fraction(0)


def expected_duration(container: InputContainer, stream: av.stream.Stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def check_complete(decoded: float, expected: float | None, kind: str) -> None:
    """A file whose media stops well before its declared end was cut off (e.g. an interrupted upload)."""
    if expected and decoded < expected - max(2.0, 0.1 * expected):
        raise TranscodeFailed(
            f"the {kind} stops after {decoded:.1f} s of its {expected:.1f} s: the file looks truncated"
        )


class Ticker:
    """Calls `progress(fraction)` at most every 0.25 s, and with 1.0 once at the end."""

    def __init__(self, progress: Progress | None, expected: float | None) -> None:
        self._progress, self._expected = progress, expected
        self._last = -math.inf

    def at(self, seconds: float) -> None:
        if self._progress is None or not self._expected:
            return
        now = time.monotonic()
        if now - self._last >= _PROGRESS_INTERVAL:
            self._last = now
            self._progress(min(0.99, max(0.0, seconds / self._expected)))

    def done(self) -> None:
        if self._progress is not None:
            self._progress(1.0)
