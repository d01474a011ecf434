"""Posters, strips and storyboards from real H.264 files made here with PyAV (no fixtures on disk)."""

from __future__ import annotations

import re
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cms.media.transcode.artwork import ArtworkFailed, poster, storyboard, thumbnail_strip

FPS, SECONDS, W, H = 25, 6.0, 640, 360
CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")
TARGET = re.compile(r"^(sheet-\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$")


def _encode(path: Path, *, rotation: int = 0, gop: int | None = None) -> Path:
    """First second black, then a bright moving gradient; a red block marks the stored top-left corner."""
    yy, xx = np.mgrid[0:H, 0:W]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise; 90 = turn clockwise to show
        for i in range(int(SECONDS * FPS)):
            image = np.zeros((H, W, 3), dtype=np.uint8)
            if i >= FPS:
                image[..., 0] = (xx + i * 8) % 256
                image[..., 1] = (yy * 2 + i * 3) % 256
                image[..., 2] = 180
            image[:60, :60] = (255, 0, 0)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips")
    return {
        # libx264's default GOP (250) is longer than the clip: one keyframe, so frames are decoded forward.
        "landscape": _encode(base / "landscape.mp4"),
        # A keyframe every 10 frames: the keyframe-seek path.
        "portrait": _encode(base / "portrait.mp4", rotation=90, gop=10),
    }


def _luma(path: Path) -> float:
    with Image.open(path) as image:
        return float(np.asarray(image.convert("L")).mean())


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
def test_poster_skips_the_black_opening(clips: dict[str, Path], tmp_path: Path, kind: str) -> None:
    out = tmp_path / "poster.jpg"
    result = poster(clips[kind], out, input_format="mp4", rotation=90 if kind == "portrait" else 0)
    assert result.at_seconds >= 1.0
    assert _luma(out) > 60  # black is ~0; the content averages well above
    with Image.open(out) as image:
        assert image.size == (result.width, result.height)
    if kind == "landscape":
        assert (result.width, result.height) == (640, 360)


def test_portrait_poster_is_upright(clips: dict[str, Path], tmp_path: Path) -> None:
    for rotation in (90, None):  # None: read the display matrix from the file itself
        out = tmp_path / f"poster-{rotation}.jpg"
        result = poster(clips["portrait"], out, input_format="mp4", rotation=rotation, max_width=1280)
        assert (result.width, result.height) == (360, 640)
        with Image.open(out) as image:
            pixels = np.asarray(image.convert("RGB")).astype(int)
        # Turned clockwise, the stored top-left corner shows at the top right.
        top_right = pixels[5:50, -50:-5]
        assert top_right[..., 0].mean() > 200 and top_right[..., 1].mean() < 60


def test_poster_respects_max_width(clips: dict[str, Path], tmp_path: Path) -> None:
    result = poster(clips["landscape"], tmp_path / "p.jpg", input_format="mp4", rotation=0, max_width=320)
    assert (result.width, result.height) == (320, 180)


