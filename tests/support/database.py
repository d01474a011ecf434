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


async def empty_tables(tables: list[str]) -> None:
    """TRUNCATE `tables` on the tests' Tortoise connection. When it is held up past the statement bound, the error
    names the sessions that held it up (what they run, since when), so a leaked transaction shows who left it."""
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    try:
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    except asyncpg.QueryCanceledError as exc:
        _, holders = await conn.execute_query(
            "SELECT pid, application_name, client_port, state, wait_event_type, wait_event,"
            " now() - xact_start AS in_transaction, now() - query_start AS in_query,"
            " left(query, 300) AS last_query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        raise AssertionError(f"emptying the tables was held up by: {[dict(h) for h in holders]}") from exc
