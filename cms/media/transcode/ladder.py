"""The adaptive bitrate ladder: which renditions a source gets, at what size and bitrate.

Pure functions, no I/O: the plan is decided from probe data before any decoding starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

# Bump when the output layout or encoding logic changes in a way that makes old renditions stale.
OUTPUT_FORMAT_VERSION = "hls-fmp4-v1"

# Above this the rung gets 1.5x bitrate (Apple's table has separate columns for 50/60 fps).
HIGH_FRAME_RATE = 30.5
HIGH_FRAME_RATE_FACTOR = 1.5

# A source slightly smaller than a rung (1920x1072, 1824x1026) still gets that rung, at its own size.
_FIT_TOLERANCE = 1.05


@dataclass(frozen=True)
class Rung:
    """One step of the ladder: `height` is the short side of a 16:9 box, `bitrate` the average in bit/s."""

    name: str
    height: int
    bitrate: int


@dataclass(frozen=True)
class RungPlan:
    """One rendition to encode: display-oriented even dimensions and the rate-control caps."""

    name: str
    width: int
    height: int
    bitrate: int
    maxrate: int
    bufsize: int
    frame_rate: float


@dataclass(frozen=True)
class EncoderSettings:
    """Everything besides the ladder that changes the output bytes; part of the output fingerprint."""

    video_encoder: str = "libx264"
    preset: str = "medium"
    crf: int = 21
    gop_seconds: float = 2.0
    segment_seconds: float = 6.0
    audio_bitrate: int = 128_000
    audio_sample_rate: int = 48_000


DEFAULT_SETTINGS = EncoderSettings()

# Apple HLS authoring spec, 16:9 column, <= 30 fps (bit/s).
DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung("1080p", 1080, 6_000_000),
    Rung("720p", 720, 3_000_000),
    Rung("540p", 540, 2_000_000),
    Rung("360p", 360, 730_000),
    Rung("234p", 234, 145_000),
)


def display_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """The size a player shows: a quarter turn swaps the stored width and height."""
    return (height, width) if rotation % 180 == 90 else (width, height)


def plan_ladder(
    width: int, height: int, frame_rate: float, rotation: int, ladder: Sequence[Rung] = DEFAULT_LADDER
) -> list[RungPlan]:
    """The renditions for a source, tallest first.

    Each rung is a 16:9 box (9:16 for portrait sources) of `rung.height` on its short side; the source
    is fitted inside it with its aspect kept, so portrait 1080x1920 gets a 1080p rung of 1080x1920 and a
    2.39:1 1920x804 film still gets 1080p. Rungs that would need upscaling are dropped, except that
    the lowest rung is always kept (at the source size when the source is smaller than it).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid source size {width}x{height}")
    if not ladder:
        raise ValueError("the ladder has no rungs")
    if not frame_rate or frame_rate <= 0:
        raise ValueError(f"invalid frame rate {frame_rate!r}")
    disp_w, disp_h = display_size(width, height, rotation)
    portrait = disp_h > disp_w
    rungs = sorted(ladder, key=lambda rung: rung.height, reverse=True)
    plans: list[RungPlan] = []
    for rung in rungs:
        box_long = rung.height * 16 / 9
        box_w, box_h = (rung.height, box_long) if portrait else (box_long, rung.height)
        scale = min(box_w / disp_w, box_h / disp_h)
        if scale > _FIT_TOLERANCE:
            continue  # this rung would be an upscale
        plans.append(_plan(rung, disp_w, disp_h, min(scale, 1.0), frame_rate))
    if not plans:
        # Smaller than the lowest rung: keep one rendition at the source size rather than none.
        plans.append(_plan(rungs[-1], disp_w, disp_h, 1.0, frame_rate))
    return plans


def _plan(rung: Rung, disp_w: int, disp_h: int, scale: float, frame_rate: float) -> RungPlan:
    factor = HIGH_FRAME_RATE_FACTOR if frame_rate > HIGH_FRAME_RATE else 1.0
    bitrate = int(rung.bitrate * factor)
    return RungPlan(
        name=rung.name,
        width=_even(disp_w * scale, disp_w),
        height=_even(disp_h * scale, disp_h),
        bitrate=bitrate,
        # Capped CRF: the ladder bitrate is the ceiling; a 2 s buffer absorbs the keyframe at each GOP.
        maxrate=bitrate,
        bufsize=2 * bitrate,
        frame_rate=float(frame_rate),
    )


def _even(value: float, limit: int) -> int:
    """Nearest even number, never above the source (4:2:0 chroma needs even sizes; no upscaling)."""
    even = 2 * round(value / 2)
    if even > limit:
        even = limit - limit % 2
    return max(2, even)


def ladder_fingerprint(ladder: Sequence[Rung], settings: EncoderSettings = DEFAULT_SETTINGS) -> str:
    """A short stable hash of the ladder and encoder settings, used in output keys.

    Renditions made with other settings live under another key, so a settings change never mixes
    segments from two encodes; the rung order does not matter.
    """
    payload = {
        "version": OUTPUT_FORMAT_VERSION,
        "ladder": sorted([rung.name, rung.height, rung.bitrate] for rung in ladder),
        "settings": dataclasses.asdict(settings),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
