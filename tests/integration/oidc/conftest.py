"""Fixtures for OIDC against a real Keycloak: one server per test session, started only when a test asks for it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support import database
from tests.support.jobs import database_url
from tests.support.keycloak import Keycloak
from tests.support.processes import child_env, cms, free_port, wait_http

# How an operator would map Keycloak realm roles: the CMS names as they are, plus one IdP-specific role.
ROLE_MAP = "admin:admin,editor:editor,viewer:viewer,cms-editors:editor"


@pytest.fixture(scope="session")
async def keycloak_db(pg_server: PgTarget) -> AsyncIterator[PgTarget]:
    target = await database.create_database(pg_server, prefix="cms_keycloak")
    try:
        yield target
    finally:
        await database.drop_database(target)


@pytest.fixture(scope="session")
async def keycloak_app(
    keycloak: Keycloak, keycloak_db: PgTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """`cms serve` configured for the Keycloak realm, as an operator would deploy it; yields its base URL.

    A process of its own: only one app can hold Tortoise's global context in the test process.
    Leeway 0 so an expired token is refused as soon as it expires.
    """
    logs = tmp_path_factory.mktemp("keycloak-app")
    port = free_port()
    env = child_env(
        {
            "DATABASE_URL": database_url(keycloak_db),
            "REDIS_URL": str(settings.redis_url),
            "CMS_QUEUE_NAME": f"cms-test-keycloak:{uuid.uuid4().hex[:12]}",
            "CMS_DATA_DIR": str(logs / "data"),
            "OIDC_ISSUER": keycloak.issuer,
            "OIDC_AUDIENCE": "cms",
            "OIDC_ROLE_MAP": ROLE_MAP,
            "OIDC_LEEWAY_SECONDS": "0",
        }
    )
    server = cms("serve", "serve", "--no-worker", "--port", str(port), "--log-level", "warning", env=env, log_dir=logs)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/ready", server)
        yield url
    finally:
        server.stop()
