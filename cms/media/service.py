"""Media assets: who may see them, their main media, renditions and processing progress."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar, cast

from tortoise import connections
from tortoise.fields import JSONField

from cms.auth.principal import Principal
from cms.content.episodes import visible_episodes
from cms.content.visibility import sees_drafts
from cms.core.errors import NotFound
from cms.media.models import Asset, AssetKind, AssetStatus, Rendition

PLAYABLE = (AssetKind.VIDEO, AssetKind.AUDIO)


async def get_asset(*, principal: Principal | None, id: int) -> Asset | None:
    """The asset when the caller may see it: editors always, others when its episode is public."""
    asset = await Asset.get_or_none(id=id)
    if asset is None or sees_drafts(principal):
        return asset
    if asset.episode_id is not None and await visible_episodes(principal).filter(id=asset.episode_id).exists():
        return asset
    return None


@dataclass(slots=True)
class AssetRow:
    """An asset as read for display: the columns of `Asset`, without the model (cms/core/sql_shapes.py)."""

    id: int
    episode_id: int | None
    kind: AssetKind
    filename: str
    content_type: str
    size: int | None
    sha256: str | None
    status: AssetStatus
    failure_reason: str | None
    probe: dict[str, Any]
    progress: float
    stage: str | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> AssetRow:
        probe = r["probe"]
        return cls(
            r["id"], r["episode_id"], _KIND[r["kind"]], r["filename"], r["content_type"], r["size"], r["sha256"],
            _STATUS[r["status"]], r["failure_reason"], _json(probe) if isinstance(probe, str) else probe or {},
            r["progress"], r["stage"], r["created_by_id"], r["created_at"], r["updated_at"],
        )  # fmt: skip


_KIND = {k.value: k for k in AssetKind}  # dict lookups, cheaper than calling the enums
_STATUS = {s.value: s for s in AssetStatus}
_json = cast("JSONField[Any]", Asset._meta.fields_map["probe"]).decoder  # the model's own, for the jsonb text
_BY_EPISODE = (
    f"SELECT {', '.join(f.name for f in fields(AssetRow))} FROM asset"
    " WHERE episode_id = ANY($1::bigint[]) ORDER BY created_at, id"
)


async def assets_by_episode(*, episode_ids: list[int]) -> dict[int, list[Asset]]:
    """Models, for the API's loader; asset_rows_by_episode for display."""
    grouped: dict[int, list[Asset]] = defaultdict(list)
    for asset in await Asset.filter(episode_id__in=episode_ids).order_by("created_at", "id"):
        assert asset.episode_id is not None  # filtered on it
        grouped[asset.episode_id].append(asset)
    return grouped


async def asset_rows_by_episode(*, episode_ids: list[int]) -> dict[int, list[AssetRow]]:
    """Each episode's assets, oldest first, as plain rows (one statement for any count)."""
    grouped: dict[int, list[AssetRow]] = defaultdict(list)
    _, rows = await connections.get("default").execute_query(_BY_EPISODE, [episode_ids])
    for r in rows:
        grouped[r["episode_id"]].append(AssetRow.from_record(r))
    return grouped


A = TypeVar("A", Asset, AssetRow)


def pick_media_asset(assets: Sequence[A]) -> A | None:
    """The episode's main media: the newest ready video or audio, else the newest playable of any status."""
    playable = [a for a in assets if a.kind in PLAYABLE]
    ready = [a for a in playable if a.status == AssetStatus.READY]
    chosen = ready or playable
    return chosen[-1] if chosen else None


async def assets_by_ids(*, ids: list[int]) -> dict[int, Asset]:
    return {a.id: a for a in await Asset.filter(id__in=ids)}


async def renditions_by_asset(*, asset_ids: list[int]) -> dict[int, list[Rendition]]:
    grouped: dict[int, list[Rendition]] = defaultdict(list)
    for rendition in await Rendition.filter(asset_id__in=asset_ids).order_by("kind", "-height", "name"):
        grouped[rendition.asset_id].append(rendition)
    return grouped


@dataclass(frozen=True)
class Progress:
    asset_id: int
    status: AssetStatus
    percent: float
    stage: str | None
    failure_reason: str | None

    @property
    def finished(self) -> bool:
        return self.status in (AssetStatus.READY, AssetStatus.FAILED) and self.stage is None


async def watch_progress(*, principal: Principal | None, id: int, interval: float = 0.5) -> AsyncIterator[Progress]:
    """Each change of the asset's status, stage or percent, until it is finished (polls PostgreSQL, which the
    worker writes a few times a second, so it works across processes)."""
    if await get_asset(principal=principal, id=id) is None:
        raise NotFound("asset not found")
    last: Progress | None = None
    while True:
        row: dict[str, Any] | None = await Asset.get_or_none(id=id).values(
            "status", "progress", "stage", "failure_reason"
        )
        if row is None:
            return
        current = Progress(
            id, AssetStatus(row["status"]), round(row["progress"], 1), row["stage"], row["failure_reason"]
        )
        if current != last:
            yield current
            last = current
        if current.finished:
            return
        await asyncio.sleep(interval)
