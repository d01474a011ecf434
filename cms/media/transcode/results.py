"""What a transcode produced; paths are relative to the output folder (the caller uploads them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RenditionResult:
    """One video variant. `bandwidth`/`average_bandwidth` are the variant's, audio included (as in the master)."""

    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    frame_rate: float
    playlist: str
    files: list[str] = field(default_factory=list)
    size_bytes: int = 0
    ok: bool = True
    error: str | None = None
    # Speed: frames this rung encoded, and seconds spent in its scaler, encoder and muxer (not the shared decode).
    frames: int = 0
    encode_seconds: float = 0.0


@dataclass
class AudioRendition:
    """The AAC-LC stereo rendition, stored once and shared by every video variant."""

    playlist: str
    files: list[str]
    bandwidth: int
    average_bandwidth: int
    codecs: str
    sample_rate: int
    channels: int
    size_bytes: int


@dataclass
class VideoResult:
    """`master` is None when no rendition succeeded (each failed one carries its `error`)."""

    renditions: list[RenditionResult]
    master: str | None
    duration: float
    audio: AudioRendition | None = None
    # The encoder that really ran (libx264 when the GPU's would not open) and the whole pass's wall time
    # (decoding and every rung together).
    encoder: str = ""
    work_seconds: float = 0.0


@dataclass
class AudioResult:
    rendition: AudioRendition
    master: str
    duration: float
