"""Programs: shows, series, courses. Every rule about them lives here."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from tortoise import connections
from tortoise import fields as tortoise_fields
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cms.audit.service import record_deletions, snapshot
from cms.auth.permissions import Role
from cms.auth.principal import Principal
from cms.content import validation as v
from cms.content.models import Episode, Program, PublishStatus
from cms.content.publishing import delete_audited, save_audited, set_published, set_unpublished, unique_slug
from cms.content.visibility import aware, public_q, sees_drafts
from cms.core.errors import Invalid, NotFound
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, paginate
from cms.media.models import Asset, AssetKind
from cms.users.actors import Actor, require_actor

ORDER_FIELDS = {"CREATED_AT": ("created_at", datetime), "PUBLISH_AT": ("publish_at", datetime), "TITLE": ("title", str)}


@dataclass(frozen=True)
class ProgramFilter:
    category: str | None = None
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    status: PublishStatus | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None


def ordering(order_field: str = "CREATED_AT", descending: bool = True) -> Ordering:
    column, kind = ORDER_FIELDS[order_field]
    return Ordering(f"{order_field}_{'DESC' if descending else 'ASC'}", column, descending, kind)


def visible_programs(principal: Principal | None) -> QuerySet[Program]:
    return Program.all() if sees_drafts(principal) else Program.filter(public_q())


async def list_programs(
    *, principal: Principal | None, first: int | None, after: str | None, filter: ProgramFilter, order: Ordering
) -> Page[Program]:
    query = visible_programs(principal)
    if filter.category:
        query = query.filter(category=filter.category)
    if filter.language:
        query = query.filter(language=filter.language)
    if filter.tags:
        query = query.filter(tags__contains=[t.lower() for t in filter.tags])
    if filter.status:
        query = query.filter(status=filter.status)
    if filter.published_after:
        query = query.filter(publish_at__gte=aware(filter.published_after))
    if filter.published_before:
        query = query.filter(publish_at__lt=aware(filter.published_before))
    return await paginate(query, ordering=order, first=first, after=after)


async def get_program(*, principal: Principal | None, id: int | None = None, slug: str | None = None) -> Program | None:
    """The program when it exists and the caller may see it, else None."""
    if (id is None) == (slug is None):
        raise Invalid({"id": "give exactly one of id or slug"})
    query = visible_programs(principal)
    if id is not None:
        return await query.get_or_none(id=id)
    assert slug is not None  # exactly one of id and slug is given
    wanted = unicodedata.normalize("NFKC", slug.strip()).lower()
    slug_field = cast("tortoise_fields.CharField[str]", Program._meta.fields_map["slug"])
    if len(wanted) > slug_field.max_length:  # no program has it (Tortoise would raise)
        return None
    return await query.get_or_none(slug=wanted)


async def _editable(actor: Actor | None, program_id: int) -> tuple[Actor, Program]:
    actor = require_actor(actor, Role.EDITOR)
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("program not found")
    return actor, program


async def _check_cover(problems: dict[str, str], cover_asset_id: int | None) -> None:
    if cover_asset_id is None:
        return
    asset = await Asset.get_or_none(id=cover_asset_id)
    if asset is None:
        problems["coverAssetId"] = "no such asset"
    elif asset.kind != AssetKind.IMAGE:
        problems["coverAssetId"] = "must be an image asset"


async def _apply(program: Program, changes: dict[str, Any], *, creating: bool) -> None:
    problems: dict[str, str] = {}
    if creating or "title" in changes:
        # None only when missing, and then a problem is recorded and _apply raises below.
        program.title = cast(
            str, v.clean_text(problems, "title", changes.get("title"), required=True, limit=v.TITLE_MAX)
        )
    if changes.get("slug") is not None:
        program.slug = v.clean_slug(problems, changes["slug"])
    elif creating and not problems:
        program.slug = await unique_slug(
            v.slugify(program.title),
            # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
            lambda p: cast("Awaitable[list[str]]", Program.filter(slug__startswith=p).values_list("slug", flat=True)),
            fallback="program",
        )
    if "description" in changes:
        program.description = v.clean_text(
            problems, "description", changes["description"] or "", required=False, limit=v.DESCRIPTION_MAX
        )
    if "category" in changes:
        program.category = v.clean_text(problems, "category", changes["category"], required=False, limit=80) or None
    if "language" in changes:
        program.language = v.clean_language(problems, changes["language"])
    if "tags" in changes:
        program.tags = v.clean_tags(problems, changes["tags"])
    if "cover_asset_id" in changes:
        await _check_cover(problems, changes["cover_asset_id"])
        program.cover_asset_id = changes["cover_asset_id"]
    if problems:
        raise Invalid(problems)


async def create_program(*, actor: Actor | None, changes: dict[str, Any]) -> Program:
    actor = require_actor(actor, Role.EDITOR)
    program = Program(tags=[], description="")
    await _apply(program, changes, creating=True)
    return await save_audited(actor=actor, event=Event.PROGRAM_CREATE, obj=program, before=None)


async def update_program(*, actor: Actor | None, id: int, changes: dict[str, Any]) -> Program:
    actor, program = await _editable(actor, id)
    before = snapshot(program)
    await _apply(program, changes, creating=False)
    return await save_audited(actor=actor, event=Event.PROGRAM_UPDATE, obj=program, before=before)


async def delete_program(*, actor: Actor | None, id: int) -> int:
    """Deletes the program's episodes too (ON DELETE CASCADE); each gets its own audit entry and event."""
    actor, program = await _editable(actor, id)
    async with in_transaction():
        episodes = await Episode.filter(program_id=id).order_by("id")
        await record_deletions(actor=actor, event=Event.EPISODE_DELETE, entities=episodes)
        await delete_audited(actor=actor, event=Event.PROGRAM_DELETE, obj=program)
    return id


