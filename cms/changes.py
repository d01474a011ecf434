"""What every mutation leaves behind, inside its own transaction: an audit entry and an outbox event."""

from __future__ import annotations

from tortoise.models import Model

from cms import events
from cms.actors import Actor
from cms.audit import service as audit


async def record_change(*, actor: Actor, action: str, entity: Model, before: dict | None, after: dict | None) -> None:
    await audit.record(actor=actor, action=action, entity=entity, before=before, after=after)
    await events.record(action, id=entity.pk, type=type(entity).__name__)


async def record_deletions(*, actor: Actor, action: str, entities: list[Model]) -> None:
    """`record_change` for many entities about to be deleted (a program's episodes): a few statements, not 2 x N."""
    changes = [(entity, audit.snapshot(entity), None) for entity in entities]
    await audit.record_many(actor=actor, action=action, changes=changes)
    await events.record_many(action, [{"id": entity.pk, "type": type(entity).__name__} for entity in entities])
