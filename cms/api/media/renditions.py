"""Renditions and processing progress (a field on Asset and the assetProgress subscription)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from cms.api.context import Info
from cms.api.enums import AssetStatus
from cms.api.ids import pk_of, to_global_id
from cms.media import models as m
from cms.media import service as media

# strawberry.enum registers the GraphQL enum on the class itself and returns it unchanged; binding the class
# (not the call's result) keeps these names usable in annotations.
RenditionKind = m.RenditionKind
RenditionStatus = m.RenditionStatus
strawberry.enum(RenditionKind, name="RenditionKind")
strawberry.enum(RenditionStatus, name="RenditionStatus")


@strawberry.type(description="One derived output: an HLS variant or master, a poster, a storyboard, an image size.")
class Rendition:
    kind: RenditionKind
    name: str
    status: RenditionStatus
    width: int | None
    height: int | None
    bitrate: int | None = strawberry.field(description="Average bits per second, measured from the output.")
    peak_bitrate: int | None
    codecs: str | None
    frame_rate: float | None
    size: float | None = strawberry.field(description="Bytes of every file of the rendition.")
    error: str | None

    @classmethod
    def from_model(cls, r: m.Rendition) -> Rendition:
        return cls(
            kind=r.kind,
            name=r.name,
            status=r.status,
            width=r.width,
            height=r.height,
            bitrate=r.bitrate,
            peak_bitrate=r.peak_bitrate,
            codecs=r.codecs,
            frame_rate=r.frame_rate,
            size=r.size,
            error=r.error,
        )


@strawberry.type
class AssetProgress:
    asset_id: strawberry.ID
    status: AssetStatus
    percent: float
    stage: str | None = strawberry.field(description="What runs now (persist, transcode, artwork...); null when idle.")
    failure_reason: str | None

    @classmethod
    def from_domain(cls, p: media.Progress) -> AssetProgress:
        return cls(
            asset_id=strawberry.ID(to_global_id("Asset", p.asset_id)),
            status=p.status,
            percent=p.percent,
            stage=p.stage,
            failure_reason=p.failure_reason,
        )


@strawberry.type
class ProgressSubscription:
    @strawberry.subscription(description="Status, stage and percent of an asset's processing until it finishes.")
    async def asset_progress(self, info: Info, id: strawberry.ID) -> AsyncGenerator[AssetProgress, None]:
        async for progress in media.watch_progress(principal=info.context.principal, id=pk_of(id, "Asset")):
            yield AssetProgress.from_domain(progress)
