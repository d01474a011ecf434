"""Episodes of a program: numbering, provenance, publishing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cms.audit.service import snapshot
from cms.auth.permissions import Role
from cms.auth.principal import Principal
from cms.content import validation as v
from cms.content.models import Episode, Program, PublishStatus
from cms.content.publishing import delete_audited, save_audited, set_published, set_unpublished, unique_slug
from cms.content.visibility import aware, public_episode_q, sees_drafts
from cms.core.errors import Invalid, NotFound
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, paginate
from cms.users.actors import Actor, require_actor

ORDER_FIELDS = {
    "CREATED_AT": ("created_at", datetime),
    "PUBLISH_AT": ("publish_at", datetime),
    "TITLE": ("title", str),
    "NUMBER": ("number", int),
}


@dataclass(frozen=True)
class EpisodeFilter:
    program_id: int | None = None
    season: int | None = None
    category: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    status: PublishStatus | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None


def ordering(order_field: str = "CREATED_AT", descending: bool = True) -> Ordering:
    column, kind = ORDER_FIELDS[order_field]
    return Ordering(f"{order_field}_{'DESC' if descending else 'ASC'}", column, descending, kind)


def visible_episodes(principal: Principal | None) -> QuerySet[Episode]:
    return Episode.all() if sees_drafts(principal) else Episode.filter(public_episode_q())


async def list_episodes(
    *, principal: Principal | None, first: int | None, after: str | None, filter: EpisodeFilter, order: Ordering
) -> Page[Episode]:
    query = visible_episodes(principal)
    if filter.program_id is not None:
        query = query.filter(program_id=filter.program_id)
    if filter.season is not None:
        query = query.filter(season=filter.season)
    # Category, language and tags describe the program an episode belongs to.
    if filter.category:
        query = query.filter(program__category=filter.category)
    if filter.language:
        query = query.filter(program__language=filter.language)
    if filter.tags:
        query = query.filter(program__tags__contains=[t.lower() for t in filter.tags])
    if filter.status:
        query = query.filter(status=filter.status)
    if filter.published_after:
        query = query.filter(publish_at__gte=aware(filter.published_after))
    if filter.published_before:
        query = query.filter(publish_at__lt=aware(filter.published_before))
    return await paginate(query, ordering=order, first=first, after=after)


async def get_episode(*, principal: Principal | None, id: int, with_program: bool = False) -> Episode | None:
    """`with_program` fetches the program in the same query (`episode.program` is then loaded)."""
    query = visible_episodes(principal)
    return await (query.select_related("program") if with_program else query).get_or_none(id=id)


async def _editable(actor: Actor | None, episode_id: int) -> tuple[Actor, Episode]:
    actor = require_actor(actor, Role.EDITOR)
    episode = await Episode.get_or_none(id=episode_id)
    if episode is None:
        raise NotFound("episode not found")
    return actor, episode


async def _apply(episode: Episode, changes: dict[str, Any], *, creating: bool) -> None:
    problems: dict[str, str] = {}
    if creating or "title" in changes:
        # None only when missing, and then a problem is recorded and _apply raises below.
        episode.title = cast(
            str, v.clean_text(problems, "title", changes.get("title"), required=True, limit=v.TITLE_MAX)
        )
    if "description" in changes:
        episode.description = v.clean_text(
            problems, "description", changes["description"] or "", required=False, limit=v.DESCRIPTION_MAX
        )
    if "season" in changes:
        episode.season = v.clean_count(problems, "season", changes["season"])
    if "number" in changes:
        episode.number = v.clean_count(problems, "number", changes["number"])
    if "metadata" in changes:
        episode.metadata = v.clean_metadata(problems, changes["metadata"])
    if changes.get("slug") is not None:
        episode.slug = v.clean_slug(problems, changes["slug"])
    elif creating and not problems:
        episode.slug = await unique_slug(
            v.slugify(episode.title),
            # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
            lambda p: cast(
                "Awaitable[list[str]]",
                Episode.filter(program_id=episode.program_id, slug__startswith=p).values_list("slug", flat=True),
            ),
            fallback="episode",
        )
    if problems:
        raise Invalid(problems)


async def create_episode(*, actor: Actor | None, program_id: int, changes: dict[str, Any]) -> Episode:
    actor = require_actor(actor, Role.EDITOR)
    if not await Program.exists(id=program_id):
        raise NotFound("program not found")
    episode = Episode(program_id=program_id, metadata={}, description="")
    await _apply(episode, changes, creating=True)
    return await save_audited(actor=actor, event=Event.EPISODE_CREATE, obj=episode, before=None)


async def episode_from_source(
    *,
    actor: Actor | None,
    program_id: int,
    source: str,
    external_id: str,
    item: Mapping[str, Any],
    keep_fingerprint: bool = False,
) -> Episode:
    """The episode of an item from an ingest source: found by (source, external_id), or created as a draft from the
    item's text, with its provenance, in one transaction (so a crash cannot leave an episode that a retry would not
    find). Raises the `cms.core.errors` of `create_episode` (the program is gone, the item's text is unusable)."""
    existing = await Episode.get_or_none(source=source, external_id=external_id)
    if existing is not None:
        return existing
    try:
        async with in_transaction():
            changes = _item_changes(item, external_id)
            if keep_fingerprint:  # a managed source compares it on later runs (refresh_from_source)
                ingest = {**changes.get("metadata", {}).get("ingest", {}), "fingerprint": item_fingerprint(item)}
                changes["metadata"] = {"ingest": ingest}
            episode = await create_episode(actor=actor, program_id=program_id, changes=changes)
            await Episode.filter(id=episode.id).update(source=source, external_id=external_id)
    except IntegrityError:  # another run created it meanwhile
        return await Episode.get(source=source, external_id=external_id)
    episode.source, episode.external_id = source, external_id
    return episode


def item_fingerprint(item: Mapping[str, Any]) -> str:
    """A digest of an ingest item as its source described it: a changed one upstream gets a new digest."""
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


async def refresh_from_source(*, actor: Actor | None, episode: Episode, item: Mapping[str, Any]) -> bool:
    """Bring an ingested episode's title, description and provenance in line with its item when the item changed
    upstream (an audited update, so search follows); True when it did."""
    if (episode.metadata.get("ingest") or {}).get("fingerprint") == item_fingerprint(item):
        return False
    assert episode.external_id is not None  # an ingested episode has its provenance
    changes = _item_changes(item, episode.external_id)
    ingest = {**changes.get("metadata", {}).get("ingest", {}), "fingerprint": item_fingerprint(item)}
    changes["metadata"] = {**episode.metadata, "ingest": ingest}
    await update_episode(actor=actor, id=episode.id, changes=changes)
    return True


def _item_changes(item: Mapping[str, Any], external_id: str) -> dict[str, Any]:
    title = (
        cast(str, item.get("title")) if isinstance(item.get("title"), str) and item["title"].strip() else external_id
    )
    changes: dict[str, Any] = {"title": title.strip()[: v.TITLE_MAX]}
    if isinstance(item.get("description"), str):
        changes["description"] = item["description"][: v.DESCRIPTION_MAX]
    provenance = {key: item[key] for key in ("url", "published_at", "podcast") if item.get(key) is not None}
    if provenance:
        changes["metadata"] = {"ingest": provenance}
    return changes


async def update_episode(*, actor: Actor | None, id: int, changes: dict[str, Any]) -> Episode:
    actor, episode = await _editable(actor, id)
    before = snapshot(episode)
    await _apply(episode, changes, creating=False)
    return await save_audited(actor=actor, event=Event.EPISODE_UPDATE, obj=episode, before=before)


async def delete_episode(*, actor: Actor | None, id: int) -> int:
    actor, episode = await _editable(actor, id)
    await delete_audited(actor=actor, event=Event.EPISODE_DELETE, obj=episode)
    return id


async def publish_episode(*, actor: Actor | None, id: int, at: datetime | None = None) -> Episode:
    actor, episode = await _editable(actor, id)
    before = snapshot(episode)
    set_published(episode, at)
    return await save_audited(actor=actor, event=Event.EPISODE_PUBLISH, obj=episode, before=before)


async def unpublish_episode(*, actor: Actor | None, id: int) -> Episode:
    actor, episode = await _editable(actor, id)
    before = snapshot(episode)
    set_unpublished(episode)
    return await save_audited(actor=actor, event=Event.EPISODE_UNPUBLISH, obj=episode, before=before)


async def episodes_by_ids(*, ids: list[int]) -> dict[int, Episode]:
    return {e.id: e for e in await Episode.filter(id__in=ids)}
