"""Transcode bench: the worker's HLS ladder pipeline vs one `ffmpeg` command line, same source, same ladder.

    .venv/bin/python bench/transcode_bench.py [--seconds 20] [--runs 2] [--in-process] [--profile /tmp/p.svg]

Source: a 1080p30 H.264 High (x264 veryfast, crf 20, 1 s GOP, B-frames) + AAC 44.1 kHz stereo MP4 made with PyAV,
interleaved like a camera file: a textured scene panning at a varying speed with a vertical bob, three textured
blocks moving across it, per-frame luma grain and a hard cut half-way. Cached in $TMPDIR/cms-transcode-bench/.

Ladder: `plan_ladder(width, height, fps, rotation)` of the probed source (cms.media.probe.probe_file), so both sides
make the same rungs, sizes and maxrate/bufsize caps, with the pipeline's settings (DEFAULT_SETTINGS, video.py):

  ffmpeg CLI     one `ffmpeg` process (Debian's package): decode once, filter_complex split + scale (bicubic) per
                 rung, libx264 High, preset medium, crf 21, maxrate/bufsize per rung, -g/-keyint_min = 2 s of frames,
                 -sc_threshold 0, x264 scenecut=0:open_gop=0, -forced-idr 1, -force_key_frames every 2 s, yuv420p;
                 AAC-LC 128k stereo 48 kHz once; -f hls fMP4, 6 s segments, VOD, var_stream_map with one shared
                 audio group, master playlist. Threads: FFmpeg's defaults (like the pipeline: x264 threads=auto).
  pipeline (isolated)  what the worker runs: cms.media.transcode.isolated.run_isolated with the task dict that
                 cms/media/processing.py `_task` builds (libx264, no hw decode, probe of the file, 8 GiB limit).
                 The child also makes artwork (poster, thumbnails, storyboard) after the ladder; the judged time is
                 the ladder part: until the child reports progress 0.85 (transcode_video returned). "child total"
                 adds the artwork. CPU time is the child's whole run (artwork included).
  pipeline (in-process)  transcode_video() called in this process (no child start-up, no artwork); only with
                 --in-process (each variant adds ~2 x 70 s on 2 CPUs).

Before measuring, waits (up to --load-wait s) for the 1-minute load average to drop below --max-load (other processes
share the CPUs), then runs each variant --runs times, alternating the order per round. Prints each run, then a table
of medians: wall time, realtime factor (source seconds / wall), CPU time (user+sys, children included), output sizes,
ratio against the ffmpeg CLI's median wall time measured in the same run and PASS/FAIL against the target
(pipeline <= 1.15x ffmpeg). Also prints each side's x264 build and the x264 options that differ between the two
(read from the SEI x264 writes into the 720p stream), so the comparison is checked to be like for like.
Writes bench/results/transcode.json. Exit status 0 whether the target passes or fails (2 when ffmpeg is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from _common import BENCH, ROOT, bench_parser, log, print_table, write_results

sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from cms.media.models import AssetKind  # noqa: E402
from cms.media.probe import probe_file  # noqa: E402
from cms.media.transcode.isolated import run_isolated  # noqa: E402
from cms.media.transcode.ladder import DEFAULT_SETTINGS, RungPlan, plan_ladder  # noqa: E402
from cms.media.transcode.pipeline import transcode_video  # noqa: E402
from cms.media.transcode.video import gop_frames  # noqa: E402

RESULTS = BENCH / "results" / "transcode.json"
TARGET = 1.15  # pipeline wall time <= 1.15x the ffmpeg CLI's
SOURCE_VERSION = "v1"  # bump when the generated picture changes
MEMORY_LIMIT = 8 * 1024**3  # settings.transcode_memory_bytes default
TRANSCODE_SHARE = 0.85  # cms/media/transcode/child.py: progress reported when the ladder is done
FFMPEG, ISOLATED, IN_PROCESS = "ffmpeg CLI", "pipeline (isolated)", "pipeline (in-process)"


# --- source -----------------------------------------------------------------------------------------------------


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth-to-fine random texture (uint8), built from noise at several scales upsampled with swscale."""
    total = np.zeros((height, width), dtype=np.float32)
    for divisor, weight in ((64, 0.55), (16, 0.3), (4, 0.12), (1, 0.06)):
        small = rng.integers(0, 256, size=(max(2, height // divisor), max(2, width // divisor)), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(small, format="gray")
        big = frame.reformat(width=width, height=height, interpolation="BICUBIC").to_ndarray()
        total += weight * big.astype(np.float32)
    total = (total - total.mean()) * 1.6 + 120
    return total.clip(16, 235).astype(np.uint8)


class _Scene:
    """A wide Y/U/V texture panned across the frame with a few textured blocks moving over it."""

    def __init__(self, seed: int, width: int, height: int) -> None:
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        self.tex_w, self.tex_h = width * 2, height + 128
        self.y = _texture(rng, self.tex_h, self.tex_w)
        self.u = (_texture(rng, self.tex_h // 2, self.tex_w // 2).astype(np.int16) // 3 + 85).astype(np.uint8)
        self.v = (_texture(rng, self.tex_h // 2, self.tex_w // 2).astype(np.int16) // 3 + 85).astype(np.uint8)
        size = height // 5 // 2 * 2
        self.blocks = [
            (
                _texture(rng, size, size),
                int(rng.integers(60, 200)),
                int(rng.integers(60, 200)),
                float(rng.uniform(4, 14)),
                float(rng.uniform(-6, 6)),
                int(rng.integers(0, width)),
                int(rng.integers(0, height - size)),
            )
            for _ in range(3)
        ]

    def picture(self, index: int, grain: np.ndarray) -> np.ndarray:
        t = index / 30
        span = self.tex_w - self.width
        travel = 260 * t + 120 * math.sin(0.9 * t)  # px: a pan that speeds up and slows down
        x = int(span - abs(travel % (2 * span) - span)) // 2 * 2  # back and forth
        y = int(56 + 48 * math.sin(1.3 * t)) // 2 * 2
        w, h = self.width, self.height
        luma = self.y[y : y + h, x : x + w].astype(np.int16)
        for tex, u, v, dx, dy, x0, y0 in self.blocks:
            size = tex.shape[0]
            bx = int(x0 + dx * index) % (w - size) // 2 * 2
            by = int(y0 + dy * index) % (h - size) // 2 * 2
            luma[by : by + size, bx : bx + size] = tex
        luma += grain
        planes = np.empty((h * 3 // 2, w), dtype=np.uint8)
        planes[:h] = luma.clip(16, 235)
        chroma = planes[h:].reshape(2, h // 2, w // 2)
        chroma[0] = self.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
        chroma[1] = self.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2]
        for tex, u, v, dx, dy, x0, y0 in self.blocks:
            size = tex.shape[0]
            bx = int(x0 + dx * index) % (w - size) // 2 * 2
            by = int(y0 + dy * index) % (h - size) // 2 * 2
            chroma[0, by // 2 : (by + size) // 2, bx // 2 : (bx + size) // 2] = u
            chroma[1, by // 2 : (by + size) // 2, bx // 2 : (bx + size) // 2] = v
        return planes


def make_source(path: Path, seconds: float, width: int = 1920, height: int = 1080, fps: int = 30) -> Path:
    """Write the 1080p30 H.264 + AAC source (see the module docstring); the file is only renamed in when complete."""
    partial = path.with_suffix(".partial.mp4")
    rng = np.random.default_rng(3)
    grains = [rng.normal(0, 2.5, size=(height, width)).astype(np.int16) for _ in range(5)]
    scenes = [_Scene(1, width, height), _Scene(2, width, height)]
    frames = int(seconds * fps)
    rate, chunk = 44_100, 1024
    with av.open(str(partial), mode="w", format="mp4") as container:
        video = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "veryfast",
                "crf": "20",
                "profile": "high",
                "g": str(fps),
                "bf": "2",
            },
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.thread_type = "FRAME"
        video.codec_context.time_base = Fraction(1, fps)
        audio = container.add_stream("aac", rate=rate, layout="stereo")
        audio.codec_context.bit_rate = 128_000
        written = 0  # audio samples
        for index in range(frames):
            scene = scenes[0] if index < frames // 2 else scenes[1]
            frame = av.VideoFrame.from_ndarray(scene.picture(index, grains[index % len(grains)]), format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
            # Audio up to the end of this frame, so the file is interleaved like a camera's.
            while written < round((index + 1) / fps * rate):
                t = (written + np.arange(chunk, dtype=np.float32)) / rate
                tone = (0.2 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
                sound = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                sound.sample_rate, sound.pts, sound.time_base = rate, written, Fraction(1, rate)
                for packet in audio.encode(sound):
                    container.mux(packet)
                written += chunk
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    partial.rename(path)
    return path


# --- the two sides ----------------------------------------------------------------------------------------------


def ffmpeg_command(ffmpeg: str, src: Path, out: Path, plan: list[RungPlan], frame_rate: float) -> list[str]:
    """One ffmpeg process for the whole ladder, with the pipeline's settings (see the module docstring)."""
    gop = gop_frames(frame_rate, DEFAULT_SETTINGS.gop_seconds)
    split = f"[0:v]split={len(plan)}" + "".join(f"[s{i}]" for i in range(len(plan)))
    scales = [f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,format=yuv420p[v{i}]" for i, r in enumerate(plan)]
    cmd = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(src),
        "-filter_complex",
        ";".join([split, *scales]),
    ]
    for i, rung in enumerate(plan):
        cmd += ["-map", f"[v{i}]", f"-maxrate:v:{i}", str(rung.maxrate), f"-bufsize:v:{i}", str(rung.bufsize)]
    cmd += [
        "-map",
        "0:a:0",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-preset:v",
        DEFAULT_SETTINGS.preset,
        "-crf:v",
        str(DEFAULT_SETTINGS.crf),
        "-pix_fmt:v",
        "yuv420p",
        "-g:v",
        str(gop),
        "-keyint_min:v",
        str(gop),
        "-sc_threshold:v",
        "0",
        "-forced-idr:v",
        "1",
        "-x264-params:v",
        "scenecut=0:open_gop=0",
        "-force_key_frames:v",
        f"expr:gte(t,n_forced*{DEFAULT_SETTINGS.gop_seconds:g})",
        "-c:a",
        "aac",
        "-profile:a",
        "aac_low",
        "-b:a",
        str(DEFAULT_SETTINGS.audio_bitrate),
        "-ac",
        "2",
        "-ar",
        str(DEFAULT_SETTINGS.audio_sample_rate),
        "-f",
        "hls",
        "-hls_time",
        f"{DEFAULT_SETTINGS.segment_seconds:g}",
        "-hls_playlist_type",
        "vod",
        "-hls_list_size",
        "0",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "independent_segments",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        str(out / "%v" / "seg_%05d.m4s"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        " ".join(["a:0,agroup:aac,name:audio"] + [f"v:{i},agroup:aac,name:{r.name}" for i, r in enumerate(plan)]),
        str(out / "%v" / "index.m3u8"),
    ]
    return cmd


def run_ffmpeg(cmd: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    # communicate() reaped the child: its CPU time is in RUSAGE_CHILDREN (measured around the call by `measure`).
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg exited {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return {"wall": wall}


def task_dict(src: Path, out: Path, probe: dict[str, Any]) -> dict[str, Any]:
    """cms/media/processing.py `_task` for this source, Capabilities() defaults (libx264, CPU decode)."""
    return {
        "task": "video",
        "src": str(src),
        "out_dir": str(out),
        "timeout": 3600.0,
        "input_format": probe.get("format") or None,
        "width": probe.get("width") or 0,
        "height": probe.get("height") or 0,
        "frame_rate": probe.get("frame_rate") or 25.0,
        "rotation": probe.get("rotation") or 0,
        "duration": probe.get("duration") or 0.0,
        "video_encoder": "libx264",
        "hw_decode": False,
    }


def run_isolated_pipeline(src: Path, out: Path, probe: dict[str, Any]) -> dict[str, Any]:
    marks: dict[str, float] = {}
    started = time.monotonic()

    def progress(fraction: float) -> None:
        if fraction >= TRANSCODE_SHARE and "ladder" not in marks:
            marks["ladder"] = time.monotonic() - started
            # The child's CPU so far (all its threads): the ladder's, without the artwork that follows.
            for child in psutil.Process().children():
                try:
                    times = child.cpu_times()
                    marks["ladder_cpu"] = times.user + times.system
                except psutil.Error:
                    pass

    asyncio.run(
        run_isolated(task_dict(src, out, probe), timeout=3600, memory_limit_bytes=MEMORY_LIMIT, on_progress=progress)
    )
    total = time.monotonic() - started
    row = {"wall": marks.get("ladder", total), "child_total": total}
    if "ladder_cpu" in marks:
        row["ladder_cpu"] = marks["ladder_cpu"]
    return row


def run_in_process(src: Path, out: Path, probe: dict[str, Any], plan: list[RungPlan]) -> dict[str, Any]:
    started = time.monotonic()
    result = transcode_video(src, out, plan, input_format=probe.get("format"), video_encoder="libx264")
    wall = time.monotonic() - started
    failed = [r.name for r in result.renditions if not r.ok]
    if failed:
        raise RuntimeError(f"pipeline renditions failed: {failed}")
    return {"wall": wall}


def _busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have used (/proc/stat: user+nice+system+irq+softirq+steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(name: str, run) -> dict[str, Any]:
    """Wall time from `run`; CPU time (user+sys) of this process and its reaped children around it; the CPU the
    rest of the machine used meanwhile ("others", in CPUs: 0 = the bench had the machine to itself)."""
    self0, child0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    load, busy0, t0 = os.getloadavg()[0], _busy_cpu_seconds(), time.monotonic()
    out = run()
    busy1, elapsed = _busy_cpu_seconds(), time.monotonic() - t0
    self1, child1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(b, f) - getattr(a, f) for a, b in ((self0, self1), (child0, child1)) for f in ("ru_utime", "ru_stime")
    )
    others = max(0.0, (busy1 - busy0 - cpu) / elapsed)
    return {"variant": name, "cpu": cpu, "load_before": load, "others_cpus": others, **out}


# --- outputs ----------------------------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def outputs(hls_dir: Path, plan: list[RungPlan]) -> dict[str, Any]:
    """Bytes per rung and for the audio, segment counts, and the master playlist's RESOLUTION list."""
    master = hls_dir / "master.m3u8"
    text = master.read_text() if master.exists() else ""
    return {
        "bytes": {r.name: folder_bytes(hls_dir / r.name) for r in plan} | {"audio": folder_bytes(hls_dir / "audio")},
        "segments": {r.name: len(list((hls_dir / r.name).glob("*.m4s"))) for r in plan},
        "resolutions": sorted(set(re.findall(r"RESOLUTION=(\d+x\d+)", text)), key=lambda s: -int(s.split("x")[0])),
        "master": master.exists(),
    }


def x264_info(rung_dir: Path) -> tuple[str, dict[str, str]]:
    """x264's version and options, from the SEI it writes into the first segment (or the init segment)."""
    for path in sorted(rung_dir.glob("*.m4s")) + sorted(rung_dir.glob("*.mp4")):
        data = path.read_bytes()
        at = data.find(b"x264 - core ")
        if at >= 0:
            text = data[at : at + 4096].split(b"\x00", 1)[0].decode(errors="replace")
            version = text.split(" - H.264")[0].replace("x264 - ", "")
            options = dict(item.split("=", 1) for item in text.split("options: ", 1)[-1].split() if "=" in item)
            return version, options
    return "?", {}


# --- driver -----------------------------------------------------------------------------------------------------


def wait_for_load(max_load: float, max_wait: float) -> float:
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
    deadline = time.monotonic() + max_wait
    while (load := os.getloadavg()[0]) >= max_load and time.monotonic() < deadline:
        log(f"1-min load {load:.2f} >= {max_load}: waiting ({deadline - time.monotonic():.0f} s left)")
        time.sleep(15)
    if load >= max_load:
        log(f"WARNING: 1-min load still {load:.2f} after {max_wait:.0f} s; measuring anyway (numbers are noisier)")
    else:
        log(f"1-min load {load:.2f} < {max_load}")
    return load


def profile_pipeline(src: Path, out: Path, target: Path) -> None:
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        log("py-spy not found next to the interpreter (.venv/bin/pip install py-spy): no profile")
        return
    fmt = "raw" if target.suffix == ".txt" else "speedscope" if target.suffix == ".json" else "flamegraph"
    cmd = [
        str(spy),
        "record",
        "--native",
        "--threads",
        "--rate",
        "200",
        "--format",
        fmt,
        "-o",
        str(target),
        "--",
        sys.executable,
        str(Path(__file__).resolve()),
        "--pipeline-once",
        str(src),
        str(out),
    ]
    log("profiling one in-process pipeline run: " + " ".join(cmd))
    subprocess.run(cmd, check=True, capture_output=True)
    log(f"wrote {target}")


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="source duration (default 20)")
    parser.add_argument("--runs", type=int, default=2, help="measured runs per variant (default 2)")
    parser.add_argument("--in-process", action="store_true", help="also measure transcode_video() in-process")
    parser.add_argument("--no-isolated", action="store_true", help="skip the isolated (worker child) variant")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-min load below this (1.5)")
    parser.add_argument("--load-wait", type=float, default=180.0, help="longest wait for the load, s (180)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "cms-transcode-bench")
    parser.add_argument(
        "--profile",
        type=Path,
        help="also record one in-process pipeline run with py-spy "
        "(.svg flamegraph, .json speedscope, .txt raw collapsed stacks)",
    )
    parser.add_argument("--pipeline-once", nargs=2, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.pipeline_once:  # the profiled child of --profile
        src, out = map(Path, args.pipeline_once)
        probe = probe_file(src, AssetKind.VIDEO)
        plan = plan_ladder(probe["width"], probe["height"], probe["frame_rate"], probe["rotation"])
        run_in_process(src, out, probe, plan)
        return 0

    started = time.monotonic()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print(
            "ERROR: the `ffmpeg` command line is not installed; install Debian's package first:\n"
            "    apt-get update && apt-get install -y ffmpeg",
            file=sys.stderr,
        )
        return 2
    ffmpeg_version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0]

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    src = args.cache_dir / f"source-1080p30-{args.seconds:g}s-{SOURCE_VERSION}.mp4"
    if src.exists():
        log(f"source {src} (cached)")
    else:
        log(f"making the source {src} ...")
        t0 = time.monotonic()
        make_source(src, args.seconds)
        log(f"source made in {time.monotonic() - t0:.0f} s")
    probe = probe_file(src, AssetKind.VIDEO)
    duration = float(probe["duration"])
    plan = plan_ladder(probe["width"], probe["height"], probe["frame_rate"], probe["rotation"])
    log(
        f"source: {probe['width']}x{probe['height']} {probe['frame_rate']} fps {duration:.2f} s "
        f"{probe.get('bitrate', 0) / 1e6:.1f} Mbit/s {probe['video_codec']}+{probe.get('audio_codec')}, "
        f"{src.stat().st_size / 2**20:.1f} MiB"
    )
    log(
        "ladder: "
        + ", ".join(f"{r.name} {r.width}x{r.height} max {r.maxrate // 1000}k/buf {r.bufsize // 1000}k" for r in plan)
    )
    log(
        f"ffmpeg: {ffmpeg_version}; PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"
    )
    log(f"CPUs: {os.cpu_count()}")

    work = Path(tempfile.mkdtemp(prefix="cms-transcode-bench-"))
    variants = [FFMPEG] + ([] if args.no_isolated else [ISOLATED]) + ([IN_PROCESS] if args.in_process else [])
    cmd_shown = ffmpeg_command(ffmpeg, src, work / "<run>", plan, probe["frame_rate"])
    print("\nffmpeg command:\n  " + " ".join(f"'{a}'" if (" " in a or ";" in a) else a for a in cmd_shown) + "\n")

    def one(variant: str, index: int) -> dict[str, Any]:
        out = work / f"{variant.split()[0]}-{variant.split()[-1].strip('()')}-{index}"
        if variant == FFMPEG:
            hls_dir = out
            hls_dir.mkdir(parents=True)
            row = measure(variant, lambda: run_ffmpeg(ffmpeg_command(ffmpeg, src, hls_dir, plan, probe["frame_rate"])))
        elif variant == ISOLATED:
            hls_dir = out / "hls"
            row = measure(variant, lambda: run_isolated_pipeline(src, out, probe))
        else:
            hls_dir = out / "hls"
            row = measure(variant, lambda: run_in_process(src, hls_dir, probe, plan))
        row |= outputs(hls_dir, plan)
        row["x264"] = x264_info(hls_dir / plan[min(1, len(plan) - 1)].name)
        shutil.rmtree(out, ignore_errors=True)
        extra = ""
        if "child_total" in row:
            row["child_cpu"] = row["cpu"]
            row["cpu"] = row.get("ladder_cpu", row["cpu"])  # the ladder's share; the artwork's after it
            extra = f"  (child total {row['child_total']:.1f} s, {row['child_cpu']:.1f} s CPU with artwork)"
        log(
            f"run {index + 1} {variant:<22} wall {row['wall']:6.1f} s  cpu {row['cpu']:6.1f} s  "
            f"{duration / row['wall']:.2f}x realtime  load {row['load_before']:.2f}  others {row['others_cpus']:.2f} CPUs  "
            f"out {sum(row['bytes'].values()) / 2**20:.1f} MiB{extra}"
        )
        return row

    wait_for_load(args.max_load, args.load_wait)
    rows: list[dict[str, Any]] = []
    try:
        for index in range(args.runs):
            order = variants[index % len(variants) :] + variants[: index % len(variants)]  # alternate who goes first
            for variant in order:
                rows.append(one(variant, index))
        if args.profile:
            profile_pipeline(src, work / "profile", args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # --- report ---------------------------------------------------------------------------------------------
    summary: dict[str, dict[str, Any]] = {}
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        summary[variant] = {
            "wall": statistics.median(r["wall"] for r in mine),
            "cpu": statistics.median(r["cpu"] for r in mine),
            "walls": [round(r["wall"], 2) for r in mine],
            "others_cpus": statistics.mean(r["others_cpus"] for r in mine),
            "child_total": statistics.median(r["child_total"] for r in mine) if "child_total" in mine[0] else None,
            "child_cpu": statistics.median(r["child_cpu"] for r in mine) if "child_cpu" in mine[0] else None,
            "bytes": mine[-1]["bytes"],
            "segments": mine[-1]["segments"],
            "resolutions": mine[-1]["resolutions"],
            "master": mine[-1]["master"],
            "x264": mine[-1]["x264"],
        }
    base = summary[FFMPEG]
    header = (
        f"{'variant':<22} {'wall s':>7} {'runs (wall s)':>13} {'x realtime':>10} {'CPU s':>6} {'CPU/wall':>8} "
        f"{'others':>6} {'video MiB':>9} {'audio KiB':>9} {'wall ratio':>10} {'per round':>11} {'CPU ratio':>9}  target"
    )
    table = []
    for variant, s in summary.items():
        video_mib = sum(v for k, v in s["bytes"].items() if k != "audio") / 2**20
        ratio = s["wall"] / base["wall"]
        # Each round's pipeline run against that round's ffmpeg run (runs next to each other see similar load).
        rounds = [
            r["wall"] / f["wall"]
            for r, f in zip((r for r in rows if r["variant"] == variant), (r for r in rows if r["variant"] == FFMPEG))
        ]
        s.update(
            ratio=ratio,
            realtime=duration / s["wall"],
            round_ratios=[round(x, 3) for x in rounds],
            cpu_ratio=s["cpu"] / base["cpu"],
        )
        verdict = "(baseline)" if variant == FFMPEG else f"<= {TARGET}x {'PASS' if ratio <= TARGET else 'FAIL'}"
        s["verdict"] = verdict
        runs = "/".join(f"{w:.1f}" for w in s["walls"])
        table.append(
            f"{variant:<22} {s['wall']:>7.2f} {runs:>13} {duration / s['wall']:>10.2f} {s['cpu']:>6.1f} "
            f"{s['cpu'] / s['wall']:>8.2f} {s['others_cpus']:>6.2f} {video_mib:>9.2f} "
            f"{s['bytes']['audio'] / 1024:>9.0f} {ratio:>9.2f}x {'/'.join(f'{x:.2f}' for x in rounds):>11} "
            f"{s['cpu_ratio']:>8.2f}x  {verdict}"
        )
    footer = [
        f"source {duration:.2f} s 1080p30; ladder {', '.join(f'{r.name} {r.width}x{r.height}' for r in plan)}; "
        f"{args.runs} runs each, alternating; medians",
        f"CPU s = user+sys of the process and its threads/children; others = CPUs the rest of the machine "
        f"used meanwhile (of {os.cpu_count()}); 0 = no contention",
    ]
    if summary.get(ISOLATED, {}).get("child_total"):
        footer.append(
            f"pipeline (isolated): wall and CPU until the child reports the ladder done; with the artwork "
            f"(poster, thumbnails, storyboard) the child takes {summary[ISOLATED]['child_total']:.2f} s, "
            f"{summary[ISOLATED]['child_cpu']:.1f} s CPU"
        )
    print("\nTranscode ladder: worker pipeline vs ffmpeg CLI")
    print_table(header, table, footer)  # the column names, underlined

    names = [r.name for r in plan] + ["audio"]
    print("Output bytes per rendition (KiB) and segment counts:")
    print(f"  {'variant':<22} " + " ".join(f"{n:>12}" for n in names) + "   resolutions in master.m3u8")
    for variant, s in summary.items():
        cells = [f"{s['bytes'][n] / 1024:>7.0f}/{s['segments'].get(n, '-'):>4}" for n in names]
        print(
            f"  {variant:<22} "
            + " ".join(f"{c:>12}" for c in cells)
            + f"   {' '.join(s['resolutions']) or 'NO MASTER'}"
        )

    (ref_version, ref_opts) = summary[FFMPEG]["x264"]
    print(f"\nx264 ({plan[min(1, len(plan) - 1)].name} stream SEI): {FFMPEG}: {ref_version}")
    for variant, s in summary.items():
        if variant == FFMPEG:
            continue
        version, opts = s["x264"]
        diff = {
            k: (ref_opts.get(k), opts.get(k))
            for k in sorted(set(ref_opts) | set(opts))
            if ref_opts.get(k) != opts.get(k)
        }
        print(
            f"  {variant}: {version}; options differing (ffmpeg -> pipeline): "
            + (", ".join(f"{k} {a}->{b}" for k, (a, b) in diff.items()) or "none")
        )
    verdicts = [
        f"{v}: {s['ratio']:.2f}x {s['verdict'].split()[-1]} (CPU {s['cpu_ratio']:.2f}x)"
        for v, s in summary.items()
        if v != FFMPEG
    ]
    print("\nSummary (target pipeline <= 1.15x ffmpeg CLI wall time): " + "; ".join(verdicts) + "\n")

    write_results(
        RESULTS,
        {
            "source": {"path": str(src), "probe": probe},
            "ffmpeg": ffmpeg_version,
            "pyav": av.__version__,
            "ladder": [r.__dict__ for r in plan],
            "target": TARGET,
            "ffmpeg_command": cmd_shown,
            "runs": rows,
            "summary": summary,
            "cpus": os.cpu_count(),
        },
        started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
