"""Several machines' worth of the product on loopback: N `cms serve` APIs and M `cms worker`s sharing one
PostgreSQL database, one Redis and one S3 (moto), each process with a data directory of its own.

    async with Cluster(log_dir=tmp_path, apis=2, workers=2) as cluster:
        token = cluster.token("editor")
        ... httpx against cluster.api_urls[0] and [1] ...
        cluster.kill_worker(0); cluster.restart_worker(0)

Tokens come from a TestIssuer (an OIDC provider over HTTP) that every process trusts: the development issuer
keeps its key under one data directory, and here each process has its own (so a test can check that no media
lands on an API's disk). The edge signing key is given explicitly for the same reason. The public cache is on
(a long TTL, so a missed invalidation shows), rate limits off (every caller is 127.0.0.1).

Every process logs to `log_dir/<name>.log`; when the block fails, the log directory and the tail of each log are
added to the exception. Everything the cluster started (processes, moto, Redis, the issuer, the database it
created) is stopped on exit, errors included.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from cms.core.db import PgTarget
from cms.media.storage import Area
from tests.support import database as pg
from tests.support.jobs import database_url
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import (
    CMS,
    PrivateRedis,
    Process,
    child_env,
    cms,
    free_port,
    run_cms,
    wait_http,
)
from tests.support.s3 import MotoS3

ROLES = ("admin", "editor", "viewer")


class MotoProcess(MotoS3):
    """moto's S3 server as a child process (`moto_server`), not a thread of the caller: a load generator in the
    same process would otherwise share its GIL with every S3 request the workers make."""

    def __init__(self, log_dir: Path) -> None:  # no super().__init__: that builds the threaded server
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: Process | None = None

    def __enter__(self) -> MotoProcess:
        argv = [str(CMS.with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = Process(f"moto-{self.port}", argv, env=child_env({}), log_dir=self.log_dir)
        return self

    async def ready(self) -> None:
        assert self.process is not None
        await wait_http(f"{self.endpoint_url}/", self.process)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


class Cluster:
    """See the module docstring. Give `database` (a PgTarget, migrated here) or `pg_server` (a fresh database is
    created on it and dropped on exit; default: the suite's server), `redis_url` (default: a private
    redis-server), `issuer` (default: one of its own), `s3` (a running MotoS3; default: moto as a process) and
    `env` (extra settings for every process)."""

    def __init__(
        self,
        *,
        log_dir: Path,
        apis: int = 2,
        workers: int = 2,
        pg_server: PgTarget | None = None,
        database: PgTarget | None = None,
        redis_url: str | None = None,
        issuer: TestIssuer | None = None,
        s3: MotoS3 | None = None,
        env: Mapping[str, str] = {},
        public_cache_seconds: float = 300,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.api_count = apis
        self.worker_count = workers
        self.extra_env = dict(env)
        self.public_cache_seconds = public_cache_seconds
        self._pg_server = pg_server
        self._given_database = database
        self._given_redis = redis_url
        self._given_issuer = issuer
        self._given_s3 = s3
        self._stack = contextlib.ExitStack()
        self._created_database: PgTarget | None = None
        self._redis: PrivateRedis | None = None
        self.database: PgTarget | None = None  # the database every process shares: connect() for direct SQL
        self.redis_url = ""
        self.issuer: TestIssuer | None = None
        self.s3: MotoS3 | None = None
        self.buckets: dict[Area, str] = {}
        self.queue_name = f"cms-cluster:{uuid.uuid4().hex[:12]}"
        self.edge_keys = f"cluster:{secrets.token_urlsafe(32)}"
        self.api_urls: list[str] = []
        self.apis: list[Process] = []
        self.workers: list[Process] = []
        self.others: list[Process] = []  # started with start_process
        self._restarts: dict[str, int] = {}

    # -- start and stop ----------------------------------------------------------

    async def __aenter__(self) -> Cluster:
        try:
            await self._start()
        except BaseException as exc:
            self._note_logs(exc)
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._note_logs(exc)
        await self._stop()

    async def _start(self) -> None:
        self.issuer = self._given_issuer or self._stack.enter_context(TestIssuer())
        if self._given_s3 is not None:
            self.s3 = self._given_s3
        else:
            moto = self._stack.enter_context(MotoProcess(self.log_dir))
            await moto.ready()
            self.s3 = moto
        self.buckets = self.s3.create_buckets("cluster")
        if self._given_redis:
            self.redis_url = self._given_redis
        else:
            self._redis = PrivateRedis(self.log_dir).start()
            self.redis_url = self._redis.url
        if self._given_database is not None:
            self.database = self._given_database
        else:
            server = self._pg_server or await pg.server_target()
            self.database = self._created_database = await pg.create_database(server, prefix="cms_cluster")
        run_cms("migrate", env=self.env("migrate"))
        for _ in range(self.api_count):
            self.start_api()
        for _ in range(self.worker_count):
            self.start_worker()
        for url, api in zip(self.api_urls, self.apis, strict=True):
            await wait_http(f"{url}/ready", api)
        for worker in self.workers:
            if not worker.alive():
                raise AssertionError(f"{worker.name} exited during startup\n{worker.tail()}")

    async def _stop(self) -> None:
        # Each step on its own: one that fails must not leave the others running. SIGTERM to all first, so they
        # shut down side by side rather than one after the other.
        everything = [*self.others, *self.workers, *self.apis]
        for process in everything:
            with contextlib.suppress(Exception):
                process.kill(signal.SIGTERM)
        for process in everything:
            with contextlib.suppress(Exception):
                process.stop()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.kill()
        with contextlib.suppress(Exception):
            self._stack.close()
        if self._created_database is not None:
            with contextlib.suppress(Exception):
                await pg.drop_database(self._created_database)
            self._created_database = None

    # -- configuration -----------------------------------------------------------

    @property
    def database_url(self) -> str:
        assert self.database is not None, "the cluster is not started"
        return database_url(self.database)

    def data_dir(self, name: str) -> Path:
        """The CMS_DATA_DIR of the process called `name`."""
        return self.log_dir / "data" / name

    def env(self, name: str, **extra: str) -> dict[str, str]:
        """The environment of a `cms` process called `name` in this cluster (its own data directory), with
        `extra` on top; for processes a test starts itself (`cms import`, a third worker, a wrapper module)."""
        assert self.issuer is not None and self.s3 is not None, "the cluster is not started"
        return child_env(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CMS_QUEUE_NAME": self.queue_name,
                "CMS_DATA_DIR": str(self.data_dir(name)),
                **self.s3.env(self.buckets),
                "OIDC_ISSUER": self.issuer.url,
                "OIDC_AUDIENCE": "cms",
                "EDGE_KEYS": self.edge_keys,
                "CMS_INLINE_WORKER": "false",
                "CMS_PUBLIC_CACHE_SECONDS": str(self.public_cache_seconds),
                "CMS_RATE_LIMIT_ENABLED": "false",
                # A killed worker's job is taken over within 30 s. The requeue interval stays at its default: a
                # short one hands every job still waiting in a long queue over again each interval.
                "CMS_JOB_POLL_SECONDS": "0.2",
                "CMS_JOB_LEASE_SECONDS": "30",
                **self.extra_env,
                **extra,
            }
        )

    def _name(self, base: str) -> str:
        """base, then base-r1, base-r2 ... for a restarted process (its log file is a new one)."""
        count = self._restarts.get(base)
        self._restarts[base] = 0 if count is None else count + 1
        return base if count is None else f"{base}-r{count + 1}"

    # -- processes ---------------------------------------------------------------

    @property
    def processes(self) -> tuple[Process, ...]:
        """Every live-or-dead process the cluster runs now (APIs, workers, extras); for `eventually(processes=)`."""
        return (*self.apis, *self.workers, *self.others)

    def start_api(self) -> Process:
        """One more `cms serve --no-worker` on a free port (not waited for: `await wait_http(url/ready, p)`)."""
        index = len(self.apis)
        port = free_port()
        name = f"api-{index}"
        process = cms(
            self._name(name),
            "serve",
            "--no-worker",
            "--port",
            str(port),
            "--log-level",
            "warning",
            env=self.env(name),
            log_dir=self.log_dir,
        )
        self.apis.append(process)
        self.api_urls.append(f"http://127.0.0.1:{port}")
        return process

    def start_worker(self) -> Process:
        name = f"worker-{len(self.workers)}"
        process = cms(self._name(name), "worker", env=self.env(name), log_dir=self.log_dir)
        self.workers.append(process)
        return process

    def kill_worker(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Kill worker `index` (SIGKILL by default: no cleanup, its leases expire) and wait for it to exit."""
        worker = self.workers[index]
        worker.kill(sig)
        worker.popen.wait(30)

    def restart_worker(self, index: int) -> Process:
        """Stop worker `index` if it still runs and start a new one in its place (same data directory)."""
        self.workers[index].stop()
        name = f"worker-{index}"
        process = cms(self._name(name), "worker", env=self.env(name), log_dir=self.log_dir)
        self.workers[index] = process
        return process

    def start_process(self, name: str, argv: list[str], **extra: str) -> Process:
        """Any other child (a wrapper module, a one-off `cms` command) with this cluster's environment; stopped
        with the cluster."""
        process = Process(self._name(name), argv, env=self.env(name, **extra), log_dir=self.log_dir)
        self.others.append(process)
        return process

    # -- tokens and inspection ---------------------------------------------------

    def token(self, role: str, sub: str | None = None, *, ttl: int = 3600) -> str:
        """A bearer token for `role` (admin, editor, viewer) from the issuer every process trusts."""
        assert self.issuer is not None, "the cluster is not started"
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        subject = sub or f"{role}-1"
        return self.issuer.mint(
            subject,
            (role,),
            exp_in=ttl,
            claims_extra={"name": f"{role.title()} {subject}", "email": f"{subject}@example.org"},
        )

    def headers(self, role: str | None, sub: str | None = None) -> dict[str, str]:
        """Authorization headers for `role`, none for anonymous (None)."""
        return {} if role is None else {"authorization": f"Bearer {self.token(role, sub)}"}

    def s3_client(self) -> Any:
        assert self.s3 is not None, "the cluster is not started"
        return self.s3.client()

    def files_on_disk(self, name: str) -> list[Path]:
        """Every file under the data directory of process `name` (e.g. "api-0"), to show no media lands there."""
        root = self.data_dir(name)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def logs(self, lines: int = 60) -> str:
        return "\n".join(p.tail(lines) for p in self.processes)

    def _note_logs(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            exc.add_note(f"cluster logs in {self.log_dir}\n{self.logs(40)}")
