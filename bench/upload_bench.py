"""Upload bench: 1 GiB through the CMS's streaming endpoint (PUT /uploads/{id}) vs a raw Starlette sink.

    .venv/bin/python bench/upload_bench.py [--size-mib 1024 --runs 3]

Steps: create a throw-away database cms_bench_<random> (dropped at the end), `cms migrate` it, mint an editor
token with `cms dev-token` (development issuer, same CMS_DATA_DIR), start both servers as subprocesses with the
same uvicorn settings (1 worker, log level warning, pinned to the same CPU):

  api   `cms serve --no-worker` (DATABASE_URL, CMS_DATA_DIR=<tmp>, CMS_ENV=development, CMS_UPLOAD_MAX_BYTES)
  sink  `uvicorn --app-dir bench raw_sink:app`: streams request.stream() to a file in the same tmp dir

then create a program + episode via GraphQL and, per API upload, a createUpload (DIRECT, video/mp4, exact size).
The body is a small real MP4 made with PyAV (the endpoint sniffs the first 8 KiB) padded to the full size with a
repeated 1 MiB os.urandom block; httpx streams it from a generator in 1 MiB chunks with a Content-Length header,
byte-identical for both servers (the API's answered sha256 is checked against the body's). Wall time of the PUT
(until the response arrives, so the API's fsync counts) gives MiB/s. A thread samples the server's RSS with
psutil every 50 ms: peak growth = max during the upload - value just before it.

After a smaller warm-up upload on each server, runs alternate sink, api, sink, api, ...; the table shows medians.
Uploaded files are deleted (and the page cache flushed with sync) between runs. `--fsync-sink` adds a diagnostic
row: the sink with an fsync before answering (the API's durability). `--profile out.svg` (or .txt for raw
collapsed stacks) records one extra API upload with py-spy (needs `pip install py-spy`).

Prints a table (MiB/s, ratio to the sink, peak RSS growth, PASS/FAIL vs targets: ratio >= 0.8, RSS growth < 64 MiB)
and writes bench/results/upload.json. Exits 0 whether or not the targets are met (non-zero only when the bench
cannot run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from _common import (
    BENCH,
    PY_SPY_FORMATS,
    ROOT,
    Server,
    add_database_args,
    bench_parser,
    cms_cmd,
    cms_env,
    in_throwaway_database,
    log,
    migrate,
    print_table,
    py_spy,
    py_spy_record,
    uvicorn_cmd,
    write_results,
)

RESULTS = BENCH / "results" / "upload.json"

MIB = 1 << 20
CHUNK = MIB
TARGET_RATIO = 0.8
TARGET_RSS_MIB = 64.0
RSS_INTERVAL_S = 0.05
UTC = dt.UTC


# --- the body: a real MP4 head, padded with a repeated random block ----------------------------------------------


def small_mp4() -> bytes:
    """A tiny real MP4 (PyAV): 24 frames of 64x64 video."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(24):
            img = np.full((64, 64, 3), (i * 10) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


class Body:
    def __init__(self, size: int) -> None:
        self.head = small_mp4()
        if len(self.head) >= CHUNK:
            raise RuntimeError("the generated MP4 is larger than one chunk")
        self.block = os.urandom(CHUNK)
        self.size = size
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        self.sha256 = digest.hexdigest()

    def chunks(self, size: int | None = None) -> Iterator[bytes]:
        total = self.size if size is None else size
        first = (self.head + self.block[: CHUNK - len(self.head)])[:total]
        yield first
        sent = len(first)
        while sent < total:
            n = min(CHUNK, total - sent)
            yield self.block if n == CHUNK else self.block[:n]
            sent += n


# --- RSS -------------------------------------------------------------------------------------------------------


class RssSampler:
    """Samples one process's RSS every RSS_INTERVAL_S in a thread; `before` is taken when it starts."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.before = self.proc.memory_info().rss
        self.peak = self.before
        self.samples = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL_S):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / MIB


# --- the API: GraphQL setup and tickets --------------------------------------------------------------------------

CREATE_PROGRAM = """mutation($input: CreateProgramInput!) { createProgram(input: $input) {
  __typename ... on Program { id } ... on Error { message } } }"""
CREATE_EPISODE = """mutation($input: CreateEpisodeInput!) { createEpisode(input: $input) {
  __typename ... on Episode { id } ... on Error { message } } }"""
CREATE_UPLOAD = """mutation($input: CreateUploadInput!) { createUpload(input: $input) {
  __typename ... on Upload { id method status url } ... on Error { message }
  ... on ValidationError { fields { path message } } } }"""


def gql(client: httpx.Client, query: str, variables: dict, field: str, typename: str) -> dict:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    payload = r.json()
    result = (payload.get("data") or {}).get(field)
    if r.status_code != 200 or payload.get("errors") or not result or result["__typename"] != typename:
        raise RuntimeError(f"{field} failed ({r.status_code}): {json.dumps(payload)[:1000]}")
    return result


def dev_token(env: dict[str, str]) -> str:
    done = subprocess.run(
        [*cms_cmd(), "dev-token", "--role", "editor"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cms dev-token failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


class Api:
    def __init__(self, server: Server, token: str) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=300, headers={"Authorization": f"Bearer {token}"})
        program = gql(self.client, CREATE_PROGRAM, {"input": {"title": "Upload bench"}}, "createProgram", "Program")
        episode = gql(
            self.client,
            CREATE_EPISODE,
            {"input": {"programId": program["id"], "title": "Upload bench"}},
            "createEpisode",
            "Episode",
        )
        self.episode_id = episode["id"]

    def ticket(self, size: int) -> str:
        upload = gql(
            self.client,
            CREATE_UPLOAD,
            {
                "input": {
                    "filename": "bench.mp4",
                    "size": size,
                    "contentType": "video/mp4",
                    "episodeId": self.episode_id,
                }
            },
            "createUpload",
            "Upload",
        )
        if upload["method"] != "DIRECT":
            raise RuntimeError(f"expected a DIRECT upload, got {upload['method']}")
        return f"/uploads/{upload['id']}"  # the ticket's url names the public base URL; the path is what matters


# --- one upload ----------------------------------------------------------------------------------------------------


def upload(
    kind: str,
    server: Server,
    client: httpx.Client,
    body: Body,
    size: int,
    *,
    api: Api | None = None,
    fsync: bool = False,
    label: str | None = None,
) -> dict:
    """PUT `size` bytes of the body to one server; returns timing, RSS and the server's answer."""
    name = f"{secrets.token_hex(8)}.bin"
    path = api.ticket(size) if api else f"/sink/{name}" + ("?fsync=1" if fsync else "")
    headers = {"Content-Type": "video/mp4", "Content-Length": str(size)}
    cpu = psutil.Process(server.pid)
    cpu0 = cpu.cpu_times()
    with RssSampler(server.pid) as rss:
        t0 = time.perf_counter()
        r = client.put(path, content=body.chunks(size), headers=headers)
        elapsed = time.perf_counter() - t0
    cpu1 = cpu.cpu_times()
    cpu_user, cpu_sys = cpu1.user - cpu0.user, cpu1.system - cpu0.system
    if r.status_code != 200:
        raise RuntimeError(f"{kind} upload failed ({r.status_code}): {r.text[:1000]}")
    answer = r.json()
    if api is not None:
        if answer.get("status") != "RECEIVED":
            raise RuntimeError(f"api upload not RECEIVED: {answer}")
        if size == body.size and answer.get("sha256") != body.sha256:
            raise RuntimeError(f"api sha256 {answer.get('sha256')} != body sha256 {body.sha256}")
    elif answer.get("size") != size:
        raise RuntimeError(f"sink stored {answer.get('size')} bytes, sent {size}")
    row = {
        "server": label or kind,
        "bytes": size,
        "seconds": elapsed,
        "mib_s": size / MIB / elapsed,
        "rss_before_mib": rss.before / MIB,
        "rss_peak_mib": rss.peak / MIB,
        "rss_growth_mib": rss.growth_mib,
        "rss_samples": rss.samples,
        "server_cpu_user_s": cpu_user,
        "server_cpu_sys_s": cpu_sys,
        "answer": answer,
    }
    log(
        f"{row['server']:10s} {size / MIB:7.0f} MiB in {elapsed:6.2f}s = {row['mib_s']:7.1f} MiB/s   "
        f"server CPU {cpu_user:5.2f}s user {cpu_sys:5.2f}s sys   "
        f"RSS {rss.before / MIB:6.1f} -> peak {rss.peak / MIB:6.1f} MiB (+{rss.growth_mib:.1f})"
        + (f"   {answer['chunks']} body chunks, max {answer['max_chunk'] // 1024} KiB" if "chunks" in answer else "")
    )
    return row


def clean(*dirs: Path) -> None:
    """Delete what was uploaded, then flush dirty pages so the next run starts from the same state."""
    for d in dirs:
        if d.exists():
            for p in d.rglob("*"):
                if p.is_file():
                    p.unlink()
    os.sync()


# --- report ------------------------------------------------------------------------------------------------------


def summarize(rows: list[dict]) -> dict:
    return {
        "median_mib_s": statistics.median(r["mib_s"] for r in rows),
        "runs_mib_s": [round(r["mib_s"], 1) for r in rows],
        "median_seconds": statistics.median(r["seconds"] for r in rows),
        "median_server_cpu_s": statistics.median(r["server_cpu_user_s"] + r["server_cpu_sys_s"] for r in rows),
        "max_rss_growth_mib": max(r["rss_growth_mib"] for r in rows),
    }


def report(summary: dict[str, dict]) -> list[dict]:
    base = summary["sink"]["median_mib_s"]
    lines = []
    for name, s in summary.items():
        ratio = s["median_mib_s"] / base if base else 0.0
        if name == "api":
            ok_ratio, ok_rss = ratio >= TARGET_RATIO, s["max_rss_growth_mib"] < TARGET_RSS_MIB
            target = f">= {TARGET_RATIO}x, RSS < {TARGET_RSS_MIB:.0f} MiB"
            verdict = f"{'PASS' if ok_ratio else 'FAIL'} ratio / {'PASS' if ok_rss else 'FAIL'} RSS"
        else:
            target, verdict = "(baseline)" if name == "sink" else "(diagnostic)", ""
        lines.append({"server": name, **s, "ratio": ratio, "target": target, "verdict": verdict})
    header = (
        f"{'server':11} {'MiB/s':>8} {'runs (MiB/s)':20} {'wall s':>6} {'CPU s':>6} {'ratio':>6} {'peak RSS +MiB':>13}  "
        f"{'target':28} result"
    )
    table = []
    for row in lines:
        runs = ", ".join(f"{v:.0f}" for v in row["runs_mib_s"])
        table.append(
            f"{row['server']:11} {row['median_mib_s']:8.1f} {runs:20} {row['median_seconds']:6.2f} "
            f"{row['median_server_cpu_s']:6.2f} "
            f"{row['ratio']:5.2f}x {row['max_rss_growth_mib']:13.1f}  {row['target']:28} {row['verdict']}"
        )
    print_table(header, table)
    return lines


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=1024, help="upload size in MiB (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="measured uploads per server (default 3)")
    parser.add_argument("--warmup-mib", type=int, default=256, help="warm-up upload size per server (default 256)")
    parser.add_argument("--fsync-sink", action="store_true", help="also measure the sink with fsync (diagnostic row)")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for both servers ('' to not pin)")
    parser.add_argument("--client-cpus", default="1", help="CPU list for this process, the client ('' to not pin)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record one extra API upload with py-spy into this file (.svg flame graph, .txt raw collapsed stacks)",
    )
    add_database_args(parser)
    args = parser.parse_args()

    if (os.cpu_count() or 1) < 2:
        args.server_cpus = args.client_cpus = ""
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    if args.profile and py_spy() is None:
        print("ERROR: --profile needs py-spy: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2

    args.loadavg_before = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    # tempfile's default dir: the sink's files and the API's CMS_DATA_DIR share it, so the same disk.
    return in_throwaway_database(
        args, "cms-upload-bench-", lambda db_url, tmp: run(args, db_url, tmp, started), log_tmp=True
    )


def run(args: argparse.Namespace, db_url: str, tmp: Path, started: float) -> int:
    size = args.size_mib * MIB
    data_dir, sink_dir = tmp / "data", tmp / "sink"
    data_dir.mkdir()
    sink_dir.mkdir()
    staging_dir = data_dir / "storage" / "staging"
    free = shutil.disk_usage(tmp).free
    if free < 3 * size:
        raise RuntimeError(f"only {free / MIB:.0f} MiB free in {tmp}; need about {3 * size / MIB:.0f}")

    migrate(db_url, data_dir)
    env = cms_env(
        db_url,
        data_dir,
        drop=("OIDC_ISSUER", "REDIS_URL", "PUBLIC_BASE_URL"),
        SINK_DIR=str(sink_dir),
        CMS_UPLOAD_MAX_BYTES=str(max(size, 20 * 1024**3)),
    )
    token = dev_token(env)  # before the API starts: both use the same dev issuer key under CMS_DATA_DIR

    t = time.monotonic()
    body = Body(size)
    log(
        f"body: {size / MIB:.0f} MiB = {len(body.head)} byte PyAV MP4 + repeated 1 MiB random block, "
        f"sha256 {body.sha256[:16]}... ({time.monotonic() - t:.1f}s)"
    )

    rows: dict[str, list[dict]] = {"sink": [], "api": []}
    if args.fsync_sink:
        rows["sink+fsync"] = []
    profile_note = None
    sink_cmd = uvicorn_cmd("--app-dir", str(BENCH), "raw_sink:app")
    api_cmd = [*cms_cmd(), "serve", "--no-worker"]
    with (
        Server("sink", sink_cmd, env, args.server_cpus, tmp) as sink_srv,
        Server("api", api_cmd, env, args.server_cpus, tmp) as api_srv,
        httpx.Client(base_url=sink_srv.url, timeout=300) as sink_client,
    ):
        api = Api(api_srv, token)
        rss_start = {
            "sink": psutil.Process(sink_srv.pid).memory_info().rss / MIB,
            "api": psutil.Process(api_srv.pid).memory_info().rss / MIB,
        }

        def one(kind: str, n: int) -> dict:
            if kind == "api":
                row = upload("api", api_srv, api.client, body, n, api=api)
            else:
                row = upload("sink", sink_srv, sink_client, body, n, fsync=kind == "sink+fsync", label=kind)
            clean(sink_dir, staging_dir)
            return row

        if args.warmup_mib > 0:
            warm = min(args.warmup_mib * MIB, size)
            for kind in rows:
                one(kind, warm)
        for _ in range(args.runs):
            for kind in rows:  # alternating: sink, api[, sink+fsync], sink, api, ...
                rows[kind].append(one(kind, size))

        if args.profile:
            profile_note = profile(args.profile, api_srv, api, body, size)
            clean(sink_dir, staging_dir)
        rss_end = {
            "sink": psutil.Process(sink_srv.pid).memory_info().rss / MIB,
            "api": psutil.Process(api_srv.pid).memory_info().rss / MIB,
        }
        api.client.close()

    summary = {kind: summarize(r) for kind, r in rows.items()}
    pinning = f"servers on CPU {args.server_cpus or 'any'}, client on CPU {args.client_cpus or 'any'}"
    print(
        f"\n{args.runs} x {args.size_mib} MiB per server after a {args.warmup_mib} MiB warm-up, alternating; "
        f"1 MiB chunks with Content-Length via httpx; uvicorn 1 worker, log level warning; {pinning}; "
        f"RSS sampled every {RSS_INTERVAL_S * 1000:.0f} ms (growth = peak during upload - just before); "
        f"CPU s = server process user+sys CPU per upload (less noisy than wall time on a shared machine). "
        f"1-min load average {args.loadavg_before} before, {os.getloadavg()[0]:.2f} after"
    )
    lines = report(summary)
    if profile_note:
        print(profile_note)

    write_results(
        RESULTS,
        {
            "when": dt.datetime.now(UTC).isoformat(),
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "pg_url"},
            "cpus": os.cpu_count(),
            "targets": {"ratio": TARGET_RATIO, "rss_growth_mib": TARGET_RSS_MIB},
            "body": {"bytes": size, "mp4_head_bytes": len(body.head), "sha256": body.sha256},
            "rows": lines,
            "runs": rows,
            "rss_mib_at_start": rss_start,
            "rss_mib_at_end": rss_end,
            "profile": str(args.profile) if args.profile else None,
            "elapsed_s": round(time.monotonic() - started, 1),
        },
        started,
    )
    return 0


def profile(out: Path, server: Server, api: Api, body: Body, size: int) -> str:
    """One more API upload with py-spy attached (not part of the table)."""
    with py_spy_record(server.pid, out, "--rate", "200", "--threads", formats={".txt": PY_SPY_FORMATS[".txt"]}):
        row = upload("api", server, api.client, body, size, api=api, label="api+py-spy")
    return f"py-spy profile of one extra API upload ({row['mib_s']:.0f} MiB/s under the profiler): {out}"


if __name__ == "__main__":
    sys.exit(main())
