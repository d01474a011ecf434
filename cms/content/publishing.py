"""Steps every audited content mutation shares: validate-then-write in one transaction, with its audit row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from cms.audit import service as audit
from cms.audit.service import record_change
from cms.content.models import PublishStatus
from cms.content.validation import SLUG_MAX
from cms.content.visibility import aware, now
from cms.core.errors import Conflict
from cms.core.outbox import Event
from cms.users.actors import Actor

M = TypeVar("M", bound=Model)


async def save_audited(
    *, actor: Actor, event: Event, obj: M, before: dict[str, Any] | None, conflict_field: str = "slug"
) -> M:
    """Save `obj` and its audit entry atomically; a unique violation becomes a Conflict on `conflict_field`."""
    try:
        async with in_transaction():
            await obj.save()
            await record_change(actor=actor, event=event, entity=obj, before=before, after=audit.snapshot(obj))
    except IntegrityError as exc:
        raise Conflict(f"{conflict_field} is already taken", field=conflict_field) from exc
    return obj


async def delete_audited(*, actor: Actor, event: Event, obj: Model) -> None:
    async with in_transaction():
        await record_change(actor=actor, event=event, entity=obj, before=audit.snapshot(obj), after=None)
        await obj.delete()


def set_published(obj: Model, at: datetime | None) -> None:
    obj.status = PublishStatus.PUBLISHED
    obj.publish_at = aware(at) or now()


def set_unpublished(obj: Model) -> None:
    obj.status = PublishStatus.DRAFT
    obj.publish_at = None


async def unique_slug(base: str, taken: Callable[[str], Awaitable[list[str]]], fallback: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever is free; `taken(prefix)` lists existing slugs with that prefix."""
    base = base or fallback

    def candidate(n: int) -> str:
        # Shorten the base so the suffix still fits the column (a 120-character slug plus "-2" would not).
        suffix = f"-{n}"
        return f"{base[: SLUG_MAX - len(suffix)].rstrip('-')}{suffix}"

    # Every candidate up to an 8-digit suffix starts with this prefix.
    existing = set(await taken(base[: SLUG_MAX - 10]))
    if base not in existing:
        return base
    n = 2
    while candidate(n) in existing:
        n += 1
    return candidate(n)
