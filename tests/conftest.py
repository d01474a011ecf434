"""Shared fixtures: a real PostgreSQL database per test run, a test OIDC issuer over HTTP, the app on loopback,
and a real OpenSearch node for the tests that ask for one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from cms.app import create_app
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.services import Services
from search.postgres.backend import TABLES as SEARCH_TABLES
from tests.support import database
from tests.support.api import Api
from tests.support.keycloak import Keycloak
from tests.support.oidc_issuer import TestIssuer
from tests.support.opensearch import OpenSearchNode
from tests.support.server import LiveServer
from tests.support.sql import QueryCounter

# Emptied after each test, with the search backend's own (SEARCH_TABLES).
TABLES = (
    "comment",
    "audit_entry",
    "upload",
    "job",
    "outbox_event",
    "ingest_source_run",
    "ingest_source",
    "asset",
    "episode",
    "program",
    "cms_user",
)


@pytest.fixture(scope="session")
async def pg_server() -> PgTarget:
    return await database.server_target()


@pytest.fixture(scope="session")
async def db_target(pg_server: PgTarget) -> AsyncIterator[PgTarget]:
    target = await database.create_database(pg_server)
    yield target
    await database.drop_database(target)


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    with TestIssuer() as running:
        yield running


@pytest.fixture(scope="session")
def keycloak() -> Iterator[Keycloak]:
    """One real Keycloak for the whole run (the OIDC tests and the admin's browser tests), started on first use.
    No skip: Java and Maven are part of the test set-up, and a Keycloak that cannot start is a failure."""
    with Keycloak() as running:
        yield running


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """OPENSEARCH_URL when set (an outside cluster), else a node of this run's own, started on first use."""
    if url := os.environ.get("OPENSEARCH_URL"):
        yield url
        return
    node = OpenSearchNode().start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def settings(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # Redis is shared with other runs: a queue name of our own, and never a FLUSHALL.
    return Settings(
        CMS_DATA_DIR=tmp_path_factory.mktemp("data"),
        OIDC_ISSUER=issuer.url,
        OIDC_AUDIENCE="cms",
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379"),
        CMS_QUEUE_NAME=f"cms-test:{uuid.uuid4().hex[:12]}",
        # A long-lived public cache for the whole suite: any read that could be stale would show up as a failure.
        CMS_PUBLIC_CACHE_SECONDS=300,
        # Rate limits off for the suite (all its callers share 127.0.0.1); tests/integration/test_rate_limits.py
        # runs its own app with them on. The query cost limit stays on, at its default.
        CMS_RATE_LIMIT_ENABLED=False,
    )


@pytest.fixture(scope="session")
async def live_server(settings: Settings, db_target: PgTarget) -> AsyncIterator[LiveServer]:
    server = await LiveServer(create_app(Services(settings, database=db_target))).start()
    yield server
    await server.stop()


@pytest.fixture
async def api(live_server: LiveServer, issuer: TestIssuer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield Api(client, issuer)
    # Each test starts from empty tables: the schema stays, the rows go.
    await database.empty_tables([*TABLES, *SEARCH_TABLES])


@pytest.fixture
def count_queries() -> type[QueryCounter]:
    return QueryCounter
