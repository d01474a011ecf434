"""Helpers shared by the benches in bench/ (bench code, not product code).

A throw-away PostgreSQL database per run (create, `cms migrate`, drop), the environment the `cms` processes get,
CPU pinning with taskset, a uvicorn server subprocess that is started, waited for (GET /health) and stopped, a wrk
run that reports through a Lua script's BENCH_JSON line, and py-spy attached to a server for a profile.
bench/baseline_app.py and bench/raw_sink.py stay standalone: they run as separate servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose --help shows the script's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def print_table(header: str, rows: Iterable[str], footer: Iterable[str] = ()) -> None:
    """A blank line, the header underlined with dashes, the rows, the footer lines, a blank line."""
    print()
    print(header)
    print("-" * len(header))
    for line in (*rows, *footer):
        print(line)
    print()


def write_results(path: Path, payload: dict[str, Any], started: float) -> None:
    """Write the results JSON (non-JSON values as str) and log where it went and the total time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    log(f"wrote {path.relative_to(ROOT)} in {time.monotonic() - started:.0f}s total")


# --- database ------------------------------------------------------------------------------------------------


def with_db(url: str, name: str) -> str:
    """`url` with its database (path) replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin_execute(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(admin_url: str, name: str) -> None:
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')


async def drop_database(admin_url: str, name: str) -> None:
    await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_database_args(parser: argparse.ArgumentParser) -> None:
    """--pg-url and --keep-db, as read by `in_throwaway_database`."""
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of the PostgreSQL server (default $BENCH_PG_URL or postgres@127.0.0.1:5432)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database at the end")


def in_throwaway_database(
    args: argparse.Namespace, tmp_prefix: str, run: Callable[[str, Path], int], *, log_tmp: bool = False
) -> int:
    """Create cms_bench_<random> via args.pg_url and a temp dir, return run(db_url, tmp_dir).

    The database is dropped afterwards, even on failure, unless args.keep_db. Returns 2 (after a message on stderr)
    when the database cannot be created.
    """
    db_name = f"cms_bench_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp_name:
        tmp = Path(tmp_name)
        try:
            asyncio.run(create_database(args.pg_url, db_name))
        except Exception as exc:  # noqa: BLE001
            print(f"ERROR: cannot create database {db_name} via {args.pg_url}: {exc}", file=sys.stderr)
            return 2
        log(f"database {db_name}" + (f", temp dir {tmp}" if log_tmp else ""))
        try:
            return run(with_db(args.pg_url, db_name), tmp)
        finally:
            if args.keep_db:
                log(f"kept database {db_name}")
            else:
                asyncio.run(drop_database(args.pg_url, db_name))
                log(f"dropped database {db_name}")


# --- the cms CLI -----------------------------------------------------------------------------------------------


def cms_cmd() -> list[str]:
    """The `cms` CLI next to this interpreter, else `python -m cms.cli`."""
    cli = Path(sys.executable).with_name("cms")
    return [str(cli)] if cli.exists() else [sys.executable, "-m", "cms.cli"]


def cms_env(db_url: str, data_dir: Path, *, drop: Iterable[str] = ("OIDC_ISSUER",), **extra: str) -> dict[str, str]:
    """This process's environment less `drop`, for a development-mode cms on `db_url` and `data_dir`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in set(drop)}
    env.update(DATABASE_URL=db_url, CMS_DATA_DIR=str(data_dir), CMS_ENV="development", **extra)
    return env


def app_settings(db_url: str, data_dir: Path, **aliases: Any) -> Any:
    """cms Settings for the app run in a bench's own process: development mode on `db_url` and `data_dir`, no OIDC
    issuer, then `aliases` (environment names, e.g. CMS_PUBLIC_CACHE_SECONDS=0)."""
    from cms.core.settings import Settings

    return Settings(CMS_DATA_DIR=data_dir, DATABASE_URL=db_url, CMS_ENV="development", OIDC_ISSUER=None, **aliases)


