"""The Asset type."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from cms.api.context import Info
from cms.api.enums import AssetKind, AssetStatus
from cms.api.ids import to_global_id
from cms.api.node import Node
from cms.api.scalars import BigInt
from cms.auth.permissions import Role, allowed
from cms.media import models as m
from cms.media import playback
from cms.media.service import AssetRow

if TYPE_CHECKING:
    from cms.api.content.types import Episode
    from cms.api.media.jobs import Job
    from cms.api.media.renditions import Rendition

EpisodeRef = Annotated["Episode", strawberry.lazy("cms.api.content.types")]
JobRef = Annotated["Job", strawberry.lazy("cms.api.media.jobs")]
RenditionRef = Annotated["Rendition", strawberry.lazy("cms.api.media.renditions")]


@strawberry.type
class Asset(Node):
    kind: AssetKind
    filename: str
    content_type: str
    size: BigInt | None = strawberry.field(description="Bytes; declared while uploading, measured once stored.")
    sha256: str | None
    status: AssetStatus
    failure_reason: str | None
    probe: JSON = strawberry.field(description="Duration, width, height, rotation, codecs, bitrate, channels.")
    progress: float = strawberry.field(description="Percent of the current processing stage.")
    stage: str | None = strawberry.field(description="What runs now (persist, transcode, artwork...); null when idle.")
    created_at: datetime
    pk: strawberry.Private[int]
    episode_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, a: m.Asset | AssetRow) -> Asset:
        return cls(
            id=strawberry.ID(to_global_id("Asset", a.id)),
            kind=a.kind,
            filename=a.filename,
            content_type=a.content_type,
            size=BigInt(a.size) if a.size is not None else None,
            sha256=a.sha256,
            status=a.status,
            failure_reason=a.failure_reason,
            probe=cast(JSON, a.probe),
            progress=a.progress,
            stage=a.stage,
            created_at=a.created_at,
            pk=a.id,
            episode_pk=a.episode_id,
        )

    @strawberry.field
    async def episode(self, info: Info) -> EpisodeRef | None:
        from cms.api.content.types import Episode

        if self.episode_pk is None:
            return None
        found = await info.context.loaders.episode_by_id.load(self.episode_pk)
        return Episode.from_model(found) if found else None

    @strawberry.field(description="Derived outputs: HLS ladder, poster, thumbnails, storyboard, image sizes.")
    async def renditions(self, info: Info) -> list[RenditionRef]:
        from cms.api.media.renditions import Rendition

        return [Rendition.from_model(r) for r in await info.context.loaders.renditions_by_asset.load(self.pk)]

    @strawberry.field(description="Processing jobs for this asset (editors only; empty for others).")
    async def jobs(self, info: Info) -> list[JobRef]:
        from cms.api.media.jobs import Job

        if not allowed(info.context.principal, Role.EDITOR):
            return []
        return [Job.from_model(j) for j in await info.context.loaders.jobs_by_asset.load(self.pk)]

    @strawberry.field(
        description="Signed URLs for players (HLS master, poster, storyboard) and image sizes, minted for this caller."
    )
    async def playback(self, info: Info) -> Playback | None:
        plugins = info.context.plugins
        if plugins is None:
            return None
        ready = [r for r in await info.context.loaders.renditions_by_asset.load(self.pk) if r.status == "READY"]
        if not ready:
            return None
        urls = await plugins.acall_first(
            "cms_playback_urls",
            asset=self,
            renditions=ready,
            principal=info.context.principal,
            base_url=info.context.base_url,
            settings=info.context.settings,
        )
        return Playback.from_domain(urls) if urls else None


@strawberry.type(description="One size of an image asset: a signed WebP URL, enough for an `<img srcset>` entry.")
class ImageUrl:
    width: int
    height: int
    url: str


@strawberry.type
class Playback:
    hls_url: str | None
    poster_url: str | None
    storyboard_url: str | None
    expires_at: datetime
    images: list[ImageUrl] = strawberry.field(
        description="An image asset's sizes, narrowest first (empty for video and audio)."
    )

    @strawberry.field(description='The image sizes as an `<img srcset>` value: "url 320w, url 640w, ...".')
    def srcset(self) -> str | None:
        return ", ".join(f"{image.url} {image.width}w" for image in self.images) or None

    @classmethod
    def from_domain(cls, p: playback.Playback) -> Playback:
        return cls(
            hls_url=p.hls_url,
            poster_url=p.poster_url,
            storyboard_url=p.storyboard_url,
            expires_at=p.expires_at,
            images=[ImageUrl(width=i.width, height=i.height, url=i.url) for i in p.images],
        )
