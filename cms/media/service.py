"""Media assets: reading rules here; storage and uploads arrive with the media intake work."""

from __future__ import annotations

from collections import defaultdict

from cms.auth.principal import Principal
from cms.content.episodes import visible_episodes
from cms.content.visibility import sees_drafts
from cms.media.models import Asset, AssetKind, AssetStatus

PLAYABLE = (AssetKind.VIDEO, AssetKind.AUDIO)


async def get_asset(*, principal: Principal | None, id: int) -> Asset | None:
    """The asset when the caller may see it: editors always, others when its episode is public."""
    asset = await Asset.get_or_none(id=id)
    if asset is None or sees_drafts(principal):
        return asset
    if asset.episode_id is not None and await visible_episodes(principal).filter(id=asset.episode_id).exists():
        return asset
    return None


async def assets_by_episode(*, episode_ids: list[int]) -> dict[int, list[Asset]]:
    grouped: dict[int, list[Asset]] = defaultdict(list)
    for asset in await Asset.filter(episode_id__in=episode_ids).order_by("created_at", "id"):
        grouped[asset.episode_id].append(asset)
    return grouped


def pick_media_asset(assets: list[Asset]) -> Asset | None:
    """The episode's main media: the newest ready video or audio, else the newest playable of any status."""
    playable = [a for a in assets if a.kind in PLAYABLE]
    ready = [a for a in playable if a.status == AssetStatus.READY]
    chosen = ready or playable
    return chosen[-1] if chosen else None


async def assets_by_ids(*, ids: list[int]) -> dict[int, Asset]:
    return {a.id: a for a in await Asset.filter(id__in=ids)}
