"""A private PgBouncer (Debian's package) in transaction mode, in front of a test PostgreSQL.

`with PgBouncer(server, log_dir) as bouncer:` writes a config into a temporary directory and runs `pgbouncer` on a
free loopback port until the block ends (killed by id). `url(database)` reaches a database through it; `show(what)`
runs a SHOW command on its admin console. `serve_behind_pgbouncer` runs `cms serve` on a database of its own
through one. PgBouncer refuses to run as root: as root it runs as `postgres`, as
tests/support/pg_cluster.py does for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cms.core.db import PgTarget
from tests.support import database
from tests.support.jobs import database_url
from tests.support.oidc_issuer import TestIssuer
from tests.support.pg_cluster import _as_postgres, pg_bindir
from tests.support.processes import Process, child_env, free_port, wait_port
from tests.support.serve import Served, serve_process, server_env


class PgBouncer:
    def __init__(self, server: PgTarget, log_dir: Path, *, pool_size: int = 4) -> None:
        """`pool_size`: server connections per database and user: far fewer than the clients, so that they share."""
        self.server, self.log_dir, self.pool_size = server, log_dir, pool_size
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"cms-pgbouncer-{self.port}-"))
        self.process: Process | None = None
        self._runas = _as_postgres()

    def url(self, database: str) -> str:
        return f"postgres://{self.server.user}@127.0.0.1:{self.port}/{database}"

    def target(self, database: str) -> PgTarget:
        return PgTarget.from_url(self.url(database))

    def _write_config(self) -> Path:
        (self.dir / "users.txt").write_text(f'"{self.server.user}" ""\n')
        config = self.dir / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={self.server.host} port={self.server.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.dir / 'users.txt'}",
                    f"admin_users = {self.server.user}",
                    "pool_mode = transaction",
                    f"default_pool_size = {self.pool_size}",
                    "max_client_conn = 1000",
                    f"logfile = {self.dir / 'pgbouncer.log'}",
                    "",
                ]
            )
        )
        if self._runas:
            shutil.chown(self.dir, "postgres")
            for path in self.dir.iterdir():
                shutil.chown(path, "postgres")
        return config

    def start(self) -> PgBouncer:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        argv = [*self._runas, binary, str(self._write_config())]
        self.process = Process(f"pgbouncer-{self.port}", argv, env=child_env({}), log_dir=self.log_dir)
        wait_port(self.port, self.process, what="pgbouncer", detail=self.tail)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        log = self.dir / "pgbouncer.log"
        if log.exists():
            shutil.copy(log, self.log_dir / f"pgbouncer-{self.port}.log")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tail(self, lines: int = 40) -> str:
        log = self.dir / "pgbouncer.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return f"--- pgbouncer :{self.port} ---\n" + "\n".join(text.splitlines()[-lines:])

    def show(self, what: str) -> list[dict[str, str]]:
        """`SHOW <what>` on the admin console (simple query protocol only: psql), as rows of column -> value."""
        result = subprocess.run(
            [
                str(pg_bindir() / "psql"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", self.server.user, "-d", "pgbouncer"),
                *("-X", "-A", "-F", "\t", "-c", f"SHOW {what}"),
            ],
            env=child_env({}),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        lines = [line for line in result.stdout.splitlines() if line and not line.startswith("(")]
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:]]


@dataclass
class Bounced:
    bouncer: PgBouncer
    target: PgTarget  # the database, directly
    served: Served


@contextlib.asynccontextmanager
async def serve_behind_pgbouncer(
    pg_server: PgTarget,
    *,
    redis_url: str,
    issuer: TestIssuer,
    log_dir: Path,
    name: str = "serve-pgbouncer",
    pool_size: int = 4,
    env: Mapping[str, str] = {},
) -> AsyncIterator[Bounced]:
    """`cms serve --no-worker` on a database of its own, reached through a private PgBouncer of `pool_size`
    (DATABASE_PGBOUNCER; DATABASE_DIRECT_URL the server itself), with `env` on top; all stopped and the database
    dropped on exit."""
    target = await database.create_database(pg_server, prefix="cms_pgbouncer")
    try:
        with PgBouncer(pg_server, log_dir, pool_size=pool_size) as bouncer:
            config = server_env(
                bouncer.url(target.database), redis_url=redis_url, data_dir=log_dir / "data", issuer=issuer
            )
            config |= {"DATABASE_PGBOUNCER": "true", "DATABASE_DIRECT_URL": database_url(target), **env}
            async with serve_process(name, config, log_dir) as served:
                yield Bounced(bouncer, target, served)
    finally:
        await database.drop_database(target)
