"""Episodes of a program: numbering, provenance, publishing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.fields import JSONField
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cms.audit.service import snapshot
from cms.auth.permissions import Role
from cms.auth.principal import Principal
from cms.content import validation as v
from cms.content.models import Episode, Program, PublishStatus
from cms.content.programs import PROGRAM_COLUMNS, ProgramRow
from cms.content.publishing import delete_audited, save_audited, set_published, set_unpublished, unique_slug
from cms.content.visibility import aware, now, public_episode_q, sees_drafts
from cms.core.errors import Invalid, NotFound
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, _after, clamp_first, decode_cursor, encode_cursor
from cms.core.sql_shapes import CompiledQuery, compile_query
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


def _visible(drafts: bool) -> QuerySet[Episode]:
    return Episode.all() if drafts else Episode.filter(public_episode_q())


def visible_episodes(principal: Principal | None) -> QuerySet[Episode]:
    return _visible(sees_drafts(principal))


@dataclass(slots=True)
class EpisodeRow:
    """An episode as read for display: the columns of `Episode`, without the model (cms/core/sql_shapes.py);
    `program` when it was read with it."""

    id: int
    program_id: int
    title: str
    slug: str
    season: int | None
    number: int | None
    description: str
    metadata: dict[str, Any]
    status: PublishStatus
    publish_at: datetime | None
    source: str | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    program: ProgramRow | None = None

    @classmethod
    def from_record(cls, r: Mapping[str, Any], program: ProgramRow | None = None) -> EpisodeRow:
        return cls(
            r["id"], r["program_id"], r["title"], r["slug"], r["season"], r["number"], r["description"],
            _json(m) if isinstance(m := r["metadata"], str) else m, _STATUS[r["status"]], r["publish_at"], r["source"], r["external_id"],
            r["created_at"], r["updated_at"], program,
        )  # fmt: skip


EPISODE_COLUMNS = tuple(f.name for f in fields(EpisodeRow) if f.name != "program")
_PROGRAM_KEYS = tuple(f"program__{column}" for column in PROGRAM_COLUMNS)  # the program's columns beside them
_STATUS = {s.value: s for s in PublishStatus}  # a dict lookup, cheaper than calling the enum
_json = cast("JSONField[Any]", Episode._meta.fields_map["metadata"]).decoder  # the model's own, for the jsonb text

# Filter argument -> the lookup it applies. Category, language and tags describe the program an episode belongs to.
_FILTERS = {
    "program_id": "program_id",
    "season": "season",
    "category": "program__category",
    "language": "program__language",
    "tags": "program__tags__contains",
    "published_after": "publish_at__gte",
    "published_before": "publish_at__lt",
}
_SHAPES_KEPT = 512  # compiled query shapes kept (a few are in use; all the filter combinations are many more)
_pages: dict[tuple[Any, ...], CompiledQuery] = {}
_singles: dict[tuple[bool, bool], CompiledQuery] = {}


def _filter_args(filter: EpisodeFilter) -> dict[str, Any]:
    """The filter's values, as its lookups take them (absent: not filtered on)."""
    args: dict[str, Any] = {}
    if filter.program_id is not None:
        args["program_id"] = filter.program_id
    if filter.season is not None:
        args["season"] = filter.season
    if filter.category:
        args["category"] = filter.category
    if filter.language:
        args["language"] = filter.language
    if filter.tags:
        args["tags"] = [t.lower() for t in filter.tags]
    if filter.published_after:
        args["published_after"] = aware(filter.published_after)
    if filter.published_before:
        args["published_before"] = aware(filter.published_before)
    return args


def _filtered(drafts: bool, args: Mapping[str, Any], status: PublishStatus | None) -> QuerySet[Episode]:
    lookups = {_FILTERS[name]: value for name, value in args.items() if name in _FILTERS}
    if status:
        lookups["status"] = status
    query = _visible(drafts)
    return query.filter(**lookups) if lookups else query


def _kinds(args: Mapping[str, Any]) -> dict[str, type]:
    return {name: type(value) for name, value in args.items()}


def _page_shape(drafts: bool, status: PublishStatus | None, ordering: Ordering, args: dict[str, Any]) -> CompiledQuery:
    """The page query for this combination of filters, cursor and ordering, compiled on first use."""
    key = (drafts, status, ordering.name, *sorted(args))
    compiled = _pages.get(key)
    if compiled is None:

        def build(a: Mapping[str, Any]) -> Any:
            query = _filtered(drafts, a, status)
            if "after_id" in a:  # rows after the cursor's; a cursor without a value is one on a NULL
                query = query.filter(_after(ordering, a.get("after_value"), a["after_id"]))
            prefix = "-" if ordering.descending else ""
            return query.order_by(f"{prefix}{ordering.field}", f"{prefix}id").limit(a["limit"]).values(*EPISODE_COLUMNS)

        if len(_pages) >= _SHAPES_KEPT:
            _pages.clear()
        compiled = _pages[key] = compile_query(build, _kinds(args))
    return compiled


async def list_episodes(
    *, principal: Principal | None, first: int | None, after: str | None, filter: EpisodeFilter, order: Ordering
) -> Page[EpisodeRow]:
    """A page of the episodes the caller may see, as plain rows: the keyset pagination of cms/core/pagination.py
    (same cursors, same order, one extra row for hasNextPage) on SQL compiled once per query shape."""
    drafts = sees_drafts(principal)
    size = clamp_first(first)
    # Cursors name the list's model too, as paginate() names them: one list's cursor is refused by another.
    ordering = replace(order, name=f"Episode.{order.name}")
    filters = _filter_args(filter)
    args = dict(filters)
    if after:
        value, args["after_id"] = decode_cursor(ordering, after)
        if value is not None:
            args["after_value"] = aware(value) if isinstance(value, datetime) else value
    args["limit"] = size + 1
    records = await _page_shape(drafts, filter.status, ordering, args).fetch(args, now())
    rows = [EpisodeRow.from_record(r) for r in records[:size]]
    return Page(
        items=rows,
        cursors=[encode_cursor(ordering, row) for row in rows],
        has_next_page=len(records) > size,
        count=lambda: _filtered(drafts, filters, filter.status).count(),
    )


def _single_shape(drafts: bool, with_program: bool) -> CompiledQuery:
    compiled = _singles.get((drafts, with_program))
    if compiled is None:
        columns = EPISODE_COLUMNS + (_PROGRAM_KEYS if with_program else ())
        compiled = _singles[(drafts, with_program)] = compile_query(
            lambda a: _visible(drafts).filter(id=a["id"]).limit(1).values(*columns), {"id": int}
        )
    return compiled


async def get_episode(*, principal: Principal | None, id: int, with_program: bool = False) -> EpisodeRow | None:
    """The episode when the caller may see it, as a plain row; `with_program` reads its program in the same
    statement (`row.program`)."""
    records = await _single_shape(sees_drafts(principal), with_program).fetch({"id": id}, now())
    if not records:
        return None
    r = records[0]
    return EpisodeRow.from_record(r, ProgramRow.from_record(r, _PROGRAM_KEYS) if with_program else None)


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
