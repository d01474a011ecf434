"""The app's pooled PostgreSQL connections (cms.core.db.PooledConnection) are handed back without a reset statement,
except after a call that failed: asyncpg prepares with Parse/Describe/Flush, so an argument that fails to encode on
the client leaves the server inside the statement's implicit transaction, holding its table locks, until the
connection is used again. Handed back after the reset, nothing is held and the connection works on."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import connections

from cms.content.models import Program
from cms.core.db import PgTarget
from tests.support.api import Api
from tests.support.jobs import database_url


async def _held_locks(db_target: PgTarget, table: str) -> list[str]:
    """The lock modes other sessions hold on `table` right now."""
    conn = await asyncpg.connect(database_url(db_target))
    try:
        rows = await conn.fetch(
            "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = $1 AND l.granted AND l.pid <> pg_backend_pid()",
            table,
        )
        # What a migration or TRUNCATE needs: it must not wait behind an idle pool connection.
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE NOWAIT")
        return [row["mode"] for row in rows]
    finally:
        await conn.close()


async def test_a_failed_call_leaves_no_lock_behind(api: Api, db_target: PgTarget) -> None:
    await Program.create(title="Held", slug="held")
    client = connections.get("default")
    with pytest.raises(Exception, match="expected str, got int"):
        await client.execute_query("SELECT id FROM program WHERE slug = $1", [5])  # fails on the client, after Parse
    assert await _held_locks(db_target, "program") == []
    # The same pool goes on answering.
    _, rows = await client.execute_query("SELECT slug FROM program WHERE slug = $1", ["held"])
    assert [row["slug"] for row in rows] == ["held"]


async def test_a_successful_read_leaves_no_lock_behind(api: Api, db_target: PgTarget) -> None:
    await Program.create(title="Read", slug="read")
    _, rows = await connections.get("default").execute_query("SELECT slug FROM program WHERE slug = $1", ["read"])
    assert len(rows) == 1
    assert await _held_locks(db_target, "program") == []
