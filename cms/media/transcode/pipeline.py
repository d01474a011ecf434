"""Transcode one source into an HLS ladder: decode once, feed every rung's encoder, write master.m3u8.

Everything runs in one thread, frame by frame: each decoded frame goes to every encoder before the
next is decoded, so memory stays bounded by the decoder's and encoders' own small queues. Heavy work
(decoding, transpose, libswscale, x264, AAC) is FFmpeg's C code; Python only moves frames along.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from av.container import InputContainer
from av.stream import Disposition

from cms.media.transcode import hls
from cms.media.transcode.audio import AudioBranch
from cms.media.transcode.decoding import (
    Progress,
    Ticker,
    check_complete,
    decoded,
    expected_duration,
    opened,
    presentation_start,
)
from cms.media.transcode.errors import TranscodeFailed, ffmpeg_logs, ffmpeg_reason
from cms.media.transcode.ladder import DEFAULT_SETTINGS, RungPlan
from cms.media.transcode.results import AudioRendition, AudioResult, RenditionResult, VideoResult
from cms.media.transcode.source import Rotator, frame_rotation
from cms.media.transcode.video import VideoRendition, gop_frames, usable_encoder

log = logging.getLogger(__name__)

ATTACHED_PIC = Disposition.attached_pic
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def transcode_video(
    src: Path,
    out_dir: Path,
    plan: list[RungPlan],
    *,
    input_format: str | None,
    video_encoder: str = "libx264",
    hw_decode: bool = False,
    segment_seconds: float = 6.0,
    progress: Progress | None = None,
    deadline: float | None = None,
    preset: str = DEFAULT_SETTINGS.preset,
    crf: int = DEFAULT_SETTINGS.crf,
) -> VideoResult:
    """Encode `plan` from `src` into `out_dir/<rung>/`, `out_dir/audio/` and `out_dir/master.m3u8`.

    Raises TranscodeFailed for an unreadable source, TranscodeTimeout past `deadline` (a
    time.monotonic() value). A rung whose encoder fails is reported in the result, not raised.
    """
    _check_plan(plan)
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    seg = hls.segment_duration(segment_seconds, DEFAULT_SETTINGS.gop_seconds)
    with ffmpeg_logs(), opened(src, input_format, hw_decode) as container:
        # Cover art in a music file is a one-picture "video" stream: not something to transcode.
        video = next((s for s in container.streams.video if not s.disposition & ATTACHED_PIC), None)
        if video is None:
            raise TranscodeFailed("the file has no video stream")
        audio = next(iter(container.streams.audio), None)
        video.thread_type = "AUTO"  # frame + slice threads in the decoder
        rungs = [VideoRendition(rung, out_dir) for rung in plan]
        branch = _audio_branch(out_dir, seg) if audio is not None else None
        try:
            job = _VideoJob(container, video, rungs, usable_encoder(video_encoder), seg, preset, crf)
            ticker = Ticker(progress, expected_duration(container, video))
            for stream, frame in decoded(container, [video] + ([audio] if audio else []), deadline):
                if stream is video:
                    job.frame(cast(av.VideoFrame, frame))
                    ticker.at(job.elapsed)
                    if not any(rung.ok for rung in rungs):
                        break  # nothing left to encode: stop decoding
                elif branch is not None:
                    _feed_audio(branch, cast(av.AudioFrame, frame), job.origin)
            job.finish(expected_duration(container, video))
            audio_result = _finish_audio(branch) if branch is not None and job.any_ok else None
            if branch is not None and audio_result is None:
                branch.close()
                shutil.rmtree(branch.folder, ignore_errors=True)  # no variant left to play it with
            result = _result(out_dir, rungs, audio_result, job)
            result.work_seconds = round(time.perf_counter() - started, 4)
        finally:
            for rung in rungs:
                rung.close()
            if branch is not None:
                branch.close()
    ticker.done()
    return result


def transcode_audio(
    src: Path,
    out_dir: Path,
    *,
    input_format: str | None,
    segment_seconds: float = 6.0,
    progress: Progress | None = None,
    deadline: float | None = None,
    bitrate: int = DEFAULT_SETTINGS.audio_bitrate,
    sample_rate: int = DEFAULT_SETTINGS.audio_sample_rate,
) -> AudioResult:
    """Encode an audio-only source into an AAC-LC HLS rendition (`out_dir/audio/`) and its master.m3u8."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with ffmpeg_logs(), opened(src, input_format, False) as container:
        audio = next(iter(container.streams.audio), None)
        if audio is None:
            raise TranscodeFailed("the file has no audio stream")
        expected = expected_duration(container, audio)
        start = presentation_start(container)
        branch = _audio_branch(out_dir, segment_seconds, bitrate=bitrate, sample_rate=sample_rate)
        ticker = Ticker(progress, expected)
        try:
            for _, frame in decoded(container, [audio], deadline):
                _feed_audio(branch, cast(av.AudioFrame, frame), start)
                ticker.at(branch.samples / sample_rate)
            check_complete(branch.samples / sample_rate, expected, "audio")
            rendition = _finish_audio(branch)
        finally:
            branch.close()
    master = hls.write_audio_master(out_dir, rendition.playlist, rendition.bandwidth, rendition.average_bandwidth)
    duration = hls.read_media_playlist(out_dir / "audio").duration
    ticker.done()
    return AudioResult(rendition=rendition, master=master, duration=round(duration, 3))


