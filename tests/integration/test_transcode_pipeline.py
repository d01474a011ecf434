"""The transcoding pipeline end to end on real clips: encode an HLS ladder, then read it all back with PyAV.

Each clip is made once and transcoded once per module; the tests only read the output.
"""

from __future__ import annotations

import io
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import pytest

from cms.media.transcode import (
    AudioResult,
    RungPlan,
    TranscodeFailed,
    TranscodeTimeout,
    VideoResult,
    plan_ladder,
    transcode_audio,
    transcode_video,
)
from tests.support import clips

READ = {"protocol_whitelist": "file"}  # our own output: local files only
SEGMENT = 2.0  # short segments so 3-4 s clips still have several


@dataclass
class Source:
    path: Path
    width: int  # display size (after rotation)
    height: int
    frame_rate: float
    duration: float
    audio: bool


@dataclass
class Encoded:
    source: Source
    out: Path
    result: VideoResult
    progress: list[tuple[float, float]]
    seconds: float


VIDEO_CLIPS = {
    "landscape": clips.landscape,
    "portrait": clips.portrait,
    "sixty": clips.sixty_fps,
    "silent": clips.silent,
    "odd": clips.odd_size,
    "vfr": clips.variable_rate,
}


def describe(path: Path) -> Source:
    """What the probe would say, read independently of the pipeline."""
    with av.open(str(path), options=READ) as container:
        video = container.streams.video[0]
        first = next(container.decode(video))
        width, height = first.width, first.height
        if round(first.rotation or 0) % 180:
            width, height = height, width
        return Source(
            path=path,
            width=width,
            height=height,
            frame_rate=float(video.average_rate),
            duration=container.duration / av.time_base,
            audio=bool(container.streams.audio),
        )


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {name: make(folder) for name, make in VIDEO_CLIPS.items()}
    made["podcast"] = clips.audio_only(folder)
    return made


@pytest.fixture(scope="module")
def encoded(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Encoded]:
    cache: dict[str, Encoded] = {}

    def get(name: str) -> Encoded:
        if name not in cache:
            source = describe(sources[name])
            # Rotation 0 on purpose: the probe reports 0 for display-matrix rotation with PyAV 18, and the
            # pipeline must still come out upright (it follows the decoded frames).
            plan = plan_ladder(
                source.width if name != "portrait" else source.height,
                source.height if name != "portrait" else source.width,
                source.frame_rate,
                0,
            )
            out = tmp_path_factory.mktemp(f"hls-{name}")
            calls: list[tuple[float, float]] = []
            started = time.monotonic()
            result = transcode_video(
                source.path,
                out,
                plan,
                input_format=None,
                segment_seconds=SEGMENT,
                progress=lambda fraction: calls.append((time.monotonic(), fraction)),
            )
            cache[name] = Encoded(source, out, result, calls, time.monotonic() - started)
        return cache[name]

    return get


# --- reading HLS back ------------------------------------------------------------------------------


def master_entries(master: Path) -> list[dict[str, str]]:
    lines = master.read_text().splitlines()
    entries = []
    for line, uri in zip(lines, lines[1:]):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            entries.append({key: value.strip('"') for key, value in attributes.items()} | {"URI": uri})
    return entries


def media_segments(playlist: Path) -> tuple[str | None, list[tuple[str, float]]]:
    init, segments, pending = None, [], None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXT-X-MAP:"):
            init = re.search(r'URI="([^"]+)"', line).group(1)
        elif line.startswith("#EXTINF:"):
            pending = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segments.append((line, pending))
    return init, segments


def peak_and_average(playlist: Path) -> tuple[float, float]:
    """Measured independently: the spec's peak (runs of segments of 0.5-1.5 target durations) and mean."""
    _, segments = media_segments(playlist)
    sizes = [(playlist.parent / name).stat().st_size * 8 for name, _ in segments]
    seconds = [duration for _, duration in segments]
    target = math.ceil(max(seconds))
    peak = 0.0
    for start in range(len(sizes)):
        for end in range(start + 1, len(sizes) + 1):
            total = sum(seconds[start:end])
            if 0.5 * target <= total <= 1.5 * target:
                peak = max(peak, sum(sizes[start:end]) / total)
    average = sum(sizes) / sum(seconds)
    return (peak or average), average