UNCACHED = {"CMS_RATE_LIMIT_ENABLED": False, "CMS_PUBLIC_CACHE_SECONDS": 0}  # every request runs the query path


def migrate(db_url: str, data_dir: Path) -> None:
    done = subprocess.run(
        [*cms_cmd(), "migrate"], env=cms_env(db_url, data_dir), cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cms migrate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    log(f"cms migrate: {done.stdout.strip()}")


# --- processes -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpus: str | None) -> list[str]:
    """A taskset prefix for a command ([] when `cpus` is empty or taskset is missing)."""
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


def uvicorn_cmd(*args: str) -> list[str]:
    """`python -m uvicorn <args> --workers 1` with this interpreter."""
    return [sys.executable, "-m", "uvicorn", *args, "--workers", "1"]


class Server:
    """A server subprocess on a free loopback port, pinned to `cpus`, output to <logdir>/<name>.log.

    `cmd` gets `--host 127.0.0.1 --port N --log-level warning` appended (uvicorn / `cms serve` options). As a context
    manager: started and waited for until GET /health answers 200 (60 s at most), stopped with SIGINT at exit.
    """

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cpus: str | None, logdir: Path) -> None:
        self.name, self.env = name, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [*pin(cpus), *cmd, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.logfile = logdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # taskset execs the program: same pid

    def __enter__(self) -> Server:
        self._log = open(self.logfile, "w")
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.logfile.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.logfile.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc, signal.SIGINT)
        self._log.close()


def stop_process(proc: subprocess.Popen | None, sig: int) -> None:
    """Ask a server to stop with `sig` (its graceful-shutdown signal); kill it after 10 s."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- wrk and py-spy --------------------------------------------------------------------------------------------


def wrk_json(
    lua: Path, url: str, seconds: float, args: argparse.Namespace, env: Mapping[str, str], *, latency: bool = False
) -> dict[str, Any]:
    """Run wrk on `url` for `seconds` (whole, at least 1) with args.threads threads and args.connections connections,
    pinned to args.wrk_cpus, and the Lua script `lua`, which prints its figures as one `BENCH_JSON {...}` line; return
    those figures. `env`: variables for the script, added to this environment; `latency`: wrk's --latency."""
    cmd = [
        *pin(args.wrk_cpus),
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{max(1, round(seconds))}s",
        *(["--latency"] if latency else []),
        "--timeout",
        "10s",
        "-s",
        str(lua),
        url,
    ]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(line.removeprefix("BENCH_JSON "))


def latency_ms(raw: dict[str, Any]) -> dict[str, float]:
    """p50, p90, p99, mean and max latency in ms from wrk_json's figures (microseconds)."""
    return {f"{name}_ms": raw[f"{name}_us"] / 1000 for name in ("p50", "p90", "p99", "mean", "max")}


PY_SPY_FORMATS = {".txt": ["--format", "raw"], ".json": ["--format", "speedscope"]}  # by suffix; else an SVG


def py_spy() -> str | None:
    """The py-spy next to this interpreter (the venv's), else the one on PATH; None when there is none."""
    return shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")


@contextlib.contextmanager
def py_spy_record(
    pid: int, out: Path, *options: str, formats: Mapping[str, list[str]] = PY_SPY_FORMATS
) -> Iterator[None]:
    """`py-spy record` attached to `pid` (given 1 s to attach) while the block runs, writing `out` in the format its
    suffix names in `formats`; stopped with SIGINT at the end (so it writes the file), killed after 30 s."""
    spy = subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), *options, "-o", str(out), *formats.get(out.suffix, [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)  # let py-spy attach
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()


async def asgi_post(app: Any, payload: bytes) -> tuple[int, bytes]:
    """One POST /graphql straight into an ASGI app (no socket, no HTTP parsing, `Cache-Control: no-cache`): the
    response's status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-cache"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)
