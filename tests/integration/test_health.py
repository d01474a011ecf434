"""Health probes: /livez (the process), /readyz (database, storage, Redis, each with its state), /health and /ready
as aliases; a probe storm costs each part one check per second. A part that hangs (a ping stuck in its thread, an S3
that accepts connections and never answers) is a `timeout` answered in time, with one probe in flight at most; the
checks make no trace spans; behind PgBouncer the database checked is PgBouncer. What /readyz says while each part
is really away is in tests/integration/test_degradation.py."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.core.tracing import configure_tracing, shutdown_tracing
from cms.http.health import Readiness
from cms.media.storage import Area, LocalStorage, Storage, run_blocking
from cms.media.storage.s3 import S3Storage
from tests.support.api import Api
from tests.support.black_hole import BlackHole
from tests.support.oidc_issuer import TestIssuer
from tests.support.pgbouncer import serve_behind_pgbouncer
from tests.support.processes import eventually
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, MotoS3

PARTS = {"database", "storage", "redis"}
HANG = 30.0  # seconds: a hang detector, not a performance limit


async def test_livez_answers_for_the_process_alone(api: Api) -> None:
    for path in ("/livez", "/health"):
        response = await api.client.get(path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"}), path
        assert response.headers["cache-control"] == "no-store"


async def test_readyz_lists_each_part_with_its_state_and_latency(api: Api) -> None:
    for path in ("/readyz", "/ready"):
        response = await api.client.get(path)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ready" and body["database"] is True, body
        assert set(body["checks"]) == PARTS
        for name, check in body["checks"].items():
            assert check["status"] == "ok" and "error" not in check, (name, check)
            assert isinstance(check["latency_ms"], float | int) and check["latency_ms"] >= 0
        assert response.headers["cache-control"] == "no-store"


@contextlib.asynccontextmanager
async def readiness_of(
    settings: Settings, storage: Storage, db_target: PgTarget, *, ttl: float = 0
) -> AsyncIterator[Readiness]:
    """A readiness check of `storage` and the test database, closed on exit."""
    readiness = Readiness(settings, storage, lambda: db_target, ttl=ttl)
    try:
        yield readiness
    finally:
        await readiness.aclose()


class CountingStorage(LocalStorage):
    """Real local storage that counts its readiness pings."""

    pings = 0

    async def ping(self) -> None:
        self.pings += 1
        await asyncio.sleep(0.05)  # a slow answer: concurrent callers arrive while it runs
        await super().ping()


async def test_a_probe_storm_checks_each_part_once_per_interval(
    settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    storage = CountingStorage(tmp_path / "storage")
    async with readiness_of(settings, storage, db_target, ttl=0.5) as readiness:
        reports = await asyncio.gather(*(readiness.report() for _ in range(200)))
        assert {code for code, _ in reports} == {200}
        assert storage.pings == 1  # 200 callers shared one run
        again = await readiness.report()  # within the interval: the cached answer
        assert again[0] == 200 and storage.pings == 1
        await asyncio.sleep(0.6)
        await readiness.report()
        assert storage.pings == 2


async def test_a_missing_storage_directory_makes_the_process_unready(
    settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    async with readiness_of(settings, LocalStorage(tmp_path / "storage"), db_target) as readiness:
        assert (await readiness.report())[0] == 200
        (tmp_path / "storage" / "previews").rmdir()  # as a lost mount would look
        code, body = await readiness.report()
        assert code == 503 and body["status"] == "unavailable", body
        assert body["checks"]["storage"]["status"] == "error"
        assert "previews directory is missing" in body["checks"]["storage"]["error"]
        assert body["checks"]["database"]["status"] == "ok" and body["database"] is True


# --- A part that hangs: /readyz still answers -------------------------------------------------------------------


def quick(settings: Settings, timeout: float = 0.3) -> Settings:
    return settings.model_copy(update={"ready_timeout_seconds": timeout})


class HungStorage(LocalStorage):
    """Real local storage whose ping blocks in its thread until released, as a stat on a hung mount does."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.released = threading.Event()
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        await run_blocking(self.released.wait)
        await super().ping()


