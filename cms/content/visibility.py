"""Who may see what: the public sees published items whose publish time has passed; editors see all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from tortoise.expressions import Q

from cms.auth.permissions import Role, allowed
from cms.auth.principal import Principal
from cms.content.models import Episode, Program, PublishStatus


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """Client datetimes without a zone are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def public_q(prefix: str = "") -> Q:
    lookups: dict[str, Any] = {f"{prefix}status": PublishStatus.PUBLISHED, f"{prefix}publish_at__lte": now()}
    return Q(**lookups)


def public_episode_q() -> Q:
    """An episode is public when it and its program are both public."""
    return public_q() & public_q("program__")


def is_public(item: Program | Episode, at: datetime | None = None) -> bool:
    at = at or now()
    return item.status == PublishStatus.PUBLISHED and item.publish_at is not None and item.publish_at <= at


def is_public_episode(episode: Episode, program: Program | None, at: datetime | None = None) -> bool:
    """The rule public_episode_q() applies in SQL, for rows already loaded."""
    return program is not None and is_public(episode, at) and is_public(program, at)


def sees_drafts(principal: Principal | None) -> bool:
    return allowed(principal, Role.EDITOR)


async def next_scheduled_change(after: datetime) -> datetime | None:
    """When the public view next changes by itself: the earliest publish time of a program or episode later
    than `after`."""
    upcoming: list[datetime] = []
    for model in (Program, Episode):
        # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
        upcoming += cast(
            "list[datetime]",
            await model.filter(status=PublishStatus.PUBLISHED, publish_at__gt=after)
            .order_by("publish_at")
            .limit(1)
            .values_list("publish_at", flat=True),
        )
    return min(upcoming, default=None)
