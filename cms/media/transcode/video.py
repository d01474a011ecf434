"""One video rendition: scale, encode H.264 High with aligned closed GOPs, and write its HLS files."""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorRange, Interpolation, VideoReformatter

from cms.media.transcode import hls
from cms.media.transcode.errors import ffmpeg_reason
from cms.media.transcode.ladder import RungPlan

log = logging.getLogger(__name__)

_FALLBACK_ENCODER = "libx264"
_UNSET_COLOUR = (0, 2)  # FFmpeg's reserved/RGB (0) and unspecified (2) colour tags: nothing to keep
_encoder_usable: dict[str, bool] = {}


def usable_encoder(name: str) -> str:
    """`name` when it opens on this machine (NVENC needs a GPU and driver), else libx264."""
    if name == _FALLBACK_ENCODER:
        return name
    if name not in _encoder_usable:
        try:
            # create() is typed as the base CodecContext; a video encoder's name gives a VideoCodecContext.
            context = cast(av.VideoCodecContext, av.CodecContext.create(name, "w"))
            context.width, context.height, context.pix_fmt = 256, 144, "yuv420p"
            context.time_base = Fraction(1, 30)
            context.open()
            _encoder_usable[name] = True
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.info("encoder %s unavailable, using %s: %s", name, _FALLBACK_ENCODER, ffmpeg_reason(exc))
            _encoder_usable[name] = False
    return name if _encoder_usable[name] else _FALLBACK_ENCODER


def gop_frames(frame_rate: float, gop_seconds: float) -> int:
    """Frames per GOP; rounded up so the encoder's own keyframe never lands before the forced one."""
    return max(1, math.ceil(gop_seconds * frame_rate - 1e-6))


def encoder_options(encoder: str, plan: RungPlan, *, gop: int, preset: str, crf: int) -> dict[str, str]:
    """Capped-CRF H.264 High, closed GOP, no scene-cut keyframes (they would differ between rungs)."""
    common = {
        "profile": "high",
        "g": str(gop),
        "maxrate": str(plan.maxrate),
        "bufsize": str(plan.bufsize),
        "forced-idr": "1",  # a forced keyframe is an IDR, so each segment starts a closed GOP
    }
    if encoder == "libx264":
        return common | {
            "preset": preset,
            "crf": str(crf),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "x264-params": "scenecut=0:open_gop=0",
        }
    if encoder.endswith("_nvenc"):
        return common | {
            "preset": "p5",
            "tune": "hq",
            "rc": "vbr",
            "cq": str(crf + 2),
            "b": "0",
            "no-scenecut": "1",
            "strict_gop": "1",
            "spatial-aq": "1",
            "bf": "3",
        }
    return common


