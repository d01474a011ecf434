"""Transactional outbox: a domain change and the event it causes are written in one transaction.

A relay (jobs/relay.py) turns unrelayed events into job rows and enqueues them; nothing is lost if the
process dies between the commit and the enqueue.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction


class OutboxEvent(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=80)
    payload = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    relayed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_event"
        indexes = [Index(fields=("relayed_at", "id"))]


CHANNEL = "cms_changes"


async def record(kind: str, **payload: Any) -> OutboxEvent:
    """Record an event; call inside the transaction that makes the change (ids and primitives only).

    Also NOTIFY listeners (response caches, dispatchers); PostgreSQL delivers it only if the transaction commits.
    """
    event = await OutboxEvent.create(kind=kind, payload=payload)
    await notify(kind)
    return event


async def record_many(kind: str, payloads: list[dict[str, Any]]) -> None:
    """`record` for many events of one kind: batched INSERTs, one NOTIFY."""
    if payloads:
        await OutboxEvent.bulk_create([OutboxEvent(kind=kind, payload=p) for p in payloads], batch_size=500)
        await notify(kind)


async def notify(kind: str) -> None:
    """Tell listeners that what readers see changed, without an outbox event (e.g. the search index moved);
    inside a transaction PostgreSQL delivers it at commit."""
    await OutboxEvent._meta.db.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, kind])


async def emit(kind: str, **payload: Any) -> OutboxEvent:
    """Record an event in a transaction of its own, for changes that are already committed."""
    async with in_transaction():
        return await record(kind, **payload)
