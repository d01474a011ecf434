"""DATABASE_READ_URL: anonymous queries read from a real streaming standby while it is fresh, never longer.

A private PostgreSQL primary (tests/support/pg_cluster.py) feeds a standby by streaming replication; one `cms serve`
has DATABASE_URL on the primary and DATABASE_READ_URL on the standby, with the public response cache on. Pausing
the standby's WAL replay makes it lag on demand. What the documented bound promises (docs/deploy.md):
- an anonymous read never shows data older than CMS_READ_REPLICA_MAX_LAG_SECONDS (a change made behind the API's
  back, without a notification, shows from the primary once the replica is that far behind);
- a change the API was notified of (every publish, unpublish and edit) is never hidden by a lagging replica, the
  response cache included;
- signed-in callers always read the primary, and a replica that is down costs no read;
- a replica that stalls (its processes stopped) holds the reads in flight on it only for its short bound, then the
  primary answers them; SELECTs with side effects (locks, sequences, notifications) never go to the replica; the
  probe's SQL is not traced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cms.core.replica import ReplicaProbe, replica_safe
from cms.core.settings import Settings
from cms.core.tracing import configure_tracing, shutdown_tracing
from tests.support.api import Api, operation
from tests.support.oidc_issuer import TestIssuer
from tests.support.pg_cluster import PrivatePostgres
from tests.support.processes import Process, eventually
from tests.support.serve import serve_process, server_env

MAX_LAG = 2.0  # CMS_READ_REPLICA_MAX_LAG_SECONDS of the server under test
PROGRAM = operation("Program")
NO_CACHE = {"cache-control": "no-cache"}  # computed now, from the database: not a cached answer


@dataclass
class Cluster:
    primary: PrivatePostgres
    standby: PrivatePostgres
    server: Process
    url: str

    def caught_up(self) -> bool:
        return self.standby.caught_up(self.primary.current_lsn())


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replica")


@pytest.fixture(scope="module")
def pg(log_dir: Path) -> Iterator[tuple[PrivatePostgres, PrivatePostgres]]:
    with PrivatePostgres(log_dir, replication=True) as primary:
        yield primary, primary.start_replica()


@pytest.fixture(scope="module")
async def cluster(
    pg: tuple[PrivatePostgres, PrivatePostgres], settings: Settings, issuer: TestIssuer, log_dir: Path
) -> AsyncIterator[Cluster]:
    primary, standby = pg
    env = server_env(
        f"postgres://postgres@127.0.0.1:{primary.port}/cms",
        redis_url=str(settings.redis_url),
        data_dir=log_dir / "data",
        issuer=issuer,
    )
    env |= {
        "DATABASE_READ_URL": f"postgres://postgres@127.0.0.1:{standby.port}/cms",
        "CMS_READ_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "CMS_PUBLIC_CACHE_SECONDS": "300",  # long-lived: a stale entry would show
    }
    async with serve_process("serve-replica", env, log_dir) as served:
        yield Cluster(primary, standby, served.process, served.url)


@pytest.fixture
async def api(cluster: Cluster, issuer: TestIssuer) -> AsyncIterator[Api]:
    """The suite's `api`, against this module's server (and without its truncation of the suite's database)."""
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as client:
        yield Api(client, issuer)
    if not cluster.standby.running():
        cluster.standby.start()
    cluster.standby.resume_replay()


async def published_program(api: Api, title: str) -> dict[str, Any]:
    slug = f"replica-{uuid.uuid4().hex[:10]}"
    created = (await api.data(operation("CreateProgram"), {"input": {"title": title, "slug": slug}}, role="editor"))[
        "createProgram"
    ]
    assert created["__typename"] == "Program", created
    published = (await api.data(operation("PublishProgram"), {"id": created["id"]}, role="editor"))["publishProgram"]
    assert published["status"] == "PUBLISHED", published
    return created


async def anonymous_program(api: Api, slug: str, *, fresh: bool = False) -> dict[str, Any] | None:
    """The program as an anonymous reader sees it (`fresh`: bypassing the response cache)."""
    response = await api.client.post(
        "/graphql", json={"query": PROGRAM, "variables": {"slug": slug}}, headers=NO_CACHE if fresh else {}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]["program"]


async def anonymous_title(api: Api, slug: str) -> str | None:
    program = await anonymous_program(api, slug, fresh=True)
    return program["title"] if program else None


async def change_title_behind_the_api(cluster: Cluster, slug: str, title: str) -> None:
    """An UPDATE on the primary that sends no notification (as a script or another tool might)."""
    conn = await asyncpg.connect(host="127.0.0.1", port=cluster.primary.port, user="postgres", database="cms")
    try:
        assert await conn.execute("UPDATE program SET title = $1 WHERE slug = $2", title, slug) == "UPDATE 1"
    finally:
        await conn.close()


async def stale_read_from_the_replica(cluster: Cluster, api: Api, slug: str) -> tuple[str, str]:
    """Proof that anonymous reads come from the replica: pause its replay, rename the program on the primary behind
    the API's back, and read the old title anonymously (the primary has only the new one). Tried again (replay
    resumed, caught up) until it shows, since the API may not have found the replica fresh yet. Returns (old, new);
    replay stays paused."""
    renames = 0

    async def attempt() -> tuple[str, str] | None:
        nonlocal renames
        cluster.standby.resume_replay()
        await eventually(cluster.caught_up, what="the standby to catch up", processes=(cluster.server,))
        old = await anonymous_title(api, slug)
        assert old is not None
        cluster.standby.pause_replay()
        renames += 1
        new = f"Renamed {renames}"
        await change_title_behind_the_api(cluster, slug, new)
        return (old, new) if await anonymous_title(api, slug) == old else None

    return await eventually(attempt, what="an anonymous read served by the replica", attempts=30)


async def title_becomes(api: Api, slug: str, title: str, *, what: str, cluster: Cluster) -> None:
    async def shown() -> bool:
        return await anonymous_title(api, slug) == title

    await eventually(shown, what=what, processes=(cluster.server,))


async def test_anonymous_reads_come_from_the_replica_until_it_lags_past_the_bound(cluster: Cluster, api: Api) -> None:
    slug = (await published_program(api, "Streaming Show"))["slug"]
    old, new = await stale_read_from_the_replica(cluster, api, slug)
    # A signed-in reader reads the primary.
    signed_in = await api.data(PROGRAM, {"slug": slug}, role="viewer")
    assert signed_in["program"]["title"] == new
    # Once the standby is more than MAX_LAG behind, anonymous reads go to the primary (it still replays nothing).
    paused_at = cluster.standby.replay_lsn()
    await title_becomes(api, slug, new, what="anonymous reads to leave the lagging replica", cluster=cluster)
    assert cluster.standby.replay_lsn() == paused_at
    assert cluster.standby.sql(f"SELECT title FROM program WHERE slug = '{slug}'", database="cms") == old


async def test_an_unpublished_item_is_not_shown_by_a_lagging_replica(cluster: Cluster, api: Api) -> None:
    """The visibility check: unpublished on the primary while the replica, in use, is stuck showing it published."""
    program = await published_program(api, "Soon Withdrawn")
    slug = program["slug"]
    assert await anonymous_program(api, slug) is not None
    assert await anonymous_program(api, slug) is not None  # in the response cache now
    await stale_read_from_the_replica(cluster, api, slug)  # replay paused, anonymous reads on the replica
    unpublished = await api.data(operation("UnpublishProgram"), {"id": program["id"]}, role="editor")
    assert unpublished["unpublishProgram"]["status"] == "DRAFT", unpublished
    # The standby still has it published; it must not show through it, from the cache or not.
    assert cluster.standby.sql(f"SELECT status FROM program WHERE slug = '{slug}'", database="cms") == "PUBLISHED"

    async def hidden() -> bool:
        return await anonymous_program(api, slug) is None and await anonymous_program(api, slug, fresh=True) is None

    await eventually(hidden, what="the unpublished program to disappear", processes=(cluster.server,))
    # And it stays hidden past the documented bound, the replica still paused and still showing it.
    for _ in range(int((MAX_LAG + 1) / 0.25)):
        assert await hidden()
        await asyncio.sleep(0.25)
    assert cluster.standby.sql(f"SELECT status FROM program WHERE slug = '{slug}'", database="cms") == "PUBLISHED"


async def test_reads_are_answered_while_the_replica_is_down(cluster: Cluster, api: Api) -> None:
    slug = (await published_program(api, "Always Answered"))["slug"]
    old, new = await stale_read_from_the_replica(cluster, api, slug)
    cluster.standby.resume_replay()
    await eventually(cluster.caught_up, what="the standby to catch up")
    cluster.standby.stop("immediate")
    for _ in range(20):  # the first ones meet the replica's dead connections: the primary answers them
        assert await anonymous_title(api, slug) == new
    cluster.standby.start()
    # Back in use once it is up and fresh again.
    await stale_read_from_the_replica(cluster, api, slug)


def test_replica_settings_need_a_primary_and_postgres_urls() -> None:
    with pytest.raises(ValueError, match="DATABASE_READ_URL needs DATABASE_URL"):
        Settings(DATABASE_READ_URL="postgres://replica/cms")
    with pytest.raises(ValueError, match="postgres://"):
        Settings(DATABASE_URL="postgres://primary/cms", DATABASE_READ_URL="mysql://replica/cms")
    assert Settings(DATABASE_URL="postgres://primary/cms", DATABASE_READ_URL=" ").database_read_url is None


def _stall(server: PrivatePostgres, sig: signal.Signals) -> None:
    """Send `sig` to the server's postmaster and every process it started (SIGSTOP: a server that stopped
    answering, with its connections still open)."""
    postmaster = server._postmaster_pid()
    assert postmaster is not None
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def test_a_stalled_replica_holds_reads_only_for_its_short_bound(cluster: Cluster, api: Api) -> None:
    """The replica stops answering (its processes stopped, connections open): the reads already routed to it are
    answered by the primary after the replica's bound (a second past max(1 s, the lag bound)), not after the
    primary's statement bound; httpx's 30 s timeout is the hang detector."""
    slug = (await published_program(api, "Stalled Standby"))["slug"]
    # Anonymous reads are on the replica right now (it answers the old title, the primary has only the new one).
    old, new = await stale_read_from_the_replica(cluster, api, slug)
    _stall(cluster.standby, signal.SIGSTOP)
    try:
        titles = await asyncio.gather(*(anonymous_title(api, slug) for _ in range(8)))
        assert titles == [new] * 8  # the primary's, after the replica did not answer
        # The server's writer thread puts the line in its log a moment after the answers.
        await eventually(
            lambda: "read replica failed a read (TimeoutError" in cluster.server.tail(400),
            what="the replica's failure in the server log",
            processes=(cluster.server,),
        )
    finally:
        _stall(cluster.standby, signal.SIGCONT)
    await stale_read_from_the_replica(cluster, api, slug)  # back in use


def test_selects_with_side_effects_never_go_to_the_replica() -> None:
    for query in (
        'SELECT "id","title" FROM "program" WHERE "slug"=$1 LIMIT $2',
        "  select count(*) from episode",
        "SELECT 1",
        "SELECT title FROM program WHERE note = 'information'",  # words that merely contain a keyword
    ):
        assert replica_safe(query), query
    for query in (
        'SELECT "id" FROM "job" WHERE "status"=$1 FOR UPDATE SKIP LOCKED',
        "SELECT * FROM program FOR NO KEY UPDATE",
        "SELECT * FROM program FOR SHARE",
        "SELECT * FROM program for key share",
        "SELECT pg_notify('cms_changes', 'x')",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_xact_lock(1)",
        "SELECT nextval('program_id_seq')",
        "SELECT setval('program_id_seq', 5)",
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT txid_current()",
        "SELECT * INTO copy_of_program FROM program",
        "SELECT 1; DELETE FROM program",
        "SELECTED",  # not a SELECT at all
        "UPDATE program SET title = 'x'",
        "WITH gone AS (DELETE FROM program RETURNING id) SELECT count(*) FROM gone",
    ):
        assert not replica_safe(query), query


@dataclass
class _Feed:
    generation: int = 0
    live: bool = True


async def test_the_probe_exports_no_sql_spans(cluster: Cluster, settings: Settings) -> None:
    shutdown_tracing()
    exporter = InMemorySpanExporter()
    configure_tracing(settings, "cms-api", exporter=exporter)
    try:
        cluster.standby.resume_replay()
        probe = ReplicaProbe(
            primary=cluster.primary.target, replica=cluster.standby.target, max_lag=MAX_LAG, changes=_Feed()
        )
        task = asyncio.create_task(probe.run())
        try:
            await eventually(lambda: probe.status()["state"] == "fresh", what="the probe to find the replica fresh")
            rounds = 0

            async def several_rounds() -> bool:
                nonlocal rounds
                rounds += 1
                return rounds > 8 and probe.status()["state"] == "fresh"

            await eventually(several_rounds, what="more probe rounds")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await probe._close()
        # SQL outside the probe is traced in this process (the instrumentation is on)...
        conn = await cluster.primary.target.connect()
        try:
            await conn.fetchval("SELECT 'traced'")
        finally:
            await conn.close()
        statements = [str((s.attributes or {}).get("db.statement", "")) for s in exporter.get_finished_spans()]
        assert any("traced" in statement for statement in statements), statements
        # ...and none of the probe's WAL position queries is.
        assert not [statement for statement in statements if "wal" in statement], statements
    finally:
        shutdown_tracing()
