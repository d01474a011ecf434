"""Real media files for intake tests, made with PyAV: clips, a PNG, and the broken things people upload."""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
from fractions import Fraction

import av
import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@functools.lru_cache(maxsize=8)
def mp4_clip(
    seconds: float = 2.0, width: int = 320, height: int = 240, *, fps: int = 25, audio: bool = True, seed: int = 0
) -> bytes:
    """An H.264 (+ AAC) MP4. `seed` changes the picture, so two seeds give two different files."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=44100, layout="mono") if audio else None
        frames = int(seconds * fps)
        for i in range(frames):
            img = np.zeros((height, width, 3), dtype=np.uint8)
            img[:, :, 0] = (i * 7 + seed * 53) % 256
            img[:, :, 1] = np.arange(width, dtype=np.uint8)[None, :]
            img[: height // 2, :, 2] = seed % 256
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples, chunk = int(seconds * 44100), 1024
            t = np.arange(samples, dtype=np.float32) / 44100
            tone = (0.2 * np.sin(2 * np.pi * (440 + seed) * t)).astype(np.float32)
            for start in range(0, samples, chunk):
                block = tone[start : start + chunk]
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return out.getvalue()


def padded_mp4(total_bytes: int, *, seed: int = 0) -> bytes:
    """A valid clip grown to `total_bytes` with a trailing MP4 `free` box (players and probes skip it)."""
    clip = mp4_clip(seed=seed)
    pad = total_bytes - len(clip)
    if pad < 8:
        return clip
    return clip + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)


def truncated(data: bytes, keep: float = 0.3) -> bytes:
    """The first `keep` of the file: what an interrupted copy leaves behind (the moov atom is lost)."""
    return data[: max(64, int(len(data) * keep))]


def garbage(size: int = 64 * 1024, *, seed: int = 1) -> bytes:
    """Bytes no sniffer recognises (text-ish, so never a lucky magic number)."""
    line = f"this is not a video, it only has a video's name ({seed})\n".encode()
    return (line * (size // len(line) + 1))[:size]


@functools.lru_cache(maxsize=4)
def png_image(width: int = 64, height: int = 48) -> bytes:
    """A real PNG, encoded by PyAV's png encoder."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="image2pipe") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        img = np.full((height, width, 3), 200, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = out.getvalue()
    assert data.startswith(PNG_SIGNATURE)
    return data


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR declaring width x height, then a token IDAT: a bomb costs nothing to make."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