async def publish_program(*, actor: Actor | None, id: int, at: datetime | None = None) -> Program:
    actor, program = await _editable(actor, id)
    before = snapshot(program)
    set_published(program, at)
    return await save_audited(actor=actor, event=Event.PROGRAM_PUBLISH, obj=program, before=before)


async def unpublish_program(*, actor: Actor | None, id: int) -> Program:
    actor, program = await _editable(actor, id)
    before = snapshot(program)
    set_unpublished(program)
    return await save_audited(actor=actor, event=Event.PROGRAM_UNPUBLISH, obj=program, before=before)


@dataclass(slots=True)
class ProgramRow:
    """A program as read for display: the columns of `Program`, without the model (cms/core/sql_shapes.py)."""

    id: int
    title: str
    slug: str
    description: str
    category: str | None
    language: str | None
    tags: list[str]
    status: PublishStatus
    publish_at: datetime | None
    cover_asset_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, r: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> ProgramRow:
        """From a record with the columns PROGRAM_COLUMNS names (or `keys`, the same columns under other names)."""
        k = keys or PROGRAM_COLUMNS
        return cls(
            r[k[0]], r[k[1]], r[k[2]], r[k[3]], r[k[4]], r[k[5]], r[k[6]] or [], _STATUS[r[k[7]]],
            r[k[8]], r[k[9]], r[k[10]], r[k[11]],
        )  # fmt: skip


PROGRAM_COLUMNS = tuple(f.name for f in fields(ProgramRow))
_STATUS = {s.value: s for s in PublishStatus}  # a dict lookup, cheaper than calling the enum
_BY_IDS = f"SELECT {', '.join(PROGRAM_COLUMNS)} FROM program WHERE id = ANY($1::bigint[])"


async def programs_by_ids(*, ids: list[int]) -> dict[int, Program]:
    """Models, for the loaders of the API (search checks their visibility); program_rows_by_ids for display."""
    return {p.id: p for p in await Program.filter(id__in=ids)}


async def program_rows_by_ids(*, ids: list[int]) -> dict[int, ProgramRow]:
    """No visibility check: the programs of episodes the caller may already see (one statement for any count)."""
    _, rows = await connections.get("default").execute_query(_BY_IDS, [ids])
    return {r["id"]: ProgramRow.from_record(r) for r in rows}
