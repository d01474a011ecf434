"""Read replica routing: anonymous GraphQL queries read from DATABASE_READ_URL while it is provably fresh.

Three parts, all idle unless DATABASE_READ_URL is set:
- `anonymous_reads()` marks the current task's reads as replica-safe (the API marks anonymous query operations;
  signed-in callers, mutations, subscriptions, jobs and the change feed never are);
- `RoutingClient`, the Tortoise client of the "default" connection when a replica is configured: a marked SELECT
  outside a transaction goes to its replica pool while the probe says the replica is fresh; everything else (every
  write, every transaction, every unmarked read) goes to the primary. (Not a Tortoise router with a second
  connection: with two connections `in_transaction()` needs a connection name at each of its call sites.)
- `ReplicaProbe`, a task in the API: every PROBE_SECONDS it samples the primary's WAL insert position (with the
  change feed's generation read just before) and then the replica's replay position. The newest primary sample the
  replica has replayed past tells how fresh it is: everything committed before that sample was taken is visible.

The replica is used for a read only when (all at the moment of the read):
1. it replayed past a primary sample taken less than CMS_READ_REPLICA_MAX_LAG_SECONDS ago, so no commit older
   than that bound can be missing (a probe that stalls makes this fail by itself: the sample only gets older);
2. that sample was taken after the last change notification this API received (same change feed generation),
   so every change that was NOTIFYed (every publish, unpublish and edit goes through the outbox) is visible:
   an unpublished item is never served from the replica once this API has heard of the change, and the public
   response cache, keyed on the same generation, never stores an answer older than what it was invalidated for;
3. the change feed is connected (while it is not, notifications may be lost, so only the time bound would hold).
A read the replica fails (down, restarting, a recovery conflict, anything) is answered by the primary instead.
Replica reads have a short bound (cms/core/db.py replica_statement_timeout: max(1 s, the lag bound) on the server,
a second more on the client), so a slow or stalled replica holds a read only that long before the primary answers.
Only SELECTs without side effects are routed (no locking clause, no pg_notify, advisory locks, sequences...): the
replica must never be where a lock is taken or a value consumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from opentelemetry.instrumentation.utils import suppress_instrumentation
from tortoise.backends.asyncpg.client import AsyncpgDBClient

from cms.core.db import PgTarget

log = logging.getLogger("cms.db.replica")

PROBE_SECONDS = 0.25
_SAMPLES = 1024  # primary samples kept while the replica is behind (4 minutes at PROBE_SECONDS)

_marked: contextvars.ContextVar[bool] = contextvars.ContextVar("cms_replica_reads", default=False)
_probe: ReplicaProbe | None = None  # the running probe (one per API process)

# What says the replica itself is in trouble (rather than the query): the probe stops routing reads to it.
_REPLICA_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,  # connecting, or the client's bound past the replica's statement_timeout: it stopped answering
    asyncpg.InterfaceError,  # the connection is gone
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up (57P0x; not 57014, below)
    asyncpg.exceptions.TransactionRollbackError,  # recovery conflicts (40001, 40P01)
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)
# Anything in a SELECT that takes a lock, consumes or sets a value, or notifies: such a statement goes to the primary
# (on a standby it would fail, or worse, take an advisory lock no other process sees). Matching too much only costs a
# read on the primary. A second statement (text after a ';') goes to the primary too.
_SIDE_EFFECTS = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|\bINTO\b|;\s*\S"
    r"|\b(?:pg_notify|pg_(?:try_)?advisory\w*|nextval|setval|set_config|txid_current\w*|pg_current_xact_id\w*"
    r"|lo_\w+|dblink\w*|pg_cancel_backend|pg_terminate_backend)\s*\(",
    re.IGNORECASE,
)


class _AnonymousReads:
    """A plain class rather than @contextmanager: entered on every query, where a generator costs a few µs."""

    __slots__ = ("enabled", "token")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        self.token = _marked.set(self.enabled)

    def __exit__(self, *exc_info: object) -> None:
        _marked.reset(self.token)


def anonymous_reads(enabled: bool = True) -> _AnonymousReads:
    """Within the block (and the tasks it starts), reads may go to the replica when it is fresh."""
    return _AnonymousReads(enabled)


def replica_safe(query: str) -> bool:
    """A plain SELECT: reads only, so the replica may answer it."""
    text = query.lstrip()
    return text[:6].upper() == "SELECT" and (len(text) == 6 or not text[6].isalnum()) and not _SIDE_EFFECTS.search(text)


def _use_replica(query: str) -> bool:
    return _marked.get() and _probe is not None and _probe.fresh() and replica_safe(query)


class RoutingClient(AsyncpgDBClient):
    """The primary's client, with a pool on the replica for marked reads (`replica`: host, port, user, password,
    database, timeout). Transactions run on Tortoise's TransactionWrapper, a plain asyncpg client: the primary."""

    def __init__(self, *, replica: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._replica_credentials = dict(replica)
        self._replica_settings = self._replica_credentials.pop("server_settings", None) or {}
        self._replica_pool: asyncpg.Pool | None = None
        self._replica_lock = asyncio.Lock()

    async def _replica(self) -> asyncpg.Pool:
        async with self._replica_lock:
            if self._replica_pool is None:
                # The primary's options (statement_cache_size=0 behind PgBouncer), the replica's address and its
                # own short bounds (connect, statement_timeout and command_timeout: cms/core/db.py), and the
                # primary's connection class (no reset statement on release: cms/core/db.py PooledConnection).
                options = {**self.extra, **self._replica_credentials}
                settings = {**self.server_settings, **self._replica_settings}
                self._replica_pool = await asyncpg.create_pool(
                    min_size=0,
                    max_size=self.pool_maxsize,
                    server_settings=settings,
                    connection_class=self.connection_class,
                    **options,
                )
            return self._replica_pool

    async def _replica_fetch(self, query: str, values: list[Any] | None) -> list[Any] | None:
        """The rows from the replica, or None when it failed (the caller asks the primary)."""
        try:
            pool = await self._replica()
            async with pool.acquire() as conn:
                return list(await conn.fetch(query, *(values or ())))
        except (*_REPLICA_FAILURES, asyncpg.PostgresError) as exc:
            # Any error: the primary answers, and raises what Tortoise callers expect if the query itself is bad.
            # A statement the replica cancelled at its short statement_timeout (57014) was slow there, which the
            # probe watches on its own: the replica stays in use for other reads.
            if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
                log.info("read replica cancelled a slow read (%s); the primary answers", exc)
            elif isinstance(exc, _REPLICA_FAILURES):
                log.warning("read replica failed a read (%s: %s); the primary answers", type(exc).__name__, exc)
                if _probe is not None:
                    _probe.mark_down()
            return None

    async def execute_query(self, query: str, values: list[Any] | None = None) -> tuple[int, list[Any]]:
        if _use_replica(query) and (rows := await self._replica_fetch(query, values)) is not None:
            return len(rows), rows
        answer: tuple[int, list[Any]] = await super().execute_query(query, values)
        return answer

    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> list[dict[str, Any]]:
        if _use_replica(query) and (rows := await self._replica_fetch(query, values)) is not None:
            return [dict(row) for row in rows]
        found: list[dict[str, Any]] = await super().execute_query_dict(query, values)
        return found

    async def _close(self) -> None:
        pool, self._replica_pool = self._replica_pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                pool.terminate()
        await super()._close()


client_class = RoutingClient  # Tortoise loads "engine": "cms.core.replica" through this name


class Changes(Protocol):
    """What the probe reads of the change feed (cms.core.outbox.ChangeFeed)."""

    generation: int
    live: bool


@dataclass(frozen=True)
class _Sample:
    at: float  # monotonic, taken before the primary was asked
    lsn: int
    generation: int  # the change feed's, read before the primary was asked


def parse_lsn(text: str) -> int:
    """'16/B374D848' -> a comparable integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class ReplicaProbe:
    def __init__(
        self,
        *,
        primary: PgTarget,
        replica: PgTarget,
        max_lag: float,
        changes: Changes,
        interval: float = PROBE_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        self.primary, self.replica, self.max_lag, self.changes = primary, replica, max_lag, changes
        self.interval = min(interval, max_lag / 4)
        self._clock = clock
        self._samples: deque[_Sample] = deque(maxlen=_SAMPLES)
        self._replayed: _Sample | None = None  # the newest sample the replica has replayed past; None: unusable
        self._conns: dict[str, asyncpg.Connection] = {}
        self._state = "starting"

    # -- what the router asks ----------------------------------------------------------------------------------

    def fresh(self) -> bool:
        replayed = self._replayed
        return (
            replayed is not None
            and self.changes.live
            and replayed.generation == self.changes.generation
            and self._clock() - replayed.at <= self.max_lag
        )

    def lag(self) -> float | None:
        """Seconds the replica may be behind (an upper bound), or None while it is down."""
        return None if self._replayed is None else max(0.0, self._clock() - self._replayed.at)

    def status(self) -> dict[str, Any]:
        """For readiness bodies and metrics: the state and the lag bound. "fresh": reads go to the replica;
        "catching_up": it has not yet replayed the last change this API heard of (normal for a moment after each
        change); "lagging": it is further behind than the bound; "down": unreachable or not a standby."""
        lag = self.lag()
        if lag is None:
            state = "down"
        elif self.fresh():
            state = "fresh"
        else:
            state = "lagging" if lag > self.max_lag or not self.changes.live else "catching_up"
        return {"state": state, "lag_seconds": None if lag is None else round(lag, 3)}

    def mark_down(self) -> None:
        self._replayed = None

    # -- the loop ----------------------------------------------------------------------------------------------

    async def check(self) -> None:
        """One round: sample the primary, then read how far the replica replayed."""
        generation, at = self.changes.generation, self._clock()
        # The insert position, not the write position: with synchronous_commit=off a commit (and its NOTIFY) can
        # come before its WAL is written, and a sample must not be older than any commit already announced.
        primary_lsn = await self._fetch("primary", self.primary, "SELECT pg_current_wal_insert_lsn()::text")
        self._samples.append(_Sample(at, parse_lsn(primary_lsn), generation))
        replayed_text = await self._fetch("replica", self.replica, "SELECT pg_last_wal_replay_lsn()::text")
        if replayed_text is None:
            raise _NotAStandby("DATABASE_READ_URL is not a streaming standby (pg_last_wal_replay_lsn() is null)")
        replayed = parse_lsn(replayed_text)
        newest = None
        while self._samples and self._samples[0].lsn <= replayed:
            newest = self._samples.popleft()
        if newest is not None:
            self._samples.appendleft(newest)  # kept: the replica is at least this fresh
            self._replayed = newest
        # Else the replica has not reached even the oldest sample kept: it stays as fresh as it was last known to be
        # (and after mark_down, unusable), and its lag bound keeps growing.

    async def _fetch(self, name: str, target: PgTarget, query: str) -> Any:
        conn = self._conns.get(name)
        timeout = max(1.0, self.max_lag)
        if conn is None or conn.is_closed():
            # No statement cache: PgBouncer in transaction mode may stand in front of either.
            conn = self._conns[name] = await target.connect(timeout=timeout, statement_cache_size=0)
        return await conn.fetchval(query, timeout=timeout)

    async def _close(self) -> None:
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
        self._conns.clear()

    async def run(self) -> None:
        # Two one-row queries every PROBE_SECONDS are no one's work to trace: no SQL spans for them.
        with suppress_instrumentation():
            await self._loop()

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except (_NotAStandby, *_REPLICA_FAILURES, asyncpg.PostgresError) as exc:
                self.mark_down()
                await self._close()
                if self._state != f"down: {exc}":
                    log.warning(
                        "read replica unusable (%s: %s); anonymous reads go to the primary", type(exc).__name__, exc
                    )
                self._state = f"down: {exc}"
            else:
                status = self.status()
                state = "fresh" if status["state"] == "catching_up" else status["state"]  # a moment, not news
                if state != self._state:
                    (log.info if state == "fresh" else log.warning)(
                        "read replica %s (lag bound %s s)", state, status["lag_seconds"]
                    )
                self._state = state
            await asyncio.sleep(self.interval)


class _NotAStandby(Exception):
    pass


@contextlib.asynccontextmanager
async def probing(
    *, primary: PgTarget, replica: PgTarget, max_lag: float, changes: Changes
) -> AsyncIterator[ReplicaProbe]:
    """Run the probe for the block; the router uses the replica only meanwhile."""
    global _probe
    probe = ReplicaProbe(primary=primary, replica=replica, max_lag=max_lag, changes=changes)
    task = asyncio.create_task(probe.run())
    _probe = probe
    try:
        yield probe
    finally:
        _probe = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await probe._close()


def status() -> dict[str, Any] | None:
    """The running probe's status, or None when no replica is configured in this process."""
    return _probe.status() if _probe is not None else None
