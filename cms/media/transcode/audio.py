"""The AAC-LC stereo rendition: encoded once, packaged as its own fMP4 HLS playlist.

Video variants reference it as an audio group instead of each muxing a copy, so the audio is
encoded and stored once and every fMP4 segment holds a single track (CMAF-style).
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import av

from cms.media.transcode import hls
from cms.media.transcode.results import AudioRendition

AUDIO_FOLDER = "audio"
CHANNELS = 2
_AAC_FRAME = 1024


class AudioBranch:
    """Resample (libswresample) to 48 kHz stereo, encode AAC-LC and write `out_dir/audio/`."""

    def __init__(self, out_dir: Path, *, bitrate: int, sample_rate: int, segment_seconds: float) -> None:
        self.out_dir = out_dir
        self.folder = out_dir / AUDIO_FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sample_rate = sample_rate
        self._container = av.open(
            str(self.folder / hls.PLAYLIST),
            mode="w",
            format="hls",
            options=hls.muxer_options(self.folder, segment_seconds),
        )
        self._stream = self._container.add_stream("aac", rate=sample_rate, layout="stereo")
        context = self._stream.codec_context
        context.bit_rate = bitrate
        context.time_base = Fraction(1, sample_rate)
        context.profile = "LC"
        context.open()
        # async: pad gaps and trim overlaps from the source timestamps, so audio stays in sync with video;
        # first_pts=0: audio starting after the video is padded with silence from the start.
        self._resampler = av.AudioResampler(
            format=context.format,
            layout="stereo",
            rate=sample_rate,
            frame_size=_AAC_FRAME,
            options={"async": "1", "first_pts": "0"},
        )
        self.samples = 0

    def feed(self, frame: av.AudioFrame | None) -> None:
        """A decoded frame with pts relative to the presentation start, or None at the end of input."""
        for chunk in self._resampler.resample(frame):
            self.samples += chunk.samples
            for packet in self._stream.encode(chunk):
                self._container.mux(packet)

    def finish(self) -> AudioRendition:
        self.feed(None)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        if self.samples == 0:
            raise ValueError("the audio track has no samples")
        playlist = hls.read_media_playlist(self.folder)
        return AudioRendition(
            playlist=f"{AUDIO_FOLDER}/{hls.PLAYLIST}",
            files=[f"{AUDIO_FOLDER}/{name}" for name in playlist.files()],
            bandwidth=playlist.peak_bitrate,
            average_bandwidth=playlist.average_bitrate,
            codecs=hls.AAC_LC,
            sample_rate=self.sample_rate,
            channels=CHANNELS,
            size_bytes=playlist.size_bytes(),
        )

    def close(self) -> None:
        with contextlib.suppress(av.FFmpegError, OSError, ValueError):
            self._container.close()