class _VideoJob:
    """Per-frame work on the decoded video: timestamps, rotation, forced keyframes, fan-out to rungs."""

    def __init__(
        self,
        container: InputContainer,
        video: av.VideoStream,
        rungs: list[VideoRendition],
        encoder: str,
        segment_seconds: float,
        preset: str,
        crf: int,
    ) -> None:
        self.video, self.rungs, self.encoder = video, rungs, encoder
        self.segment_seconds, self.preset, self.crf = segment_seconds, preset, crf
        self.time_base: Fraction = video.time_base or Fraction(1, 90_000)
        self.origin = presentation_start(container)
        self._origin_pts = math.floor(self.origin / self.time_base)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        self.frame_rate = float(rate) if rate else float(rungs[0].plan.frame_rate)
        self.rate = Fraction(rate) if rate else Fraction(self.frame_rate).limit_denominator(1001)
        self.gop = Fraction(DEFAULT_SETTINGS.gop_seconds).limit_denominator(1000)
        self._rotator: Rotator | None = None
        self._first: Fraction | None = None
        self._last_pts: int | None = None
        self._held: tuple[av.VideoFrame, bool] | None = None
        self._next_key = Fraction(0)
        self.elapsed = 0.0  # seconds of video decoded so far
        self.span = 0.0

    @property
    def any_ok(self) -> bool:
        return any(rung.ok for rung in self.rungs)

    def frame(self, frame: av.VideoFrame) -> None:
        if frame.pts is None:  # raw streams without timestamps: continue at the nominal rate
            step = round(1 / (self.rate * self.time_base)) if self.rate else 1
            frame.pts = (self._last_pts or 0) + self._origin_pts + step
        pts = frame.pts - self._origin_pts
        if self._last_pts is not None and pts <= self._last_pts:
            return  # duplicate/backward timestamps (some VFR files): encoders need strictly rising pts
        if self._rotator is None:
            self._rotator = Rotator(frame_rotation(frame))
        upright = self._rotator(frame)
        upright.pts, upright.time_base = pts, self.time_base
        moment = pts * self.time_base
        if self._first is None:
            self._first = self._next_key = moment
            self._open_rungs(upright)
        # Keyframes by timestamp, not frame count: the same frames are IDR in every rung, VFR included.
        # The first frame at or after each boundary (never before: the HLS muxer cuts segments there).
        keyframe = moment >= self._next_key
        if keyframe:
            self._next_key = self._first + (math.floor((moment - self._first) / self.gop) + 1) * self.gop
        # Held back one frame so its duration is the real gap to the next one (VFR): the muxer adds
        # durations up for EXTINF, and a nominal 1/fps would make VFR playlists too short.
        if self._held is not None:
            assert self._last_pts is not None  # set together with _held
            self._send(self._held[0], self._held[1], pts - self._last_pts)
        self._held = (upright, keyframe)
        self._last_pts = pts
        self.elapsed = float(moment - self._first)
        self.span = self.elapsed + 1 / self.frame_rate

    def _send(self, frame: av.VideoFrame, keyframe: bool, duration: int) -> None:
        frame.duration = max(1, duration)
        for rung in self.rungs:
            if rung.ok:
                try:
                    rung.encode(frame, keyframe)
                except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
                    rung.fail(exc)

    def _open_rungs(self, first: av.VideoFrame) -> None:
        gop = gop_frames(self.frame_rate, float(self.gop))
        for rung in self.rungs:
            try:
                rung.open(
                    encoder=self.encoder,
                    time_base=self.time_base,
                    rate=self.rate,
                    upright=(first.width, first.height),
                    first=first,
                    gop=gop,
                    preset=self.preset,
                    crf=self.crf,
                    segment_seconds=self.segment_seconds,
                )
            except (av.FFmpegError, OSError, ValueError) as exc:
                rung.fail(exc)

    def finish(self, expected: float | None) -> None:
        if self._first is None:
            raise TranscodeFailed("no video frame could be decoded (truncated or empty file)")
        if self._held is not None:
            frame, keyframe = self._held
            self._held = None
            self._send(frame, keyframe, round(1 / (Fraction(self.frame_rate) * self.time_base)))
        if not self.any_ok:
            return  # every rung already failed with its own reason
        check_complete(self.span, expected, "video")
        for rung in self.rungs:
            if rung.ok:
                try:
                    rung.finish()
                except (av.FFmpegError, OSError, ValueError) as exc:
                    rung.fail(exc)


