"""What this machine can do for video, found by opening the codecs for real (not by reading codec lists:
the wheels list h264_nvenc everywhere, and H100/H200 GPUs have NVDEC but no NVENC).

`detect()` runs once at worker start; the choice is logged and each stage falls back on its own.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import av
import numpy as np

log = logging.getLogger("cms.media.capabilities")

GPU_ENCODER = "h264_nvenc"
CPU_ENCODER = "libx264"


@dataclass(frozen=True)
class Capabilities:
    video_encoder: str = CPU_ENCODER
    hw_decode: bool = False  # NVDEC through av.codec.hwaccel (CUDA)
    notes: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        decode = "NVDEC (cuda)" if self.hw_decode else "CPU"
        return f"decode: {decode}; encode: {self.video_encoder}" + "".join(
            f"; {stage}: {why}" for stage, why in self.notes.items()
        )


def _frames(count: int = 4, width: int = 256, height: int = 144) -> Iterator[av.VideoFrame]:
    for i in range(count):
        image = np.full((height, width, 3), (i * 40) % 255, dtype=np.uint8)
        yield av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


def _encode_sample(codec: str) -> bytes:
    """A few frames of H.264 in MP4, made with `codec`; raises when the encoder cannot really run."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        # add_stream is typed by literal codec names; `codec` is a str naming a video encoder.
        stream = cast(av.VideoStream, out.add_stream(codec, rate=25))
        stream.width, stream.height, stream.pix_fmt = 256, 144, "yuv420p"
        stream.time_base = Fraction(1, 25)
        for index, frame in enumerate(_frames()):
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def _can_encode(codec: str) -> tuple[bool, str]:
    try:
        return len(_encode_sample(codec)) > 0, "ok"
    except (av.FFmpegError, ValueError, OSError, RuntimeError) as exc:
        return False, str(exc).split(";")[0][:160]


def _can_hw_decode(sample: bytes) -> tuple[bool, str]:
    if "cuda" not in av.codec.hwaccel.hwdevices_available():
        return False, "FFmpeg has no CUDA device support"
    try:
        accel = av.codec.hwaccel.HWAccel(device_type="cuda", allow_software_fallback=False)
        with av.open(io.BytesIO(sample), "r", hwaccel=accel) as container:
            decoded = sum(1 for _ in container.decode(video=0))
        return decoded > 0, "ok" if decoded else "no frame decoded"
    except (av.FFmpegError, ValueError, OSError, RuntimeError, TypeError) as exc:
        return False, str(exc).split(";")[0][:160]


def detect(*, try_gpu: bool = True) -> Capabilities:
    notes: dict[str, str] = {}
    encoder = CPU_ENCODER
    if try_gpu:
        ok, why = _can_encode(GPU_ENCODER)
        if ok:
            encoder = GPU_ENCODER
        else:
            notes["nvenc"] = f"unavailable ({why})"
    hw_decode = False
    if try_gpu:
        hw_decode, why = _can_hw_decode(_encode_sample(CPU_ENCODER))
        if not hw_decode:
            notes["nvdec"] = f"unavailable ({why})"
    found = Capabilities(video_encoder=encoder, hw_decode=hw_decode, notes=notes)
    log.info("video capabilities: %s", found.describe())
    return found
