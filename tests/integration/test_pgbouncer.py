"""PgBouncer in transaction mode (Debian's pgbouncer, a private one per test): the API works through it.

DATABASE_URL names PgBouncer with DATABASE_PGBOUNCER=true (asyncpg keeps no prepared statements across calls),
DATABASE_DIRECT_URL the server itself (migrations, and the change feed's LISTEN, which transaction pooling breaks).
PgBouncer gets far fewer server connections than the API's pool, so that clients really share them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support import database
from tests.support.api import Api, operation
from tests.support.oidc_issuer import TestIssuer
from tests.support.pgbouncer import Bounced, PgBouncer, serve_behind_pgbouncer
from tests.support.processes import eventually

PROGRAMS = "{ programs(first: 100) { totalCount edges { node { id title status } } } }"


@pytest.fixture
async def bounced(
    pg_server: PgTarget, settings: Settings, issuer: TestIssuer, tmp_path: Path
) -> AsyncIterator[Bounced]:
    env = {"CMS_DB_POOL_MAX": "20"}  # five times PgBouncer's server connections
    async with serve_behind_pgbouncer(
        pg_server, redis_url=str(settings.redis_url), issuer=issuer, log_dir=tmp_path, pool_size=4, env=env
    ) as bounced:
        yield bounced


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


async def test_reads_and_mutations_work_through_pgbouncer_under_concurrency(
    bounced: Bounced, issuer: TestIssuer
) -> None:
    async with httpx.AsyncClient(base_url=bounced.served.url, timeout=60) as client:
        api = Api(client, issuer)

        async def create(i: int) -> str:
            data = _ok(await api.post(operation("CreateProgram"), {"input": {"title": f"Bounced {i}"}}, role="editor"))
            assert data["createProgram"]["__typename"] == "Program", data
            return str(data["createProgram"]["id"])

        async def edit(pid: str, i: int) -> None:
            _ok(await api.post(operation("PublishProgram"), {"id": pid}, role="editor"))
            variables = {"id": pid, "input": {"title": f"Bounced {i} (edited)"}}
            _ok(await api.post(operation("UpdateProgram"), variables, role="editor"))

        async def read(i: int) -> None:
            headers = {"cache-control": "no-cache"} if i % 2 else {}  # half of them straight from the database
            _ok(await client.post("/graphql", json={"query": PROGRAMS}, headers=headers))
            _ok(await api.post(PROGRAMS, role="viewer"))

        ids = await asyncio.gather(*(create(i) for i in range(30)))
        await asyncio.gather(*(edit(pid, i) for i, pid in enumerate(ids)), *(read(i) for i in range(60)))

        everything = _ok(await client.post("/graphql", json={"query": PROGRAMS}, headers={"cache-control": "no-cache"}))
        titles = {edge["node"]["title"] for edge in everything["programs"]["edges"]}
        assert titles == {f"Bounced {i} (edited)" for i in range(30)}
        assert {edge["node"]["status"] for edge in everything["programs"]["edges"]} == {"PUBLISHED"}

        # The change feed listens on the direct URL: the response cache serves (only while the feed is live)...
        async def cached() -> bool:  # once the notifications of the load above have all come in
            first = await client.post("/graphql", json={"query": PROGRAMS})
            second = await client.post("/graphql", json={"query": PROGRAMS})
            return second.headers.get("x-cache") == "HIT" and second.json() == first.json()

        await eventually(cached, what="a cached answer", processes=(bounced.served.process,))
        # ...and a change committed by another process (NOTIFY through the direct connection) invalidates it.
        conn = await bounced.target.connect()
        try:
            async with conn.transaction():
                await conn.execute("UPDATE program SET title = 'Changed Elsewhere' WHERE title = 'Bounced 0 (edited)'")
                await conn.execute("SELECT pg_notify('cms_changes', 'program.update')")
        finally:
            await conn.close()

        async def changed() -> bool:
            body = (await client.post("/graphql", json={"query": PROGRAMS})).json()
            return "Changed Elsewhere" in {edge["node"]["title"] for edge in body["data"]["programs"]["edges"]}

        await eventually(changed, what="the cache to hear of the change", processes=(bounced.served.process,))

    # The API's queries really went through PgBouncer, over its few server connections.
    [stats] = [row for row in bounced.bouncer.show("STATS") if row["database"] == bounced.target.database]
    assert int(stats["total_xact_count"]) >= 300, stats
    pools = [row for row in bounced.bouncer.show("POOLS") if row["database"] == bounced.target.database]
    assert sum(int(row["sv_active"]) + int(row["sv_idle"]) + int(row["sv_used"]) for row in pools) <= 4, pools


async def test_transaction_mode_breaks_asyncpgs_statement_cache_and_no_cache_works(
    pg_server: PgTarget, tmp_path: Path
) -> None:
    """Why DATABASE_PGBOUNCER exists: a statement asyncpg prepared on one server connection is not on the next."""
    target = await database.create_database(pg_server, prefix="cms_pgbouncer")
    try:
        with PgBouncer(pg_server, tmp_path, pool_size=2) as bouncer:
            for cache_size, fails in ((100, True), (0, False)):
                holder = await asyncpg.connect(bouncer.url(target.database), statement_cache_size=cache_size)
                client = await asyncpg.connect(bouncer.url(target.database), statement_cache_size=cache_size)
                try:
                    assert await client.fetchval("SELECT $1::int + 1", 1) == 2  # prepared on a server connection
                    async with holder.transaction():  # holds that connection: the next call gets the other one
                        await holder.execute("SELECT 1")
                        if fails:
                            with pytest.raises(asyncpg.exceptions.InvalidSQLStatementNameError):
                                await client.fetchval("SELECT $1::int + 1", 1)
                        else:
                            assert await client.fetchval("SELECT $1::int + 1", 1) == 2
                finally:
                    await holder.close()
                    await client.close()
    finally:
        await database.drop_database(target)


def test_pgbouncer_setting_needs_a_direct_url() -> None:
    with pytest.raises(ValueError, match="DATABASE_DIRECT_URL"):
        Settings(DATABASE_URL="postgres://bouncer:6432/cms", DATABASE_PGBOUNCER=True)
    direct = Settings(
        DATABASE_URL="postgres://bouncer:6432/cms",
        DATABASE_PGBOUNCER=True,
        DATABASE_DIRECT_URL="postgres://db:5432/cms",
    )
    assert direct.database_direct_url == "postgres://db:5432/cms"
