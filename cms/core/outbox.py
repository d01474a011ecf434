"""The transactional outbox: a domain change and the event it causes are written in one transaction.

`Event` names every event kind. The worker's dispatcher (jobs/dispatcher.py) turns unrelayed events into job rows
(which jobs each event causes is declared beside each job, jobs/kinds.py); nothing is lost if the process dies
between the commit and the enqueue. Each commit also NOTIFYs `CHANNEL`, which `ChangeFeed` listens to so that
response caches in every process learn that what readers see has changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import asyncpg
import structlog
from opentelemetry import propagate
from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from cms.core.db import PgTarget

log = logging.getLogger("cms.changefeed")


class Event(StrEnum):
    """Every outbox event kind; the audit log names each change by its event too."""

    PROGRAM_CREATE = "program.create"
    PROGRAM_UPDATE = "program.update"
    PROGRAM_DELETE = "program.delete"
    PROGRAM_PUBLISH = "program.publish"
    PROGRAM_UNPUBLISH = "program.unpublish"
    EPISODE_CREATE = "episode.create"
    EPISODE_UPDATE = "episode.update"
    EPISODE_DELETE = "episode.delete"
    EPISODE_PUBLISH = "episode.publish"
    EPISODE_UNPUBLISH = "episode.unpublish"
    COMMENT_ADD = "comment.add"
    COMMENT_RESOLVE = "comment.resolve"
    COMMENT_DELETE = "comment.delete"
    UPLOAD_CREATE = "upload.create"
    UPLOAD_COMPLETE = "upload.complete"
    ASSET_IMPORT = "asset.import"
    ASSET_UPLOADED = "asset.uploaded"
    ASSET_PERSISTED = "asset.persisted"
    ASSET_READY = "asset.ready"
    ASSET_FAILED = "asset.failed"
    SOURCE_CREATE = "source.create"
    SOURCE_UPDATE = "source.update"
    SOURCE_DELETE = "source.delete"
    SOURCE_RUN = "source.run"  # an editor asked for a run now


class OutboxEvent(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=80)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    relayed_at = fields.DatetimeField(null=True)
    # Where the event came from, carried onto the jobs it causes: W3C trace context (traceparent, tracestate) and
    # the originating request's id (request_id). None when recorded outside a request or job.
    context: fields.JSONField[dict[str, str] | None] = fields.JSONField(null=True)

    class Meta:
        table = "outbox_event"
        indexes = [Index(fields=("relayed_at", "id"))]


CHANNEL = "cms_changes"
REQUEST_ID = "request_id"  # the key of the request id in a context dict and in structlog's bound context


def current_context() -> dict[str, str] | None:
    """Where the caller is now, to carry onto the jobs it causes: the current span's W3C trace context (nothing
    while tracing is off) and the request id bound to the log context (by the HTTP middleware, or by the runner for
    the job that is running). None when there is neither (a schedule, a command)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request_id = structlog.contextvars.get_contextvars().get(REQUEST_ID)
    if request_id:
        carrier[REQUEST_ID] = str(request_id)
    return carrier or None


async def record(event: Event, **payload: Any) -> OutboxEvent:
    """Record an event; call inside the transaction that makes the change (ids and primitives only).

    Also NOTIFY listeners (response caches, dispatchers); PostgreSQL delivers it only if the transaction commits.
    The caller's trace context and request id go with it (`current_context`).
    """
    row = await OutboxEvent.create(kind=Event(event).value, payload=payload, context=current_context())
    await notify(event)
    return row


async def record_many(event: Event, payloads: list[dict[str, Any]]) -> None:
    """`record` for many events of one kind: batched INSERTs, one NOTIFY."""
    if payloads:
        kind = Event(event).value
        context = current_context()
        await OutboxEvent.bulk_create(
            [OutboxEvent(kind=kind, payload=p, context=context) for p in payloads], batch_size=500
        )
        await notify(kind)


async def notify(kind: str) -> None:
    """Tell listeners that what readers see changed, without an outbox event (e.g. the search index moved);
    inside a transaction PostgreSQL delivers it at commit."""
    await OutboxEvent._meta.db.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, kind])


async def emit(event: Event, **payload: Any) -> OutboxEvent:
    """Record an event in a transaction of its own, for changes that are already committed."""
    async with in_transaction():
        return await record(event, **payload)


async def recorded_since(events: Iterable[Event], since: datetime) -> list[tuple[Event, dict[str, Any]]]:
    """(event, payload) of these events recorded at or after `since`, oldest first."""
    kinds = [Event(e).value for e in events]
    rows = await OutboxEvent.filter(kind__in=kinds, created_at__gte=since).order_by("id").values_list("kind", "payload")
    return [(Event(kind), payload) for kind, payload in rows]


async def backlog() -> tuple[int, datetime | None]:
    """How many events of any kind wait for the relay, and when the oldest of them was recorded (the outbox lag);
    both answered by the (relayed_at, id) index."""
    rows = await OutboxEvent._meta.db.execute_query_dict(
        "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox_event WHERE relayed_at IS NULL"
    )
    return int(rows[0]["n"]), rows[0]["oldest"]


async def unrelayed(events: Iterable[Event]) -> tuple[int, datetime | None]:
    """How many of these events wait for the relay, and when the oldest of them was recorded."""
    query = OutboxEvent.filter(relayed_at__isnull=True, kind__in=[Event(e).value for e in events])
    # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
    oldest = cast("list[datetime]", await query.order_by("created_at").limit(1).values_list("created_at", flat=True))
    return await query.count(), (oldest[0] if oldest else None)


class ChangeFeed:
    def __init__(self, *, reconnect_seconds: float = 1.0) -> None:
        self.target: PgTarget | None = None
        self.generation = 0
        self.live = False
        self._reconnect_seconds = reconnect_seconds
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def bump(self) -> None:
        self.generation += 1

    def _on_notify(self, *_: object) -> None:
        self.bump()

    def _on_lost(self, *_: object) -> None:
        self.live = False
        self.bump()  # changes may be missed while reconnecting: forget everything

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    assert self.target is not None  # running() sets it before starting this task
                    self._conn = await self.target.connect()
                    await self._conn.add_listener(CHANNEL, self._on_notify)
                    self._conn.add_termination_listener(self._on_lost)
                    self.bump()
                    self.live = True
            except (OSError, asyncpg.PostgresError) as exc:
                self._on_lost()
                log.warning("change feed disconnected (%s); retrying", exc)
            await asyncio.sleep(self._reconnect_seconds)

    @contextlib.asynccontextmanager
    async def running(self, target: PgTarget) -> AsyncIterator[ChangeFeed]:
        self.target = target
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()
            self.live = False