class VideoRendition:
    """Encoder and muxer of one rung. Any error here fails this rung only (see `fail`)."""

    def __init__(self, plan: RungPlan, out_dir: Path) -> None:
        self.plan = plan
        self.width, self.height = plan.width, plan.height
        self.folder = out_dir / plan.name
        self.error: str | None = None
        self.codecs: str | None = None
        self.frames = 0
        self.seconds = 0.0  # spent in this rung's scaler, encoder and muxer (metrics: its speed)
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._scaler = VideoReformatter()
        self._durations: dict[int, int] = {}  # pts -> duration of frames inside the encoder (bounded by its delay)
        self._keys: list[int] = []  # pts of the forced keyframes: where segments may start
        self._end = 0
        self._time_base = Fraction(1, 1)

    @property
    def ok(self) -> bool:
        return self.error is None

    def open(
        self,
        *,
        encoder: str,
        time_base: Fraction,
        rate: Fraction,
        upright: tuple[int, int],
        first: av.VideoFrame,
        gop: int,
        preset: str,
        crf: int,
        segment_seconds: float,
    ) -> None:
        # The plan follows the probe's rotation; if the frames turn out the other way up, follow the frames.
        if (upright[0] > upright[1]) != (self.width > self.height) and upright[0] != upright[1]:
            self.width, self.height = self.height, self.width
        self.folder.mkdir(parents=True, exist_ok=True)
        self._container = av.open(
            str(self.folder / hls.PLAYLIST),
            mode="w",
            format="hls",
            options=hls.muxer_options(self.folder, segment_seconds),
        )
        # add_stream is typed by literal codec names; `encoder` is a str naming a video encoder.
        stream = cast(
            av.VideoStream,
            self._container.add_stream(
                encoder, rate=rate, options=encoder_options(encoder, self.plan, gop=gop, preset=preset, crf=crf)
            ),
        )
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        context = stream.codec_context
        context.time_base = self._time_base = time_base  # the source's: VFR timestamps pass through exactly
        context.color_range = ColorRange.MPEG
        if encoder == "libx264":
            # PyAV defaults encoders to slice threads, which x264 runs on one core here; frame threads
            # (x264's own default) use them all and compress better.
            context.thread_type, context.thread_count = "FRAME", 0
        # Keep the source's colour tags (Apple: VOD stays in its original colour space).
        for name in ("colorspace", "color_primaries", "color_trc"):
            value = getattr(first, name, None)
            if value is not None and int(value) not in _UNSET_COLOUR:
                setattr(context, name, value)
        context.open()
        self._stream = stream
        self.codecs = hls.avc1_codec(context.extradata)

    def encode(self, frame: av.VideoFrame, keyframe: bool) -> None:
        started = time.perf_counter()
        try:
            self._encode(frame, keyframe)
        finally:
            self.seconds += time.perf_counter() - started

    def _encode(self, frame: av.VideoFrame, keyframe: bool) -> None:
        assert self._container is not None and self._stream is not None
        range_in = frame.color_range or (ColorRange.JPEG if frame.format.name.startswith("yuvj") else None)
        scaled = self._scaler.reformat(
            frame,
            width=self.width,
            height=self.height,
            format="yuv420p",
            interpolation=Interpolation.BICUBIC,
            src_color_range=range_in,
            dst_color_range=ColorRange.MPEG,
        )
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        assert scaled.pts is not None  # decoded frames carry timestamps
        # The decoder's own I/P/B types would leak the source GOP into every rung: only ours count.
        scaled.pict_type = PictureType.I if keyframe else PictureType.NONE
        self._durations[scaled.pts] = scaled.duration
        if keyframe:
            self._keys.append(scaled.pts)
        self._end = scaled.pts + scaled.duration
        self._mux(self._stream.encode(scaled))
        self.frames += 1

    def _mux(self, packets: list[av.Packet[av.VideoStream]]) -> None:
        assert self._container is not None
        for packet in packets:
            # x264 stamps packets with the nominal 1/fps; the HLS muxer sums packet durations into
            # EXTINF, so give each packet its frame's real duration (VFR sources).
            duration = self._durations.pop(packet.pts, None) if packet.pts is not None else None
            if duration:
                packet.duration = duration
            self._container.mux(packet)

    def finish(self) -> None:
        """Flush the encoder and write the playlist's end; the files are then complete."""
        assert self._container is not None and self._stream is not None
        started = time.perf_counter()
        try:
            self._mux(self._stream.encode(None))  # the frames still inside the encoder: part of its work
            container, self._container = self._container, None
            container.close()
        finally:
            self.seconds += time.perf_counter() - started
        if self.frames == 0:
            raise ValueError("no frame was encoded")
        self._exact_durations()

    def _exact_durations(self) -> None:
        """Replace the muxer's EXTINF estimates (it sums packet durations from a B-frame-ordered
        start, off by a frame or two) with the real span between the keyframes that start segments."""
        playlist = hls.read_media_playlist(self.folder)
        key_times = [float((pts - self._keys[0]) * self._time_base) for pts in self._keys]
        starts, elapsed = [], 0.0
        for _, seconds in playlist.segments:
            # The keyframe nearest to where the muxer thinks this segment starts (keyframes are 2 s apart).
            after = bisect.bisect_left(key_times, elapsed)
            nearest = min(
                (i for i in (after - 1, after) if 0 <= i < len(key_times)), key=lambda i: abs(key_times[i] - elapsed)
            )
            starts.append(self._keys[nearest])
            elapsed += seconds
        if len(set(starts)) != len(starts) or starts != sorted(starts) or starts[0] != self._keys[0]:
            log.warning("rendition %s: segments do not match keyframes; keeping the muxer's durations", self.plan.name)
            return
        bounds = [*starts, self._end]
        hls.rewrite_durations(self.folder, [float((b - a) * self._time_base) for a, b in zip(bounds, bounds[1:])])

    def fail(self, exc: BaseException) -> None:
        """Record why this rung failed and remove its partial files so they are never published."""
        self.error = ffmpeg_reason(exc)
        log.warning("rendition %s failed: %s", self.plan.name, self.error)
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                container.close()
