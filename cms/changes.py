"""What every mutation leaves behind, inside its own transaction: an audit entry and an outbox event."""

from __future__ import annotations

from tortoise.models import Model

from cms import events
from cms.actors import Actor
from cms.audit import service as audit


async def record_change(*, actor: Actor, action: str, entity: Model, before: dict | None, after: dict | None) -> None:
    await audit.record(actor=actor, action=action, entity=entity, before=before, after=after)
    await events.record(action, id=entity.pk, type=type(entity).__name__)
