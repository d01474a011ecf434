"""Probed codecs are named as people and players name them, not after the FFmpeg decoder that read the file."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from cms.media.models import AssetKind
from cms.media.probe import probe_file
from tests.support import clips


def _av1_clip(path: Path) -> Path:
    """A short AV1 video (SVT-AV1), which FFmpeg decodes with libdav1d."""
    with av.open(str(path), mode="w", format="matroska") as container:
        stream = container.add_stream("libsvtav1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            picture = np.full((64, 64, 3), i * 20, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_an_mp3_is_mp3_not_mp3float(tmp_path: Path) -> None:
    probe = probe_file(clips.make_mp3(tmp_path / "episode.mp3"), AssetKind.AUDIO)
    assert probe["audio_codec"] == "mp3" and probe["format"] == "mp3"


def test_av1_is_av1_not_libdav1d(tmp_path: Path) -> None:
    probe = probe_file(_av1_clip(tmp_path / "clip.mkv"), AssetKind.VIDEO)
    assert probe["video_codec"] == "av1" and (probe["width"], probe["height"]) == (64, 64)


def test_h264_and_aac_keep_their_names(tmp_path: Path) -> None:
    probe = probe_file(clips.make_video(tmp_path / "clip.mp4", width=320, height=240, seconds=1.0), AssetKind.VIDEO)
    assert (probe["video_codec"], probe["audio_codec"]) == ("h264", "aac")
