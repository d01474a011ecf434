"""The admin app as deployed, for the browser tests: `cms serve` and `cms worker` as processes, S3 on moto,
Keycloak as the identity provider (the `cms-admin` public client, code flow with PKCE), a fresh database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cms.core.db import PgTarget
from tests.support import database
from tests.support.jobs import database_url
from tests.support.keycloak import Keycloak, allow_browser_client
from tests.support.processes import Process, child_env, cms, free_port, run_cms, wait_http
from tests.support.s3 import MotoS3

MiB = 1 << 20
PART = 5 * MiB  # S3's smallest part: files above the threshold go up in 5 MiB parts
ROLE_MAP = "admin:admin,editor:editor,viewer:viewer,cms-editors:editor"
ADMIN_BUILT = Path(__file__).resolve().parents[2] / "plugins" / "admin" / "static" / "index.html"


@dataclass(frozen=True)
class AdminSite:
    url: str  # the API and the admin app (/admin)
    keycloak: Keycloak
    s3_url: str
    processes: tuple[Process, ...]

    @property
    def admin(self) -> str:
        return f"{self.url}/admin/"

    def logs(self) -> str:
        return "\n".join(process.tail(60) for process in self.processes)


@contextlib.asynccontextmanager
async def admin_site(keycloak: Keycloak, pg_server: PgTarget, redis_url: str, work: Path) -> AsyncIterator[AdminSite]:
    if not ADMIN_BUILT.is_file():
        raise AssertionError(
            f"{ADMIN_BUILT} is missing: run `make admin` (npm ci and vite build), which `make test` does"
        )
    target = await database.create_database(pg_server, prefix="cms_admin_e2e")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    allow_browser_client(keycloak, url)
    processes: list[Process] = []
    try:
        with MotoS3() as moto:
            buckets = moto.create_buckets("admin")
            env = child_env(
                {
                    "DATABASE_URL": database_url(target),
                    "REDIS_URL": redis_url,
                    "CMS_QUEUE_NAME": f"cms-test-admin:{uuid.uuid4().hex[:12]}",
                    "CMS_DATA_DIR": str(work / "data"),
                    "PUBLIC_BASE_URL": url,
                    **moto.env(buckets),
                    "OIDC_ISSUER": keycloak.issuer,
                    "OIDC_AUDIENCE": "cms",
                    "OIDC_ROLE_MAP": ROLE_MAP,
                    "CMS_ADMIN_CLIENT_ID": "cms-admin",
                    "CMS_INLINE_WORKER": "false",
                    "CMS_MULTIPART_THRESHOLD_BYTES": str(PART),
                    "CMS_MULTIPART_PART_BYTES": str(PART),
                    "CMS_JOB_POLL_SECONDS": "0.2",
                }
            )
            run_cms("migrate", env=env)
            server = cms(
                "serve", "serve", "--no-worker", "--port", str(port), "--log-level", "warning", env=env, log_dir=work
            )
            processes.append(server)
            processes.append(cms("worker", "worker", env=env, log_dir=work))
            await wait_http(f"{url}/ready", server)
            yield AdminSite(url, keycloak, moto.endpoint_url, tuple(processes))
    finally:
        for process in processes:
            process.stop()
        await database.drop_database(target)