def test_strip_has_count_tiles(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "strip.jpg"
    result = thumbnail_strip(clips["landscape"], out, input_format="mp4", rotation=0, count=6, tile_width=120)
    assert (result.count, result.tile_width, result.tile_height) == (6, 120, 68)
    with Image.open(out) as image:
        assert image.size == (120 * 6, 68) == (result.width, result.height)
        gray = np.asarray(image.convert("L")).astype(float)
    tiles = [gray[:, i * 120 : (i + 1) * 120] for i in range(6)]
    assert tiles[0].mean() < 40  # the middle of the first sixth (0.5 s) is in the black opening
    assert all(tile.mean() > 60 for tile in tiles[1:])


def _parse_vtt(text: str) -> list[tuple[float, float, str, tuple[int, int, int, int]]]:
    assert text.startswith("WEBVTT\n")
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        timing, target = block.split("\n")
        t = CUE.match(timing)
        m = TARGET.match(target)
        assert t and m, block
        n = [int(g) for g in t.groups()]
        start = n[0] * 3600 + n[1] * 60 + n[2] + n[3] / 1000
        end = n[4] * 3600 + n[5] * 60 + n[6] + n[7] / 1000
        cues.append((start, end, m.group(1), tuple(int(v) for v in m.groups()[1:])))
    return cues


def _check_storyboard(out_dir: Path, result, duration: float, max_sheet_height: int) -> list:
    cues = _parse_vtt((out_dir / result.vtt).read_text())
    assert len(cues) == result.count
    sizes = {}
    for name in result.sheets:
        with Image.open(out_dir / name) as sheet:
            sizes[name] = sheet.size
            assert sheet.height <= max_sheet_height
    assert cues[0][0] == 0.0 and cues[-1][1] == pytest.approx(duration, abs=0.001)
    for (_, end, _, _), (start, _, _, _) in zip(cues, cues[1:]):
        assert end == start  # contiguous: no gap, no overlap
    for start, end, name, (x, y, w, h) in cues:
        assert end > start
        assert (w, h) == (result.tile_width, result.tile_height)
        sheet_w, sheet_h = sizes[name]
        assert x >= 0 and x + w <= sheet_w and y >= 0 and y + h <= sheet_h
    assert {cue[2] for cue in cues} == set(result.sheets)
    return cues


def test_storyboard_vtt_indexes_one_sheet(clips: dict[str, Path], tmp_path: Path) -> None:
    result = storyboard(clips["landscape"], tmp_path, input_format="mp4", rotation=0, duration=SECONDS)
    assert result.interval == 2.0 and result.count == 3 and result.sheets == ["sheet-1.jpg"]
    _check_storyboard(tmp_path, result, SECONDS, 4096)
    with Image.open(tmp_path / "sheet-1.jpg") as sheet:
        assert sheet.size == (3 * 160, 90)


@pytest.mark.parametrize(("kind", "max_height"), [("landscape", 200), ("portrait", 600)])
def test_storyboard_splits_into_sheets(clips: dict[str, Path], tmp_path: Path, kind: str, max_height: int) -> None:
    rotation = 90 if kind == "portrait" else 0
    result = storyboard(
        clips[kind],
        tmp_path,
        input_format="mp4",
        rotation=rotation,
        duration=SECONDS,
        interval=0.4,
        columns=4,
        max_sheet_height=max_height,
    )
    assert result.count == 15
    assert len(result.sheets) == 2  # two rows of four fit a sheet: 8 + 7 tiles
    if kind == "portrait":
        assert result.tile_height > result.tile_width
    cues = _check_storyboard(tmp_path, result, SECONDS, max_height)
    # Each tile shows its own moment: dark within the black first second, bright after it (a cue that
    # straddles 1.0 s may show either: a keyframe anywhere in its window belongs to it).
    for start, end, name, (x, y, w, h) in cues:
        with Image.open(tmp_path / name) as sheet:
            tile = np.asarray(sheet.convert("L").crop((x, y, x + w, y + h))).astype(float)
        tile[:20, :] = 0  # the red marker sits at the top either way up
        if end <= 1.0:
            assert tile.mean() < 40, (start, end)
        elif start >= 1.0:
            assert tile.mean() > 60, (start, end)


def test_garbage_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all\n" * 2000)
    for make in (
        lambda: poster(junk, tmp_path / "p.jpg", input_format="mp4", rotation=0),
        lambda: thumbnail_strip(junk, tmp_path / "s.jpg", input_format="mp4", rotation=0),
        lambda: storyboard(junk, tmp_path / "sb", input_format="mp4", rotation=0, duration=5.0),
    ):
        with pytest.raises(ArtworkFailed) as failed:
            make()
        assert failed.value.reason


def test_truncated_file_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clips["landscape"].read_bytes()[:4000])
    with pytest.raises(ArtworkFailed):
        poster(cut, tmp_path / "p.jpg", input_format="mp4", rotation=0)


def test_deadline_stops_the_work(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ArtworkFailed, match="too long"):
        storyboard(
            clips["landscape"],
            tmp_path,
            input_format="mp4",
            rotation=0,
            duration=SECONDS,
            deadline=time.monotonic() - 1,
        )
