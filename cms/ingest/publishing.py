"""Publishing what ingest brought in, once its media is ready (autoPublish sources, `cms import --publish`)."""

from __future__ import annotations

from cms.content import episodes
from cms.content.models import Episode, PublishStatus
from cms.ingest import folder
from cms.ingest.actors import import_actor, source_actor
from cms.ingest.models import Source
from cms.media.models import Asset, AssetStatus

_WAITING = (AssetStatus.UPLOADING, AssetStatus.PROCESSING)


async def publish_when_ready(asset_id: int | None) -> bool:
    """An asset became ready: publish its episode when a source with autoPublish brought it in, or a folder import
    with `--publish`, and none of the episode's other media is still on its way (an album waits for all of its
    files). True when it published."""
    asset = await Asset.get_or_none(id=asset_id)
    if asset is None or asset.episode_id is None:
        return False
    episode = await Episode.get_or_none(id=asset.episode_id)
    if episode is None or episode.status != PublishStatus.DRAFT:
        return False
    source = None
    if not folder.publishes_when_ready(episode):
        if episode.source is None or not episode.source.startswith("source:"):
            return False
        source = await Source.get_or_none(id=int(episode.source.removeprefix("source:")))
        if source is None or not source.auto_publish:
            return False
    if await Asset.filter(episode_id=episode.id, status__in=_WAITING).exists():
        return False
    actor = await import_actor() if source is None else await source_actor(source.kind)
    await episodes.publish_episode(actor=actor, id=episode.id, at=None)
    return True