def _result(out_dir: Path, rungs: list[VideoRendition], audio: AudioRendition | None, job: _VideoJob) -> VideoResult:
    results: list[RenditionResult] = []
    variants: list[hls.Variant] = []
    duration = 0.0
    for rung in rungs:
        result = RenditionResult(
            name=rung.plan.name,
            width=rung.width,
            height=rung.height,
            bandwidth=0,
            average_bandwidth=0,
            codecs="",
            frame_rate=round(job.frame_rate, 3),
            playlist=f"{rung.plan.name}/{hls.PLAYLIST}",
            ok=rung.ok,
            error=rung.error,
            frames=rung.frames,
            encode_seconds=round(rung.seconds, 4),
        )
        if rung.ok:
            playlist = hls.read_media_playlist(rung.folder)
            codecs = rung.codecs or _codec_from_init(rung.folder / (playlist.init or hls.INIT_SEGMENT))
            result.codecs = codecs + (f",{audio.codecs}" if audio else "")
            result.bandwidth = playlist.peak_bitrate + (audio.bandwidth if audio else 0)
            result.average_bandwidth = playlist.average_bitrate + (audio.average_bandwidth if audio else 0)
            result.files = [f"{rung.plan.name}/{name}" for name in playlist.files()]
            result.size_bytes = playlist.size_bytes()
            duration = max(duration, playlist.duration)
            variants.append(
                hls.Variant(
                    uri=result.playlist,
                    bandwidth=result.bandwidth,
                    average_bandwidth=result.average_bandwidth,
                    codecs=result.codecs,
                    width=result.width,
                    height=result.height,
                    frame_rate=result.frame_rate,
                )
            )
        results.append(result)
    master = None
    if variants:
        master = hls.write_master(out_dir, variants, (audio.playlist, audio.channels) if audio else None)
    return VideoResult(
        renditions=results,
        master=master,
        duration=round(duration or job.span, 3),
        audio=audio,
        encoder=job.encoder,
    )


def _check_plan(plan: list[RungPlan]) -> None:
    names = [rung.name for rung in plan]
    if not plan:
        raise ValueError("the plan has no renditions")
    if len(set(names)) != len(names) or any(not _NAME.fullmatch(n) or n == "audio" for n in names):
        raise ValueError(f"rendition names must be unique folder-safe names other than 'audio': {names}")


def _audio_branch(
    out_dir: Path,
    segment_seconds: float,
    *,
    bitrate: int = DEFAULT_SETTINGS.audio_bitrate,
    sample_rate: int = DEFAULT_SETTINGS.audio_sample_rate,
) -> AudioBranch:
    try:
        return AudioBranch(out_dir, bitrate=bitrate, sample_rate=sample_rate, segment_seconds=segment_seconds)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscodeFailed(f"the audio encoder could not start: {ffmpeg_reason(exc)}") from exc


def _feed_audio(branch: AudioBranch, frame: av.AudioFrame, origin: Fraction) -> None:
    if frame.pts is not None and frame.time_base:
        frame.pts -= math.floor(origin / frame.time_base)
    try:
        branch.feed(frame)
    except (av.FFmpegError, OSError, ValueError) as exc:
        # Every variant shares this track: without it the asset would silently lose its sound.
        raise TranscodeFailed(f"the audio could not be encoded: {ffmpeg_reason(exc)}") from exc


def _finish_audio(branch: AudioBranch) -> AudioRendition:
    try:
        return branch.finish()
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise TranscodeFailed(f"the audio could not be encoded: {ffmpeg_reason(exc)}") from exc


def _codec_from_init(init: Path) -> str:
    with av.open(str(init), options={"protocol_whitelist": "file"}) as container:
        return hls.avc1_codec(container.streams.video[0].codec_context.extradata) or "avc1.640028"
