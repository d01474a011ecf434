"""Source clips for transcoding tests, made with PyAV: short, but shaped like real uploads.

Pictures move (shifted gradients and a sliding block), so encoders do real work; generation stays fast
because every frame is a numpy roll of precomputed planes and sources are encoded with x264 ultrafast.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MARKER = 48  # a bright square in the stored picture's top-left corner, to check rotation


def _pictures(width: int, height: int, count: int, *, marker: bool = False) -> Iterator[np.ndarray]:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[..., 0] = (x * 0.8 + y * 0.2).astype(np.uint8)
    base[..., 1] = (y * 0.7 + 40).clip(0, 255).astype(np.uint8)
    base[..., 2] = ((x + y) * 0.5).astype(np.uint8)
    block = max(8, height // 6)
    for index in range(count):
        picture = np.roll(base, shift=index * 7, axis=1)
        left = (index * 11) % max(1, width - block)
        picture[height // 3 : height // 3 + block, left : left + block] = (250, 40, 40)
        if marker:
            picture[:MARKER, :MARKER] = 255
            picture[-MARKER:, -MARKER:] = 0
        yield picture


def _add_audio(
    container: av.container.OutputContainer, *, rate: int, layout: str, codec: str = "aac"
) -> av.AudioStream:
    stream = container.add_stream(codec, rate=rate, layout=layout)
    stream.codec_context.bit_rate = 96_000
    return stream


def _write_audio(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = stream.codec_context.sample_rate
    channels = stream.codec_context.layout.nb_channels
    total, chunk = int(seconds * rate), 1024
    t = np.arange(total, dtype=np.float32) / rate
    tone = (0.2 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    planes = np.stack([tone] * channels)
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planes[:, start : start + chunk]),
            format="fltp",
            layout=stream.codec_context.layout.name,
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def make_video(
    path: Path,
    *,
    width: int,
    height: int,
    fps: int = 30,
    seconds: float = 4.0,
    audio: bool = True,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    times: list[float] | None = None,
    marker: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    """An H.264 clip. `times` gives explicit frame times (VFR); `rotation` is the display matrix (CCW degrees)."""
    with av.open(str(path), mode="w", options=options or {}) as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.thread_type = "FRAME"  # PyAV's default (slice threads) leaves x264 on one core
        time_base = Fraction(1, 1000) if times is not None else Fraction(1, fps)
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = _add_audio(container, rate=44_100, layout="stereo") if audio else None
        stamps = times if times is not None else [i / fps for i in range(int(seconds * fps))]
        for stamp, picture in zip(stamps, _pictures(width, height, len(stamps), marker=marker)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = round(stamp / time_base), time_base
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            _write_audio(container, sound, seconds)
    return path


def vfr_times(seconds: float = 4.0, *, seed: int = 7) -> list[float]:
    """Irregular frame times averaging ~30 fps (15-60 fps gaps), like a phone under load."""
    rng = np.random.default_rng(seed)
    times, now = [], 0.0
    while now < seconds:
        times.append(round(now, 3))
        now += float(rng.choice([1 / 60, 1 / 30, 1 / 30, 1 / 24, 1 / 15]))
    return times


def make_audio(path: Path, *, seconds: float = 4.0, rate: int = 44_100, layout: str = "mono") -> Path:
    """An AAC-only .m4a, like a podcast upload."""
    with av.open(str(path), mode="w", format="ipod") as container:
        stream = _add_audio(container, rate=rate, layout=layout)
        _write_audio(container, stream, seconds)
    return path


def make_mp3(path: Path, *, seconds: float = 3.0) -> Path:
    """An MP3 (LAME), as a podcast feed's enclosure usually is; FFmpeg reads it with its `mp3float` decoder."""
    with av.open(str(path), mode="w", format="mp3") as container:
        stream = _add_audio(container, rate=44_100, layout="mono", codec="libmp3lame")
        stream.codec_context.format = "fltp"  # LAME takes float planes too (its default is s32p)
        _write_audio(container, stream, seconds)
    return path


def landscape(folder: Path) -> Path:
    return make_video(folder / "landscape.mp4", width=1920, height=1080, fps=30)


def portrait(folder: Path) -> Path:
    # Stored 1280x720 turned a quarter clockwise for display, as phones record portrait video.
    return make_video(folder / "portrait.mp4", width=1280, height=720, rotation=-90, marker=True)


def sixty_fps(folder: Path) -> Path:
    return make_video(folder / "sixty.mp4", width=960, height=540, fps=60, seconds=3.0)


def silent(folder: Path) -> Path:
    return make_video(folder / "silent.mp4", width=640, height=360, fps=25, audio=False)


def odd_size(folder: Path) -> Path:
    # 4:4:4 lets x264 store odd dimensions; screen recorders produce such files.
    return make_video(folder / "odd.mp4", width=853, height=481, pix_fmt="yuv444p", seconds=3.0)


def variable_rate(folder: Path) -> Path:
    return make_video(folder / "vfr.mkv", width=640, height=360, times=vfr_times())


def audio_only(folder: Path) -> Path:
    return make_audio(folder / "podcast.m4a")