def video_packets(playlist: Path) -> list[tuple[float, bool]]:
    with av.open(str(playlist), options=READ) as container:
        stream = container.streams.video[0]
        return [(float(p.pts * p.time_base), p.is_keyframe) for p in container.demux(stream) if p.pts is not None]


def decoded_frames(playlist: Path) -> list[av.VideoFrame]:
    with av.open(str(playlist), options=READ) as container:
        return list(container.decode(video=0))


def segment_starts_with_keyframe(folder: Path, init: str, segment: str) -> bool:
    data = (folder / init).read_bytes() + (folder / segment).read_bytes()
    with av.open(io.BytesIO(data), format="mp4") as container:
        first = next(container.demux(container.streams.video[0]))
        return first.is_keyframe


def ok_renditions(encoded: Encoded):
    return [rendition for rendition in encoded.result.renditions if rendition.ok]


# --- every clip ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_every_variant_decodes_start_to_end(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    assert clip.result.master == "master.m3u8"
    assert all(rendition.ok for rendition in clip.result.renditions), clip.result.renditions
    for rendition in ok_renditions(clip):
        frames = decoded_frames(clip.out / rendition.playlist)
        assert (frames[0].width, frames[0].height) == (rendition.width, rendition.height)
        assert all(round(frame.rotation or 0) == 0 for frame in frames[:1]), "pixels are upright, no matrix left"
        span = frames[-1].time - frames[0].time + 1 / clip.source.frame_rate
        assert span == pytest.approx(clip.source.duration, abs=0.5), rendition.name
        assert sum(d for _, d in media_segments(clip.out / rendition.playlist)[1]) == pytest.approx(
            clip.source.duration, abs=0.5
        )
    assert clip.result.duration == pytest.approx(clip.source.duration, abs=0.5)


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_media_playlists_are_vod_independent_fmp4(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    for rendition in ok_renditions(clip):
        text = (clip.out / rendition.playlist).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-INDEPENDENT-SEGMENTS" in text
        assert "#EXT-X-ENDLIST" in text and '#EXT-X-MAP:URI="init.mp4"' in text
        assert set(rendition.files) == {f"{rendition.name}/{name}" for name in os.listdir(clip.out / rendition.name)}
        assert rendition.size_bytes == sum((clip.out / f).stat().st_size for f in rendition.files)


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_segments_start_on_keyframes_shared_by_all_rungs(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    keyframe_times = {}
    for rendition in ok_renditions(clip):
        playlist = clip.out / rendition.playlist
        init, segments = media_segments(playlist)
        assert len(segments) >= 2, "3-4 s clips in 2 s segments"
        for segment, _ in segments:
            assert segment_starts_with_keyframe(playlist.parent, init, segment), f"{rendition.name}/{segment}"
        packets = video_packets(playlist)
        start = min(t for t, _ in packets)  # FFmpeg's reader shifts each track by its own B-frame delay
        keys = [round(t - start, 3) for t, key in packets if key]
        boundaries, elapsed = [], 0.0
        for _, seconds in segments:
            boundaries.append(round(elapsed, 3))
            elapsed += seconds
        assert set(boundaries) <= set(keys), f"{rendition.name}: segment starts {boundaries} not keyframes {keys}"
        # Keyframes every ~2 s of source time, never more than one GOP apart.
        assert all(0 < b - a <= 2.1 for a, b in zip(keys, keys[1:])), keys
        keyframe_times[rendition.name] = keys
    assert len({tuple(keys) for keys in keyframe_times.values()}) == 1, keyframe_times


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_master_declares_measured_bandwidths(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    master = clip.out / "master.m3u8"
    text = master.read_text()
    assert text.startswith("#EXTM3U") and "#EXT-X-INDEPENDENT-SEGMENTS" in text
    audio_peak = audio_average = 0.0
    if clip.source.audio:
        assert 'TYPE=AUDIO,GROUP-ID="aac"' in text and 'URI="audio/index.m3u8"' in text
        audio_peak, audio_average = peak_and_average(clip.out / "audio" / "index.m3u8")
    entries = master_entries(master)
    assert len(entries) == len(ok_renditions(clip))
    for entry in entries:
        peak, average = peak_and_average(clip.out / entry["URI"])
        assert int(entry["BANDWIDTH"]) == pytest.approx(peak + audio_peak, rel=0.10)
        assert int(entry["AVERAGE-BANDWIDTH"]) == pytest.approx(average + audio_average, rel=0.10)
        assert int(entry["AVERAGE-BANDWIDTH"]) <= int(entry["BANDWIDTH"])
        width, height = map(int, entry["RESOLUTION"].split("x"))
        assert re.fullmatch(r"\d+\.\d{3}", entry["FRAME-RATE"])
        assert float(entry["FRAME-RATE"]) == pytest.approx(clip.source.frame_rate, abs=0.01)
        codecs = entry["CODECS"].split(",")
        assert re.fullmatch(r"avc1\.64[0-9a-f]{4}", codecs[0]), codecs  # High profile, level from the SPS
        assert int(codecs[0][-2:], 16) <= 42, "Apple: at most level 4.2"
        assert ("mp4a.40.2" in codecs) == clip.source.audio
        assert ("AUDIO" in entry) == clip.source.audio
        rendition = next(r for r in clip.result.renditions if r.playlist == entry["URI"])
        assert (rendition.width, rendition.height, rendition.codecs) == (width, height, entry["CODECS"])


@pytest.mark.parametrize("name", VIDEO_CLIPS)
def test_never_upscaled_and_even(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    for rendition in clip.result.renditions:
        assert rendition.width % 2 == 0 and rendition.height % 2 == 0
        assert rendition.width <= clip.source.width and rendition.height <= clip.source.height
        assert (rendition.width > rendition.height) == (clip.source.width > clip.source.height)


@pytest.mark.parametrize("name", ["landscape", "portrait"])
def test_start_variant_is_540p_then_by_bandwidth(encoded: Callable[[str], Encoded], name: str) -> None:
    entries = master_entries(encoded(name).out / "master.m3u8")
    assert entries[0]["URI"] == "540p/index.m3u8"
    rest = [int(entry["BANDWIDTH"]) for entry in entries[1:]]
    assert rest == sorted(rest, reverse=True)


def test_master_plays_video_with_shared_audio(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("landscape")
    with av.open(str(clip.out / "master.m3u8"), options=READ) as container:
        kinds = sorted(stream.type for stream in container.streams)
    assert kinds.count("audio") == 1 and kinds.count("video") == len(clip.result.renditions)
    audio = clip.result.audio
    assert audio is not None and audio.codecs == "mp4a.40.2" and (audio.sample_rate, audio.channels) == (48000, 2)
    with av.open(str(clip.out / audio.playlist), options=READ) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.sample_rate, stream.codec_context.channels) == (
            "aac",
            48000,
            2,
        )
        samples = sum(frame.samples for frame in container.decode(stream))
    assert samples / 48000 == pytest.approx(clip.source.duration, abs=0.5)


@pytest.mark.parametrize("name", ["landscape", "vfr"])
def test_audio_and_video_start_together(encoded: Callable[[str], Encoded], name: str) -> None:
    clip = encoded(name)
    with av.open(str(clip.out / clip.result.audio.playlist), options=READ) as container:
        audio_start = next(container.decode(audio=0)).time
    for rendition in ok_renditions(clip):
        video_start = decoded_frames(clip.out / rendition.playlist)[0].time
        # Edit lists absorb the B-frame delay and the AAC priming: both tracks present from 0.
        assert video_start == pytest.approx(0.0, abs=0.001) and audio_start == pytest.approx(0.0, abs=0.001)


# --- particular clips ------------------------------------------------------------------------------


def test_full_hd_gets_the_full_ladder(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("landscape").result
    assert [(r.name, r.width, r.height) for r in result.renditions] == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("540p", 960, 540),
        ("360p", 640, 360),
        ("234p", 416, 234),
    ]


def test_portrait_comes_out_upright(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("portrait")
    assert (clip.source.width, clip.source.height) == (720, 1280)
    for rendition in ok_renditions(clip):
        assert rendition.height > rendition.width
        frame = decoded_frames(clip.out / rendition.playlist)[0].to_ndarray(format="gray")
        corner = max(2, frame.shape[1] * clips.MARKER // 1280 // 2)
        # Stored top-left white square, turned a quarter clockwise for display: it shows top-right.
        assert frame[:corner, -corner:].mean() > 200, rendition.name
        assert frame[:corner, :corner].mean() < 200 and frame[-corner:, -corner:].mean() < 200
        assert frame[-corner:, :corner].mean() < 50, "the stored bottom-right black square shows bottom-left"


def test_sixty_fps_keeps_its_rate(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("sixty")
    assert {r.frame_rate for r in clip.result.renditions} == {60.0}
    frames = decoded_frames(clip.out / clip.result.renditions[0].playlist)
    assert len(frames) == pytest.approx(clip.source.duration * 60, abs=2)


def test_odd_source_gives_even_sizes(encoded: Callable[[str], Encoded]) -> None:
    result = encoded("odd").result
    assert [(r.name, r.width, r.height) for r in result.renditions] == [("360p", 638, 360), ("234p", 414, 234)]


def test_silent_clip_is_video_only(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("silent")
    assert clip.result.audio is None and not (clip.out / "audio").exists()
    assert all("mp4a" not in r.codecs for r in clip.result.renditions)
    assert "TYPE=AUDIO" not in (clip.out / "master.m3u8").read_text()


def test_variable_frame_rate_keeps_its_timing(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("vfr")
    source_times = [round(t, 3) for t in clips.vfr_times()]
    frames = decoded_frames(clip.out / clip.result.renditions[0].playlist)
    start = frames[0].time
    assert [round(f.time - start, 3) for f in frames] == pytest.approx(source_times, abs=0.002)


def test_progress_is_throttled_and_ends_at_one(encoded: Callable[[str], Encoded]) -> None:
    clip = encoded("landscape")
    fractions = [fraction for _, fraction in clip.progress]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions) and len(fractions) >= 2
    assert len(fractions) <= 4 * clip.seconds + 2
    gaps = [b - a for (a, _), (b, _) in zip(clip.progress, clip.progress[1:-1])]
    assert all(gap >= 0.24 for gap in gaps)


# --- failures --------------------------------------------------------------------------------------


def test_audio_only_source_gives_an_aac_rendition(sources: dict[str, Path], tmp_path: Path) -> None:
    result = transcode_audio(sources["podcast"], tmp_path, input_format="mov,mp4,m4a,3gp,3g2,mj2")
    assert isinstance(result, AudioResult) and result.duration == pytest.approx(4.0, abs=0.5)
    assert result.rendition.codecs == "mp4a.40.2" and result.rendition.channels == 2
    master = (tmp_path / result.master).read_text()
    assert 'CODECS="mp4a.40.2"' in master and "audio/index.m3u8" in master and "RESOLUTION" not in master
    with av.open(str(tmp_path / result.master), options=READ) as container:
        assert [s.type for s in container.streams] == ["audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
    with pytest.raises(TranscodeFailed, match="no video stream"):
        transcode_video(sources["podcast"], tmp_path / "v", plan_ladder(640, 360, 30, 0), input_format=None)


def test_a_failing_rung_does_not_hide_the_others(sources: dict[str, Path], tmp_path: Path) -> None:
    good = plan_ladder(640, 360, 25, 0)
    broken = replace(good[0], name="broken", width=641)  # x264 refuses odd widths for 4:2:0
    result = transcode_video(sources["silent"], tmp_path, [broken, *good], input_format=None, preset="ultrafast")
    failed = result.renditions[0]
    assert not failed.ok and "divisible by 2" in failed.error and failed.files == []
    assert not (tmp_path / "broken").exists()
    assert [r.ok for r in result.renditions[1:]] == [True, True]
    assert [e["URI"] for e in master_entries(tmp_path / "master.m3u8")] == ["360p/index.m3u8", "234p/index.m3u8"]


def test_every_rung_failing_gives_no_master(sources: dict[str, Path], tmp_path: Path) -> None:
    plan = [RungPlan("odd", 641, 360, 500_000, 500_000, 1_000_000, 25.0)]
    result = transcode_video(sources["silent"], tmp_path, plan, input_format=None, preset="ultrafast")
    assert result.master is None and not result.renditions[0].ok and not (tmp_path / "master.m3u8").exists()


def test_deadline_stops_the_transcode(sources: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(TranscodeTimeout):
        transcode_video(
            sources["silent"], tmp_path, plan_ladder(640, 360, 25, 0), input_format=None, deadline=time.monotonic() - 1
        )
    assert issubclass(TranscodeTimeout, TranscodeFailed)


def test_missing_hw_and_gpu_encoder_fall_back_to_the_cpu(sources: dict[str, Path], tmp_path: Path) -> None:
    # Where a GPU exists this runs on it; elsewhere it must still produce the same kind of output.
    result = transcode_video(
        sources["silent"],
        tmp_path,
        plan_ladder(640, 360, 25, 0)[-1:],
        input_format=None,
        video_encoder="h264_nvenc",
        hw_decode=True,
        preset="ultrafast",
    )
    assert result.master and all(r.ok for r in result.renditions)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize("damage", ["truncated", "truncated-faststart", "garbage", "empty"])
def test_malformed_inputs_fail_cleanly(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "broken.mp4"
    if damage == "garbage":
        path.write_bytes(os.urandom(200_000))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        options = {"movflags": "faststart"} if damage == "truncated-faststart" else None
        clip = clips.make_video(tmp_path / "whole.mp4", width=320, height=240, seconds=8.0, options=options)
        path.write_bytes(truncated(clip.read_bytes()))
    with pytest.raises(TranscodeFailed) as failure:
        transcode_video(path, tmp_path / "out", plan_ladder(320, 240, 30, 0), input_format=None)
    assert failure.value.reason and str(tmp_path) not in failure.value.reason


@pytest.fixture
def fifo_watch(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A named pipe that records whether anything opened it for reading (a canary for file access)."""
    fifo = tmp_path / "canary.ts"  # a media extension, so FFmpeg's HLS demuxer would really open it
    os.mkfifo(fifo)
    opened, stop = threading.Event(), threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader waits
            except OSError:
                time.sleep(0.005)
                continue
            opened.set()
            os.close(descriptor)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield fifo, opened
    stop.set()
    thread.join(2)


@pytest.mark.parametrize("input_format", [None, "hls"])
def test_playlist_inputs_are_refused_without_reading_references(
    sources: dict[str, Path],
    tmp_path: Path,
    fifo_watch: tuple[Path, threading.Event],
    input_format: str | None,
) -> None:
    fifo, opened = fifo_watch
    playlist = tmp_path / "evil.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nfile://{fifo}\n#EXT-X-ENDLIST\n")
    # Control: a plain `file`-only protocol whitelist does not stop a playlist from opening local files.
    with pytest.raises(av.FFmpegError):
        av.open(str(playlist), options={"protocol_whitelist": "file"}).close()
    assert opened.wait(2), "the canary must notice a reader"
    opened.clear()
    for target in ("file:///etc/passwd", f"file://{fifo}", str(sources["silent"])):
        playlist = tmp_path / "evil.m3u8"
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{target}\n#EXT-X-ENDLIST\n")
        with pytest.raises(TranscodeFailed) as failure:
            transcode_video(playlist, tmp_path / "out", plan_ladder(640, 360, 25, 0), input_format=input_format)
        assert "root:" not in failure.value.reason
    time.sleep(0.05)
    assert not opened.is_set(), "the pipeline opened a file named inside the playlist"