async def test_a_storage_check_stuck_in_its_thread_is_a_timeout_and_not_repeated(
    settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    storage = HungStorage(tmp_path / "storage")
    async with readiness_of(quick(settings), storage, db_target) as readiness:
        try:
            # The hang detector only: waiting for the stuck thread would never end before it is released.
            code, body = await asyncio.wait_for(readiness.report(), HANG)
            assert code == 503 and body["checks"]["storage"]["status"] == "timeout", body
            assert body["checks"]["database"]["status"] == "ok"
            code, body = await asyncio.wait_for(readiness.report(), HANG)
            assert code == 503 and body["checks"]["storage"]["status"] == "timeout", body
            assert storage.pings == 1  # the next checks wait on the stuck probe: one thread, not one per probe
            storage.released.set()  # the mount answers again
            await eventually(lambda: _ready(readiness), what="/readyz ready once the ping returns")
            assert storage.pings == 2
        finally:
            storage.released.set()  # before the check closes


async def _ready(readiness: Readiness) -> bool:
    return (await asyncio.wait_for(readiness.report(), HANG))[0] == 200


async def test_an_s3_that_accepts_and_never_answers_is_a_timeout(
    settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    with BlackHole() as hole:
        storage = S3Storage(
            hole.url,
            {area: f"hung-{area.value}" for area in Area},
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            ping_timeout=0.3,
        )
        try:
            async with readiness_of(quick(settings), storage, db_target) as readiness:
                for _ in range(3):
                    code, body = await asyncio.wait_for(readiness.report(), HANG)
                    assert code == 503 and body["status"] == "unavailable", body
                    assert body["checks"]["storage"]["status"] == "timeout", body
                    assert body["checks"]["database"]["status"] == "ok", body
                assert hole.accepted  # the check really reached it, and was answered by nothing
        finally:
            await storage.close()


# --- No trace per probe ------------------------------------------------------------------------------------------


async def test_readiness_checks_make_no_spans(settings: Settings, db_target: PgTarget) -> None:
    shutdown_tracing()
    exporter = InMemorySpanExporter()
    configure_tracing(settings, "cms-api", exporter=exporter)
    try:
        with MotoS3() as s3:
            storage = S3Storage(s3.endpoint_url, s3.create_buckets(), access_key=ACCESS_KEY, secret_key=SECRET_KEY)
            exporter.clear()  # the buckets' creation
            try:
                async with readiness_of(settings, storage, db_target) as readiness:
                    for _ in range(3):
                        code, body = await readiness.report()
                        assert code == 200 and body["status"] == "ready", body
                    assert [span.name for span in exporter.get_finished_spans()] == []
                    # The instrumentations are on: the same clients outside a check do make spans.
                    await storage.stat(Area.STAGING, "absent")
                    conn = await db_target.connect()
                    try:
                        await conn.execute("SELECT 1")
                    finally:
                        await conn.close()
                    names = [span.name for span in exporter.get_finished_spans()]
                    assert any(name.startswith("S3.") for name in names), names
                    assert any("SELECT" in name for name in names), names
            finally:
                await storage.close()
    finally:
        shutdown_tracing()


# --- PgBouncer: the database the requests use ------------------------------------------------------------------


async def test_readyz_checks_the_database_through_pgbouncer(
    pg_server: PgTarget, settings: Settings, issuer: TestIssuer, tmp_path: Path
) -> None:
    async with serve_behind_pgbouncer(
        pg_server, redis_url=str(settings.redis_url), issuer=issuer, log_dir=tmp_path, name="serve-ready-bouncer"
    ) as bounced:
        bounced.bouncer.stop()  # the direct URL stays up: only PgBouncer goes away
        async with httpx.AsyncClient(base_url=bounced.served.url, timeout=HANG) as client:

            async def unready() -> dict[str, Any] | None:
                response = await client.get("/readyz")
                return response.json() if response.status_code == 503 else None

            body = await eventually(unready, what="/readyz 503 without PgBouncer", processes=(bounced.served.process,))
            assert body["database"] is False and body["checks"]["database"]["status"] != "ok", body
            assert body["checks"]["storage"]["status"] == "ok", body
