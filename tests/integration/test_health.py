"""Health probes: /livez (the process), /readyz (database, storage, Redis, each with its state), /health and /ready
as aliases; a probe storm costs each part one check per second. What /readyz says while each part is really away
is in tests/integration/test_degradation.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.http.health import Readiness
from cms.media.storage import LocalStorage
from tests.support.api import Api

PARTS = {"database", "storage", "redis"}


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
    readiness = Readiness(settings, storage, lambda: db_target, ttl=0.5)
    try:
        reports = await asyncio.gather(*(readiness.report() for _ in range(200)))
        assert {code for code, _ in reports} == {200}
        assert storage.pings == 1  # 200 callers shared one run
        again = await readiness.report()  # within the interval: the cached answer
        assert again[0] == 200 and storage.pings == 1
        await asyncio.sleep(0.6)
        await readiness.report()
        assert storage.pings == 2
    finally:
        await readiness.aclose()


async def test_a_missing_storage_directory_makes_the_process_unready(
    settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "storage")
    readiness = Readiness(settings, storage, lambda: db_target, ttl=0)
    try:
        assert (await readiness.report())[0] == 200
        (tmp_path / "storage" / "previews").rmdir()  # as a lost mount would look
        code, body = await readiness.report()
        assert code == 503 and body["status"] == "unavailable", body
        assert body["checks"]["storage"]["status"] == "error"
        assert "previews directory is missing" in body["checks"]["storage"]["error"]
        assert body["checks"]["database"]["status"] == "ok" and body["database"] is True
    finally:
        await readiness.aclose()
