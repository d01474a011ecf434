"""CMS_MIGRATE_ON_START=false, as the Kubernetes deployment runs it: `cms serve` leaves the schema alone, and
`cms migrate` (the deploy step) brings it up to date under the running server."""

from __future__ import annotations

from pathlib import Path

import httpx

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support.processes import run_cms
from tests.support.serve import cms_serve

PROGRAMS = '{"query": "{ programs(first: 1) { totalCount } }"}'


async def _tables(target: PgTarget) -> set[str]:
    conn = await target.connect()
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


async def test_serve_leaves_migrations_to_the_migrate_step(
    pg_server: PgTarget, settings: Settings, tmp_path: Path
) -> None:
    env = {"CMS_MIGRATE_ON_START": "false"}
    async with cms_serve(pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path, env=env) as served:
        target = PgTarget.from_url(served.env["DATABASE_URL"])
        assert "program" not in await _tables(target)  # started, ready, and nothing migrated

        applied = run_cms("migrate", env=served.env).stdout
        assert "applied" in applied and "program" in await _tables(target)

        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            answer = await client.post("/graphql", content=PROGRAMS, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"programs": {"totalCount": 0}}}
        # Run again, nothing is pending.
        assert run_cms("migrate", env=served.env).stdout.startswith("applied 0 migration(s)")
