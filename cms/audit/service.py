"""Write and read the audit trail. `record` must run inside the mutation's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.models import Model

from cms.audit.models import AuditEntry
from cms.auth.permissions import Role, allowed, require
from cms.auth.principal import Principal
from cms.core import outbox
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, paginate
from cms.users.actors import Actor

_ORDER = Ordering("AT_DESC", "at", descending=True)


def snapshot(obj: Model | None) -> dict[str, Any] | None:
    """The object's stored fields as JSON-safe values, for before/after columns."""
    if obj is None:
        return None
    out: dict[str, Any] = {}
    for name in obj._meta.db_fields:
        value = getattr(obj, obj._meta.fields_db_projection_reverse.get(name, name), None)
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif isinstance(value, Enum):
            value = value.value
        out[name] = value
    return out


async def record(
    *, actor: Actor, action: str, entity: Model, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    await _entry(actor, action, entity, before, after).save()


async def record_many(
    *, actor: Actor, action: str, changes: Sequence[tuple[Model, dict[str, Any] | None, dict[str, Any] | None]]
) -> None:
    """One entry per (entity, before, after), in batched INSERTs."""
    await AuditEntry.bulk_create([_entry(actor, action, *change) for change in changes], batch_size=500)


def _entry(
    actor: Actor, action: str, entity: Model, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> AuditEntry:
    return AuditEntry(
        actor=actor.user,
        actor_subject=actor.principal.subject,
        action=action,
        entity_type=type(entity).__name__,
        entity_id=entity.pk,
        before=before,
        after=after,
        request_id=actor.request_id,
    )


@dataclass(frozen=True)
class AuditFilter:
    entity_type: str | None = None
    entity_id: int | None = None
    actor_id: int | None = None
    action: str | None = None


async def list_entries(
    *, principal: Principal | None, first: int | None, after: str | None, filter: AuditFilter
) -> Page[AuditEntry]:
    require(principal, Role.ADMIN)
    query = AuditEntry.all()
    if filter.entity_type:
        query = query.filter(entity_type=filter.entity_type)
    if filter.entity_id is not None:
        query = query.filter(entity_id=filter.entity_id)
    if filter.actor_id is not None:
        query = query.filter(actor_id=filter.actor_id)
    if filter.action:
        query = query.filter(action=filter.action)
    return await paginate(query, ordering=_ORDER, first=first, after=after)


async def get_entry(*, principal: Principal | None, id: int) -> AuditEntry | None:
    if not allowed(principal, Role.ADMIN):
        return None
    return await AuditEntry.get_or_none(id=id)


async def record_change(
    *, actor: Actor, event: Event, entity: Model, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """What every mutation leaves behind, inside its transaction: an audit entry and an outbox event."""
    await record(actor=actor, action=event.value, entity=entity, before=before, after=after)
    await outbox.record(event, id=entity.pk, type=type(entity).__name__)


async def record_deletions(*, actor: Actor, event: Event, entities: Sequence[Model]) -> None:
    """`record_change` for many entities about to be deleted (a program's episodes): a few statements, not 2 x N."""
    changes = [(entity, snapshot(entity), None) for entity in entities]
    await record_many(actor=actor, action=event.value, changes=changes)
    await outbox.record_many(event, [{"id": entity.pk, "type": type(entity).__name__} for entity in entities])
