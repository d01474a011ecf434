"""HLS files: muxer options for one rendition, measuring what was written, and the master playlist.

Renditions are fMP4 (CMAF-style, one track per rendition): Apple's recommended container, smaller
than TS at low bitrates, and the same packaging later works for HEVC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

PLAYLIST = "index.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
MASTER = "master.m3u8"
AUDIO_GROUP = "aac"
AAC_LC = "mp4a.40.2"


def segment_duration(segment_seconds: float, gop_seconds: float) -> float:
    """Segments are whole GOPs, so every segment starts on the keyframe all renditions share."""
    return max(1, round(segment_seconds / gop_seconds)) * gop_seconds


def muxer_options(folder: Path, segment_seconds: float) -> dict[str, str]:
    """Options for FFmpeg's hls muxer writing one VOD rendition into `folder`."""
    return {
        "hls_time": f"{segment_seconds:g}",
        "hls_playlist_type": "vod",
        "hls_list_size": "0",
        "hls_segment_type": "fmp4",
        "hls_fmp4_init_filename": INIT_SEGMENT,
        "hls_segment_filename": str(folder).replace("%", "%%") + "/" + SEGMENT_PATTERN,  # a pattern: escape %
        "hls_flags": "independent_segments",
        # Keep encoder timestamps as they are: the B-frame delay (and AAC priming) then becomes a single
        # edit-list entry that players apply, so video and audio both present from 0. The default shifts
        # each rendition by its own delay instead, putting video ~50-100 ms behind the separate audio.
        # (Negative composition offsets were tried: FFmpeg-based players read them with jumps.)
        "avoid_negative_ts": "disabled",
        # Output goes to local files only, like input.
        "protocol_whitelist": "file",
    }


@dataclass(frozen=True)
class MediaPlaylist:
    """A written media playlist, measured from the files on disk."""

    folder: Path
    init: str | None
    segments: tuple[tuple[str, float], ...]

    @property
    def duration(self) -> float:
        return sum(seconds for _, seconds in self.segments)

    def size(self, name: str) -> int:
        return (self.folder / name).stat().st_size

    @property
    def peak_bitrate(self) -> int:
        """The HLS spec's peak segment bit rate (RFC 8216bis 4.4.6.2): the highest bit rate of any run of
        consecutive segments lasting 0.5 to 1.5 target durations, so a tiny last segment is not a spike."""
        sizes = [self.size(name) for name, _ in self.segments]
        seconds = [duration for _, duration in self.segments]
        low, high = 0.5 * self.target_duration, 1.5 * self.target_duration
        peak = 0.0
        for start in range(len(sizes)):
            bits, total = 0, 0.0
            for end in range(start, len(sizes)):
                bits, total = bits + sizes[end] * 8, total + seconds[end]
                if total > high:
                    break
                if total >= low and total > 0:
                    peak = max(peak, bits / total)
        # A whole presentation shorter than half a target duration: its average is its peak.
        return math.ceil(peak) if peak else self.average_bitrate

    @property
    def target_duration(self) -> int:
        return math.ceil(max((duration for _, duration in self.segments), default=0))

    @property
    def average_bitrate(self) -> int:
        # Media segments only: the init segment is fetched once per session, not per second.
        seconds = self.duration
        total = sum(self.size(name) for name, _ in self.segments)
        return math.ceil(total * 8 / seconds) if seconds > 0 else 0

    def files(self) -> list[str]:
        names = [PLAYLIST] + ([self.init] if self.init else []) + [name for name, _ in self.segments]
        return names

    def size_bytes(self) -> int:
        return sum(self.size(name) for name in self.files())


def read_media_playlist(folder: Path) -> MediaPlaylist:
    """Parse the playlist the muxer wrote; every URI must be a plain file name inside `folder`."""
    init: str | None = None
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for line in (folder / PLAYLIST).read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            init = _plain_name(line.split('URI="', 1)[1].split('"', 1)[0])
        elif line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if pending is None:
                raise ValueError(f"segment {line!r} has no duration")
            segments.append((_plain_name(line), pending))
            pending = None
    if not segments:
        raise ValueError("the playlist has no segments")
    return MediaPlaylist(folder=folder, init=init, segments=tuple(segments))


def rewrite_durations(folder: Path, durations: list[float]) -> None:
    """Set each segment's EXTINF (and the target duration) to measured values, in order."""
    path = folder / PLAYLIST
    lines, index = path.read_text().splitlines(), 0
    target = max(math.floor(seconds + 0.5) for seconds in durations)  # spec: EXTINF rounded <= target
    for number, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            lines[number] = f"#EXTINF:{durations[index]:.6f},"
            index += 1
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            lines[number] = f"#EXT-X-TARGETDURATION:{max(1, target)}"
    if index != len(durations):
        raise ValueError("segment count changed while rewriting durations")
    path.write_text("\n".join(lines) + "\n")


def _plain_name(uri: str) -> str:
    if not uri or "/" in uri or "\\" in uri or uri.startswith(".") or ":" in uri:
        raise ValueError(f"unexpected segment URI {uri!r}")
    return uri


def avc1_codec(extradata: bytes | None) -> str | None:
    """RFC 6381 `avc1.PPCCLL` from the encoder's SPS (avcC or Annex B extradata)."""
    if not extradata:
        return None
    if extradata[0] == 1 and len(extradata) >= 4:  # avcC: version, profile, constraints, level
        return "avc1." + extradata[1:4].hex()
    start = 0
    while (found := extradata.find(b"\x00\x00\x01", start)) >= 0:
        nal = extradata[found + 3 : found + 7]
        if len(nal) == 4 and nal[0] & 0x1F == 7:  # sequence parameter set
            return "avc1." + nal[1:4].hex()
        start = found + 3
    return None


@dataclass(frozen=True)
class Variant:
    """One EXT-X-STREAM-INF line; `short_side` decides which variant players start with."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int
    height: int
    frame_rate: float


def master_order(variants: list[Variant], start_short_side: int = 540) -> list[Variant]:
    """The ~540p variant first (players start with the first one listed), then by bandwidth, highest first."""
    if not variants:
        return []

    def short(variant: Variant) -> int:
        return min(variant.width, variant.height)

    fitting = [v for v in variants if short(v) <= start_short_side]
    first = max(fitting, key=short) if fitting else min(variants, key=short)
    rest = sorted((v for v in variants if v is not first), key=lambda v: v.bandwidth, reverse=True)
    return [first, *rest]


def write_master(out_dir: Path, variants: list[Variant], audio: tuple[str, int] | None) -> str:
    """Write master.m3u8; `audio` is (playlist uri, channels) of the shared AAC rendition."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        uri, channels = audio
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="{channels}",URI="{uri}"'
        )
    for variant in master_order(variants):
        attributes = [
            f"BANDWIDTH={variant.bandwidth}",
            f"AVERAGE-BANDWIDTH={variant.average_bandwidth}",
            f'CODECS="{variant.codecs}"',
            f"RESOLUTION={variant.width}x{variant.height}",
            f"FRAME-RATE={variant.frame_rate:.3f}",
        ]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), variant.uri]
    (out_dir / MASTER).write_text("\n".join(lines) + "\n")
    return MASTER


def write_audio_master(out_dir: Path, uri: str, bandwidth: int, average_bandwidth: int) -> str:
    """An audio-only asset still gets a master playlist, so every asset plays from master.m3u8."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},AVERAGE-BANDWIDTH={average_bandwidth},CODECS="{AAC_LC}"',
        uri,
    ]
    (out_dir / MASTER).write_text("\n".join(lines) + "\n")
    return MASTER
