"""Transcode errors; their `reason` is written for people (editors see it on the asset)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import av
import av.logging


class TranscodeFailed(Exception):
    """The source could not be turned into renditions; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TranscodeTimeout(TranscodeFailed):
    """The deadline passed; a subclass so callers that only catch TranscodeFailed still stop cleanly."""


def ffmpeg_reason(exc: BaseException) -> str:
    """A short readable reason from an FFmpeg error: its last log line beats the bare errno text."""
    log = getattr(exc, "log", None)
    if isinstance(exc, av.FFmpegError) and log and len(log) == 3 and log[2]:
        detail = f"{log[1]}: {str(log[2]).strip()}" if log[1] else str(log[2]).strip()
        return f"{exc.strerror or 'FFmpeg error'} ({detail})"[:300]
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    # Drop the file name FFmpeg appends: it is a server path, not something to show.
    return str(text).split(": '", 1)[0][:300]


@contextlib.contextmanager
def ffmpeg_logs() -> Iterator[None]:
    """Let FFmpeg errors carry their log line (PyAV keeps logging off by default) without printing them."""
    previous = av.logging.get_level()
    if previous is None:
        av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=True):
            yield
    finally:
        if previous is None:
            av.logging.set_level(None)
