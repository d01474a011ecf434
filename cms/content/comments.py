"""Time-coded comments on episodes and assets: viewers post, editors moderate, authors delete their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tortoise import connections
from tortoise.transactions import in_transaction

from cms.audit import service as audit
from cms.audit.service import record_change
from cms.auth.permissions import Role
from cms.auth.principal import Principal
from cms.content import validation as v
from cms.content.episodes import visible_episodes
from cms.content.models import Comment
from cms.content.visibility import now
from cms.core.errors import Forbidden, Invalid, NotFound
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, paginate
from cms.media import service as media
from cms.media.models import Asset
from cms.users.actors import Actor, require_actor

TargetKind = Literal["episode", "asset"]
ORDERINGS = {
    "TIMECODE": Ordering("TIMECODE", "timecode", descending=False, kind=float),
    "CREATED_AT": Ordering("CREATED_AT", "created_at", descending=False),
}


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    id: int

    def filter(self) -> dict[str, Any]:
        return {f"{self.kind}_id": self.id}


async def _visible_target(principal: Principal | None, target: Target) -> Asset | None:
    """Raise NotFound unless the caller may see the target; returns the asset for asset targets."""
    if target.kind == "episode":
        if not await visible_episodes(principal).filter(id=target.id).exists():
            raise NotFound("episode not found")
        return None
    asset = await media.get_asset(principal=principal, id=target.id)  # one rule for who sees an asset
    if asset is None:
        raise NotFound("asset not found")
    return asset


async def list_comments(
    *, principal: Principal | None, target: Target, first: int | None, after: str | None, order: str = "TIMECODE"
) -> Page[Comment]:
    await _visible_target(principal, target)
    query = Comment.filter(deleted_at__isnull=True, **target.filter())
    return await paginate(query, ordering=ORDERINGS[order], first=first, after=after)


async def add_comment(
    *, actor: Actor | None, target: Target, body: str, timecode: float | None, parent_id: int | None
) -> Comment:
    actor = require_actor(actor, Role.VIEWER)
    asset = await _visible_target(actor.principal, target)
    problems: dict[str, str] = {}
    body = v.clean_text(problems, "body", body, required=True, limit=v.COMMENT_MAX)
    timecode = v.clean_timecode(problems, timecode)
    duration = (asset.probe or {}).get("duration") if asset else None
    if timecode is not None and duration is not None and "timecode" not in problems and timecode > duration:
        problems["timecode"] = f"is past the end of the media ({duration:.3f} s)"
    if parent_id is not None:
        parent = await Comment.get_or_none(id=parent_id, deleted_at__isnull=True, **target.filter())
        if parent is None:
            problems["parentId"] = "no such comment on this target"
    if problems:
        raise Invalid(problems)
    async with in_transaction():
        comment = await Comment.create(
            author=actor.user, body=body, timecode=timecode, parent_id=parent_id, **target.filter()
        )
        await record_change(
            actor=actor, event=Event.COMMENT_ADD, entity=comment, before=None, after=audit.snapshot(comment)
        )
    return comment


def _target_of(comment: Comment) -> Target:
    if comment.episode_id:
        return Target("episode", comment.episode_id)
    assert comment.asset_id is not None  # a comment is on an episode or else on an asset
    return Target("asset", comment.asset_id)


async def _existing(comment_id: int) -> Comment:
    comment = await Comment.get_or_none(id=comment_id, deleted_at__isnull=True)
    if comment is None:
        raise NotFound("comment not found")
    return comment


async def resolve_comment(*, actor: Actor | None, id: int) -> Comment:
    actor = require_actor(actor, Role.EDITOR)
    comment = await _existing(id)
    before = audit.snapshot(comment)
    comment.resolved_at, comment.resolved_by = now(), actor.user
    async with in_transaction():
        await comment.save(update_fields=["resolved_at", "resolved_by_id"])
        await record_change(
            actor=actor, event=Event.COMMENT_RESOLVE, entity=comment, before=before, after=audit.snapshot(comment)
        )
    return comment


async def delete_comment(*, actor: Actor | None, id: int) -> int:
    """Soft delete: replies stay attached, the body is gone."""
    actor = require_actor(actor, Role.VIEWER)
    comment = await _existing(id)
    await _visible_target(actor.principal, _target_of(comment))  # hidden targets: NotFound, not Forbidden
    if not actor.is_editor and comment.author_id != actor.user.id:
        raise Forbidden("only editors and the author may delete a comment")
    before = audit.snapshot(comment)
    comment.deleted_at, comment.body = now(), ""
    async with in_transaction():
        await comment.save(update_fields=["deleted_at", "body"])
        await record_change(
            actor=actor, event=Event.COMMENT_DELETE, entity=comment, before=before, after=audit.snapshot(comment)
        )
    return id


_COUNTS = (
    "SELECT episode_id, count(*) AS n FROM comment WHERE episode_id = ANY($1::bigint[]) AND deleted_at IS NULL"
    " GROUP BY episode_id"
)


async def comment_counts(*, episode_ids: list[int]) -> dict[int, int]:
    """Comments not deleted, replies included, per episode (absent: none); one statement for any count."""
    _, rows = await connections.get("default").execute_query(_COUNTS, [episode_ids])
    return {r[0]: r[1] for r in rows}


async def get_comment(*, principal: Principal | None, id: int) -> Comment | None:
    comment = await Comment.get_or_none(id=id, deleted_at__isnull=True)
    if comment is None:
        return None
    try:
        await _visible_target(principal, _target_of(comment))
    except NotFound:
        return None
    return comment
