"""Edge bench: a 50 MB preview object through the signed edge route vs Debian's nginx, random 1 MiB ranges.

    sh bench/setup-system.sh        # nginx-light + wrk from Debian, only when missing (root or sudo)
    .venv/bin/python bench/edge_bench.py [--size-mib 50 --range-kib 1024 --duration 10 --rounds 2]

Steps: create a throw-away database cms_bench_<random> (dropped at the end) and `cms migrate` it (the app opens
its database at startup, the edge route itself never queries it); write a random file of --size-mib MiB into the
app's local storage through the storage API (LocalStorage(CMS_DATA_DIR/storage).write(Area.PREVIEWS, key, ...),
as the worker stores renditions) under a production-shaped key `<sha256>/hls-<fp>/hls/1080p/seg_00000.m4s`;
start both servers on free loopback ports, each pinned to the same CPU(s):

  edge   `python -m uvicorn --factory cms.app:app_from_env --workers N --no-access-log` (the whole app, its
         middleware and plugins, EDGE_KEYS / EDGE_ACTIVE_KID set), URL minted with plugins/edge/signing.sign
         (scope = the rendition folder, as plugins/edge/plugin.py does, expiring in 2 h)
  nginx  Debian's nginx, a generated nginx.conf in the temp dir: `daemon off`, pid/error log/temp paths in the
         temp dir, `worker_processes N` (same N as uvicorn workers), sendfile on, tcp_nopush on, access_log off,
         keepalive_requests 100000, `user root` when run as root (the temp dir is 0700), root = the storage's
         previews directory: the SAME file on the same disk, no copy.

Checks before loading (the bench exits 1 when one fails): both answer a first, a last and a random 1 MiB range
with 206, the right Content-Range / Content-Length and exactly the file's bytes; the edge refuses a tampered
signature with 403. After each wrk run: no non-2xx/3xx answers (wrk's "status" errors), and bytes per response
within 1 KiB of the range size (a server that ignored Range and sent 200 with 50 MB would pass a status check).

Load: wrk with the same settings for both (bench/range_get.lua: one random `Range: bytes=a-b` of --range-kib per
request, per-thread seeded), `-t2 -c16 --latency` by default, wrk pinned to the other CPU; after a warm-up run per
server, --rounds rounds of measured runs alternating the order (nginx, edge | edge, nginx | ...).

Prints per run and a table of medians: requests/s, MB/s (10^6 bytes/s as wrk counts them, headers included), p50
and p99 latency, server CPU ms per request (user+sys of the server's process tree: steadier than req/s when other
processes compete), and the edge/nginx ratio of requests/s with PASS/FAIL against the target (>= 0.5x). Writes
bench/results/edge.json. Exits 0 whether or not the target is met, 1 when a check fails, 2 when the bench cannot
run (nginx or wrk missing: run bench/setup-system.sh).

`--profile out.svg` (or .txt for raw collapsed stacks, .json for speedscope) records one extra edge run with py-spy
(`.venv/bin/pip install py-spy`; with --workers 1 only), after the measured runs and not part of the table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from _common import (
    BENCH,
    ROOT,
    Server,
    add_database_args,
    bench_parser,
    cms_env,
    free_port,
    in_throwaway_database,
    latency_ms,
    log,
    migrate,
    pin,
    print_table,
    py_spy,
    py_spy_record,
    stop_process,
    write_results,
    wrk_json,
)

sys.path.insert(0, str(ROOT))
from cms.media.storage import Area, LocalStorage  # noqa: E402 - after the path is set
from plugins.edge.signing import sign  # noqa: E402

RESULTS = BENCH / "results" / "edge.json"
LUA = BENCH / "range_get.lua"
SETUP = BENCH / "setup-system.sh"
MIB = 1 << 20
TARGET_RATIO = 0.5
KID = "bench"
HEADER_SLACK = 1024  # bytes of status line + headers per response, at most
UTC = dt.UTC


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


# --- the object ----------------------------------------------------------------------------------------------


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(MIB):
            yield chunk


def store_object(data_dir: Path, tmp: Path, size: int) -> tuple[str, str, Path, str]:
    """A random file written into PREVIEWS via the storage API; returns (key, scope, file path, sha256)."""
    src = tmp / "object.bin"
    digest = hashlib.sha256()
    with src.open("wb") as f:
        left = size
        while left:
            block = os.urandom(min(MIB, left))
            digest.update(block)
            f.write(block)
            left -= len(block)
    sha = digest.hexdigest()
    scope = f"{sha}/hls-{secrets.token_hex(6)}/hls/"
    key = f"{scope}1080p/seg_00000.m4s"
    storage = LocalStorage(data_dir / "storage")  # what open_storage_from_settings builds for the app
    result = asyncio.run(storage.write(Area.PREVIEWS, key, _chunks(src), content_type="video/iso.segment"))
    if result.sha256 != sha or result.size != size:
        raise RuntimeError("the storage wrote something else than the source file")
    src.unlink()
    path = storage.local_path(Area.PREVIEWS, key)
    assert path is not None and path.stat().st_size == size
    return key, scope, path, sha


# --- nginx ---------------------------------------------------------------------------------------------------

NGINX_CONF = """\
# generated by bench/edge_bench.py
daemon off;
master_process on;
{user}worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    types {{ video/iso.segment m4s; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;

    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


class Nginx:
    """nginx in the foreground (daemon off) with a generated config; stopped with SIGQUIT (graceful)."""

    def __init__(self, binary: str, root: Path, workers: int, cpus: str | None, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(
            NGINX_CONF.format(
                user="user root;\n" if os.geteuid() == 0 else "", workers=workers, tmp=tmp, port=self.port, root=root
            )
        )
        self.cmd = [*pin(cpus), binary, "-e", str(tmp / "nginx-error.log"), "-p", str(tmp), "-c", str(self.conf)]
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Nginx:
        check = subprocess.run([*self.cmd, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stdout}{check.stderr}")
        self._log = open(self.tmp / "nginx.out", "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nginx exited ({self.proc.returncode}):\n{(self.tmp / 'nginx-error.log').read_text()}"
                )
            try:
                httpx.get(self.url + "/", timeout=1)  # any answer (403/404 for the root) means it listens
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("nginx did not start listening")

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc, signal.SIGQUIT)  # nginx's graceful shutdown
        self._log.close()


# --- checks, wrk, CPU ----------------------------------------------------------------------------------------


def check_ranges(name: str, url: str, path: Path, range_bytes: int, size: int) -> list[str]:
    """A first, a last and a random range: 206, right Content-Range / Content-Length, the file's exact bytes."""
    problems = []
    data = path.read_bytes()
    starts = [0, size - range_bytes, secrets.randbelow(size - range_bytes + 1)]
    with httpx.Client(timeout=30) as client:
        for start in starts:
            end = start + range_bytes - 1
            r = client.get(url, headers={"Range": f"bytes={start}-{end}"})
            want = f"bytes {start}-{end}/{size}"
            if r.status_code != 206:
                problems.append(f"{name} bytes={start}-{end}: status {r.status_code} (want 206): {r.text[:80]!r}")
                continue
            if r.headers.get("content-range") != want:
                problems.append(
                    f"{name} bytes={start}-{end}: Content-Range {r.headers.get('content-range')!r}, want {want!r}"
                )
            if r.headers.get("content-length") != str(range_bytes):
                problems.append(f"{name} bytes={start}-{end}: Content-Length {r.headers.get('content-length')!r}")
            if r.content != data[start : end + 1]:
                problems.append(f"{name} bytes={start}-{end}: body differs from the file ({len(r.content)} bytes)")
        log(
            f"{name}: 206 check on {len(starts)} ranges: {'OK' if not problems else 'FAILED'} "
            f"(content-type {r.headers.get('content-type')}, etag {r.headers.get('etag')}, "
            f"cache-control {r.headers.get('cache-control')})"
        )
    return problems


def run_wrk(url: str, size: int, range_bytes: int, seconds: float, args: Any, seed: int) -> dict[str, Any]:
    raw = wrk_json(
        LUA,
        url,
        seconds,
        args,
        {"WRK_FILE_SIZE": str(size), "WRK_RANGE_BYTES": str(range_bytes), "WRK_SEED": str(seed)},
        latency=True,
    )
    seconds_ = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds_,
        "mb_s": raw["bytes"] / seconds_ / 1e6,
        "bytes_per_response": raw["bytes"] / raw["requests"] if raw["requests"] else 0.0,
        **latency_ms(raw),
        "non_2xx": raw["err_status"],
        "socket_errors": sum(raw[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
        "raw": raw,
    }


def tree_cpu_seconds(pid: int) -> float | None:
    """user+sys of a process and its children (uvicorn workers, nginx workers), alive ones only."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for proc in (root, *root.children(recursive=True)):
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return None


def measure(
    name: str, server: Any, url: str, size: int, range_bytes: int, seconds: float, args: Any, seed: int
) -> dict[str, Any]:
    cpu_before = tree_cpu_seconds(server.pid)
    result = run_wrk(url, size, range_bytes, seconds, args, seed)
    cpu_after = tree_cpu_seconds(server.pid)
    result["cpu_ms_per_request"] = (
        (cpu_after - cpu_before) * 1000 / result["requests"]
        if cpu_before is not None and cpu_after is not None and result["requests"]
        else None
    )
    problems = []
    if result["requests"] == 0:
        problems.append(f"{name}: wrk completed no request")
    if result["non_2xx"]:
        problems.append(f"{name}: {result['non_2xx']} of {result['requests']} responses were not 2xx/3xx")
    if not range_bytes <= result["bytes_per_response"] <= range_bytes + HEADER_SLACK:
        problems.append(
            f"{name}: {result['bytes_per_response']:.0f} bytes per response, want {range_bytes} + headers "
            f"(full bodies instead of ranges?)"
        )
    result["problems"] = problems
    log(
        f"{name:5s} {result['rps']:8.1f} req/s  {result['mb_s']:8.1f} MB/s  p50 {result['p50_ms']:7.2f} ms  "
        f"p99 {result['p99_ms']:7.2f} ms  cpu {result['cpu_ms_per_request'] or 0:.3f} ms/req  "
        f"non-2xx {result['non_2xx']}  socket errors {result['socket_errors']}"
    )
    return result


def profile(out: Path, server: Server, url: str, size: int, range_bytes: int, args: Any) -> str:
    """One more edge run with py-spy attached to the (single) uvicorn process (not part of the table)."""
    with py_spy_record(server.pid, out, "--rate", "250", "--threads", "--idle"):
        result = run_wrk(url, size, range_bytes, args.duration, args, args.seed)
    return f"py-spy profile of one extra edge run ({result['rps']:.0f} req/s under the profiler): {out}"


# --- main ----------------------------------------------------------------------------------------------------


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--size-mib", type=int, default=50, help="size of the object in MiB (default 50)")
    parser.add_argument("--range-kib", type=int, default=1024, help="bytes per range request in KiB (default 1024)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk warm-up per server (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per server, order alternating (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers = nginx worker_processes (default 1)")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for both servers ('' to not pin)")
    parser.add_argument("--wrk-cpus", default="1", help="taskset CPU list for wrk ('' to not pin)")
    parser.add_argument("--seed", type=int, default=1, help="wrk range seed (default 1)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record one extra edge run with py-spy into this file "
        "(.svg flame graph, .txt collapsed stacks, .json speedscope)",
    )
    add_database_args(parser)
    args = parser.parse_args()
    if args.profile and py_spy() is None:
        print("ERROR: --profile needs py-spy: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    if args.profile and args.workers != 1:
        parser.error("--profile needs --workers 1")

    nginx = find_nginx()
    if nginx is None or shutil.which("wrk") is None:
        missing = " and ".join(n for n, ok in (("nginx", nginx), ("wrk", shutil.which("wrk"))) if not ok)
        print(
            f"ERROR: {missing} not installed. Run: sh {SETUP.relative_to(ROOT)}  (Debian: nginx-light, wrk; root or "
            f"sudo)",
            file=sys.stderr,
        )
        return 2
    if (os.cpu_count() or 1) < 2:
        args.server_cpus = args.wrk_cpus = ""
    if args.range_kib * 1024 > args.size_mib * MIB:
        parser.error("--range-kib is larger than the object")
    args.loadavg_before = round(os.getloadavg()[0], 2)
    started = time.monotonic()

    def in_db(db_url: str, tmp: Path) -> int:
        os.chmod(tmp, 0o755)  # nginx workers read below it (they run as root when we do, else as our user)
        data_dir = tmp / "data"
        data_dir.mkdir()
        return run(args, nginx, db_url, data_dir, tmp, started)

    return in_throwaway_database(args, "cms-edge-bench-", in_db, log_tmp=True)


def run(args: Any, nginx_bin: str, db_url: str, data_dir: Path, tmp: Path, started: float) -> int:
    size, range_bytes = args.size_mib * MIB, args.range_kib * 1024
    migrate(db_url, data_dir)
    key, scope, path, sha = store_object(data_dir, tmp, size)
    log(f"stored {size} bytes (sha256 {sha[:12]}...) as previews/{key} -> {path}")

    secret = secrets.token_urlsafe(32)
    keys = {KID: secret.encode()}
    edge_path = sign(keys, KID, scope, key, int(time.time()) + 7200)
    env = cms_env(
        db_url,
        data_dir,
        drop=("OIDC_ISSUER", "REDIS_URL", "EDGE_KEYS", "EDGE_ACTIVE_KID", "S3_ENDPOINT_URL"),
        EDGE_KEYS=f"{KID}:{secret}",
        EDGE_ACTIVE_KID=KID,
    )
    app_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "cms.app:app_from_env",
        "--workers",
        str(args.workers),
        "--no-access-log",
    ]
    nginx_version = subprocess.run([nginx_bin, "-v"], capture_output=True, text=True).stderr.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0:1]
    results: dict[str, list[dict[str, Any]]] = {"nginx": [], "edge": []}
    problems: list[str] = []

    with (
        Server("edge", app_cmd, env, args.server_cpus, tmp) as app,
        Nginx(nginx_bin, path.parents[len(Path(key).parts) - 1], args.workers, args.server_cpus, tmp) as nginx,
    ):
        urls = {"edge": app.url + edge_path, "nginx": f"{nginx.url}/{key}"}
        servers = {"edge": app, "nginx": nginx}
        log(f"edge  {app.url}{edge_path[:60]}...  (uvicorn --workers {args.workers}, CPU {args.server_cpus or 'any'})")
        log(f"nginx {urls['nginx'][:80]}...  (worker_processes {args.workers}, CPU {args.server_cpus or 'any'})")
        for name in ("nginx", "edge"):
            problems += check_ranges(name, urls[name], path, range_bytes, size)
        tampered = httpx.get(urls["edge"].replace(f"/{KID}/", "/nobody/"), headers={"Range": "bytes=0-9"}, timeout=30)
        if tampered.status_code != 403:
            problems.append(f"edge: a tampered URL answered {tampered.status_code}, want 403")
        if problems:
            for p in problems:
                print(f"CHECK FAILED: {p}", file=sys.stderr)
            return 1

        for name in ("nginx", "edge"):
            if args.warmup > 0:
                warm = run_wrk(urls[name], size, range_bytes, args.warmup, args, args.seed + 999)
                log(f"{name:5s} warm-up {warm['rps']:.1f} req/s, non-2xx {warm['non_2xx']}")
        for round_no in range(args.rounds):
            order = ("nginx", "edge") if round_no % 2 == 0 else ("edge", "nginx")
            for name in order:
                result = measure(
                    name, servers[name], urls[name], size, range_bytes, args.duration, args, args.seed + round_no
                )
                result["round"] = round_no + 1
                results[name].append(result)
                problems += result["problems"]
        profile_note = profile(args.profile, app, urls["edge"], size, range_bytes, args) if args.profile else None

    def med(name: str, field: str) -> float:
        values = [r[field] for r in results[name] if r[field] is not None]
        return statistics.median(values) if values else float("nan")

    ratios = [e["rps"] / n["rps"] for e, n in zip(results["edge"], results["nginx"]) if n["rps"]]
    ratio = med("edge", "rps") / med("nginx", "rps")
    cpu_ratio = med("edge", "cpu_ms_per_request") / med("nginx", "cpu_ms_per_request")
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"

    print(
        f"\n{args.size_mib} MiB object, random {args.range_kib} KiB ranges; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s --latency (CPU {args.wrk_cpus or 'any'}), {args.rounds} run(s) per server after "
        f"{args.warmup}s warm-up; servers on CPU {args.server_cpus or 'any'}: uvicorn --workers {args.workers} / nginx "
        f"worker_processes {args.workers}; {nginx_version}; 1-min load {args.loadavg_before} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    header = (
        f"{'server':6s} {'req/s':>9s} {'MB/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU ms/req':>10s} {'non-2xx':>8s}"
    )
    rows = [
        f"{name:6s} {med(name, 'rps'):9.1f} {med(name, 'mb_s'):9.1f} {med(name, 'p50_ms'):8.2f} "
        f"{med(name, 'p99_ms'):8.2f} {med(name, 'cpu_ms_per_request'):10.3f} "
        f"{sum(r['non_2xx'] for r in results[name]):8d}"
        for name in ("nginx", "edge")
    ]
    print_table(
        header + "   (medians)",
        rows,
        [
            f"edge/nginx req/s: {ratio:.2f}x (per round: {', '.join(f'{r:.2f}' for r in ratios)})  "
            f"target >= {TARGET_RATIO}x: {verdict}",
            f"server CPU per request, edge/nginx: {cpu_ratio:.1f}x",
        ],
    )
    if profile_note:
        print(profile_note)
    for p in problems:
        print(f"CHECK FAILED: {p}", file=sys.stderr)

    write_results(
        RESULTS,
        {
            "when": dt.datetime.now(UTC).isoformat(),
            "config": {k: v for k, v in vars(args).items() if k != "pg_url"},
            "cpus": os.cpu_count(),
            "object": {"key": key, "size": size, "sha256": sha},
            "nginx_version": nginx_version,
            "wrk_version": wrk_version,
            "results": results,
            "medians": {
                name: {f: med(name, f) for f in ("rps", "mb_s", "p50_ms", "p99_ms", "cpu_ms_per_request")}
                for name in results
            },
            "ratio_rps": ratio,
            "ratio_per_round": ratios,
            "ratio_cpu_per_request": cpu_ratio,
            "target_ratio": TARGET_RATIO,
            "verdict": verdict,
            "problems": problems,
            "elapsed_s": round(time.monotonic() - started, 1),
        },
        started,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
