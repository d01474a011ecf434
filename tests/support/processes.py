"""Real processes for crash and deployment tests: `cms serve`, `cms worker`, a private redis-server.

Every process is started in its own process group, logs to a file (shown when a test fails) and is
killed by id in `stop` (tests call it from `finally`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
CMS = Path(sys.executable).with_name("cms")
T = TypeVar("T")

# Variables a developer's shell might carry that would point a child at the wrong services.
_SCRUB = ("CMS_", "DATABASE_URL", "REDIS_URL", "S3_", "AWS_", "OIDC_", "EDGE_", "OPENSEARCH_URL", "PUBLIC_BASE_URL")


def cache_dir() -> Path:
    """Where the suite keeps what it downloads once (OpenSearch's jars, Keycloak): CMS_TEST_CACHE or ~/.cache."""
    return Path(os.environ.get("CMS_TEST_CACHE") or Path.home() / ".cache" / "cms-tests")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["CMS_RATE_LIMIT_ENABLED"] = "false"  # children share one Redis (and 127.0.0.1); a test may turn it on
    env.update({k: str(v) for k, v in extra.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Process:
    """One child process; `log` holds its stdout and stderr."""

    def __init__(self, name: str, argv: list[str], *, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the child's own process group (it and anything it started), by id."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        self.popen.wait(timeout)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (pid {self.popen.pid}, rc {self.popen.poll()}) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )


def cms(name: str, *args: str, env: Mapping[str, str], log_dir: Path) -> Process:
    return Process(name, [str(CMS), *args], env=env, log_dir=log_dir)


def cms_module(name: str, module: str, *args: str, env: Mapping[str, str], log_dir: Path) -> Process:
    """A test wrapper around the CLI (python -m tests.support.<module>)."""
    return Process(name, [sys.executable, "-m", module, *args], env=env, log_dir=log_dir)


def run_cms(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([str(CMS), *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"cms {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    *,
    what: str,
    attempts: int = 150,
    delay: float = 0.2,
    processes: tuple[Process, ...] = (),
    detail: Callable[[], Awaitable[str] | str] | None = None,
) -> T:
    """Poll `probe` (a plain or an async function) until it returns something truthy; a bounded number of tries,
    never a wall-clock assertion. On failure the message names `what`, the last value, `detail()` (anything else
    worth showing) and the tail of each of `processes`' logs."""
    value = None
    for _ in range(attempts):
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(delay)
    lines = [f"gave up waiting for {what} after {attempts} tries ({delay} s apart); last value: {repr(value)[:1000]}"]
    if detail is not None:
        extra = detail()
        lines.append(await extra if inspect.isawaitable(extra) else extra)
    lines += [p.tail() for p in processes]
    raise AssertionError("\n".join(lines))


async def sleep_past(at: datetime) -> None:
    """Return once the clock (UTC) is past `at`, an aware datetime."""
    while (left := (at - datetime.now(UTC)).total_seconds()) >= 0:
        await asyncio.sleep(min(left + 0.01, 0.2))


async def wait_http(url: str, process: Process, *, attempts: int = 300) -> None:
    async def up() -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited during startup\n{process.tail()}")
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(url)).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, what=f"{url} to answer", attempts=attempts, delay=0.1, processes=(process,))


def wait_port(port: int, process: Process, *, what: str, detail: Callable[[], str] = lambda: "") -> None:
    """Return once something accepts connections on 127.0.0.1:`port`; fail early if `process` exits, naming `what`
    with the tail of its log and `detail()` (anything else worth showing). A bounded number of tries."""
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if not process.alive():
                break
            time.sleep(0.05)
    raise AssertionError("\n".join(filter(None, [f"{what} did not start", process.tail(), detail()])))


class PrivateRedis:
    """A throwaway redis-server (no persistence) on its own port, so a test may kill and restart it."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: Process | None = None
        self._binary = shutil.which("redis-server") or "redis-server"

    def start(self) -> PrivateRedis:
        argv = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = Process(f"redis-{self.port}", argv, env=child_env({}), log_dir=self.log_dir)
        wait_port(self.port, self.process, what="redis-server")
        return self

    def kill(self) -> None:
        """Lose everything in it, as a crash would."""
        if self.process is not None:
            self.process.kill(signal.SIGKILL)
            self.process.popen.wait(10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()
