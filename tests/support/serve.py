"""A real `cms serve` child process, for tests of what only the real server does (uvicorn protocol options,
connection limits) or that need settings the in-process app does not have: `serve_process` starts one with a given
environment (`server_env` the configuration all need), `cms_serve` one on a database of its own."""

from __future__ import annotations

import contextlib
import resource
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cms.core.db import PgTarget
from tests.support import database
from tests.support.jobs import database_url
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import Process, child_env, cms, free_port, wait_http


@dataclass
class Served:
    url: str
    port: int
    process: Process
    env: dict[str, str]  # the child's environment (for `cms dev-token` and the like)


def server_env(
    database_url: str, *, redis_url: str, data_dir: Path, issuer: TestIssuer | None = None
) -> dict[str, str]:
    """The configuration every test server needs: its database and Redis, a queue of its own (no other test's
    worker takes its jobs), a data directory and, given `issuer`, the test OIDC issuer."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CMS_DATA_DIR": str(data_dir),
        "CMS_QUEUE_NAME": f"cms-test-serve:{uuid.uuid4().hex[:12]}",
    }
    if issuer is not None:
        env |= {"OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": "cms"}
    return env


@contextlib.asynccontextmanager
async def serve_process(
    name: str, env: Mapping[str, str], log_dir: Path, *, args: Sequence[str] = ()
) -> AsyncIterator[Served]:
    """`cms serve --no-worker` (and `args`) on a free loopback port with `env` on top of the test environment
    (child_env); entered once /ready answers, stopped (by pid) on exit. Its log: `log_dir`/`name`-`port`.log."""
    port = free_port()
    full_env = child_env(env)
    server = cms(f"{name}-{port}", "serve", "--no-worker", "--port", str(port), *args, env=full_env, log_dir=log_dir)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/ready", server)
        yield Served(url, port, server, full_env)
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def cms_serve(
    pg_server: PgTarget, *, redis_url: str, log_dir: Path, env: Mapping[str, str] = {}, log_level: str = "warning"
) -> AsyncIterator[Served]:
    """`cms serve --no-worker` on a database of its own, with `env` on top of a test configuration (server_env);
    the database is dropped on exit. `log_level`: its --log-level (uvicorn's loggers and the access lines)."""
    target = await database.create_database(pg_server, prefix="cms_serve")
    try:
        config = server_env(database_url(target), redis_url=redis_url, data_dir=log_dir / "data")
        async with serve_process("serve", {**config, **env}, log_dir, args=("--log-level", log_level)) as served:
            yield served
    finally:
        await database.drop_database(target)


def raise_open_files(at_least: int) -> None:
    """Let this test process hold `at_least` sockets (up to the hard limit, which a test cannot pass)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < at_least:
        target = at_least if hard == resource.RLIM_INFINITY else min(at_least, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
