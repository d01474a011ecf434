"""A PostgreSQL for tests: the one at TEST_DATABASE_URL (default: local server on 127.0.0.1:5432),
or, when that is unreachable, an embedded one started under a temporary directory."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import asyncpg

from cms.core.db import PgTarget, start_embedded_postgres

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _reachable(target: PgTarget) -> bool:
    try:
        conn = await asyncio.wait_for(target.connect(), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def server_target() -> PgTarget:
    target = PgTarget.from_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_URL))
    if await _reachable(target):
        return target
    return start_embedded_postgres(Path(tempfile.mkdtemp(prefix="cms-test-pg-")))


async def create_database(server: PgTarget, prefix: str = "cms_test") -> PgTarget:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await server.with_database("postgres").connect()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.with_database(name)


async def drop_database(target: PgTarget) -> None:
    admin = await target.with_database("postgres").connect()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()
