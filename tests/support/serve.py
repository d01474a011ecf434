"""A real `cms serve` child process on a database of its own, for tests of what only the real server does
(uvicorn protocol options, connection limits) or that need settings the in-process app does not have."""

from __future__ import annotations

import contextlib
import resource
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cms.core.db import PgTarget
from tests.support import database
from tests.support.jobs import database_url
from tests.support.processes import Process, child_env, cms, free_port, wait_http


@dataclass
class Served:
    url: str
    port: int
    process: Process
    env: dict[str, str]  # the child's environment (for `cms dev-token` and the like)


@contextlib.asynccontextmanager
async def cms_serve(
    pg_server: PgTarget, *, redis_url: str, log_dir: Path, env: Mapping[str, str] = {}, log_level: str = "warning"
) -> AsyncIterator[Served]:
    """`cms serve --no-worker` on loopback with `env` on top of a test configuration; stopped (by pid) on exit.
    `log_level`: its --log-level (uvicorn's loggers and the access lines)."""
    target = await database.create_database(pg_server, prefix="cms_serve")
    port = free_port()
    full_env = child_env(
        {
            "DATABASE_URL": database_url(target),
            "REDIS_URL": redis_url,
            "CMS_DATA_DIR": str(log_dir / "data"),
            "CMS_QUEUE_NAME": f"cms-test-serve:{uuid.uuid4().hex[:12]}",
            **env,
        }
    )
    server = cms(
        f"serve-{port}",
        "serve",
        "--no-worker",
        "--port",
        str(port),
        "--log-level",
        log_level,
        env=full_env,
        log_dir=log_dir,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/ready", server)
        yield Served(url, port, server, full_env)
    finally:
        server.stop()
        await database.drop_database(target)


def raise_open_files(at_least: int) -> None:
    """Let this test process hold `at_least` sockets (up to the hard limit, which a test cannot pass)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < at_least:
        target = at_least if hard == resource.RLIM_INFINITY else min(at_least, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
