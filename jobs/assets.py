"""persist_asset and process_asset: thin jobs around the claim-check intake and the rendition pipeline.

A file the intake refuses (unreadable, not what it claims) fails its asset at once and dead-letters the job; a job
that ran out of attempts leaves the asset FAILED with the last error, so a person can read what happened."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from cms.core.outbox import Event
from cms.media import intake, processing
from cms.media.probe import DocumentLimits
from jobs import metrics
from jobs.runner import JobDeps, JobKind, PermanentJobError


@contextlib.asynccontextmanager
async def _refusal_fails_the_asset(asset_id: int) -> AsyncIterator[None]:
    try:
        yield
    except intake.IntakeRefused as exc:
        await intake.mark_failed(asset_id=asset_id, reason=str(exc))
        raise PermanentJobError(str(exc)) from exc


async def _on_dead(deps: JobDeps, payload: dict[str, Any], error: str) -> None:
    await intake.mark_failed(asset_id=payload["asset_id"], reason=f"processing failed after several attempts: {error}")


async def persist(deps: JobDeps, payload: dict[str, Any]) -> None:
    async with _refusal_fails_the_asset(payload["asset_id"]):
        await intake.persist_asset(
            storage=deps.storage,
            asset_id=payload["asset_id"],
            upload_id=payload["upload_id"],
            allowed_kinds=deps.settings.upload_allowed_kinds,
            document_limits=DocumentLimits.from_settings(deps.settings),
        )


async def process(deps: JobDeps, payload: dict[str, Any]) -> None:
    limits = processing.ProcessingLimits(
        timeout_seconds=deps.settings.transcode_timeout_seconds, memory_bytes=deps.settings.transcode_memory_bytes
    )
    async with _refusal_fails_the_asset(payload["asset_id"]):
        made = await processing.process_asset(
            storage=deps.storage,
            asset_id=payload["asset_id"],
            capabilities=deps.capabilities,
            limits=limits,
            document_limits=DocumentLimits.from_settings(deps.settings),
        )
    for speed in made:
        metrics.transcode_speed(
            speed.rung,
            speed.encoder,
            media_seconds=speed.media_seconds,
            frames=speed.frames,
            work_seconds=speed.work_seconds,
        )


PERSIST = JobKind(
    name="persist_asset",
    run=persist,
    on_dead=_on_dead,
    timeout=timedelta(hours=2),
    triggers=(Event.ASSET_UPLOADED,),
    about_asset=True,
)
# The child process has its own time limit (CMS_TRANSCODE_TIMEOUT_SECONDS, CMS_DOCUMENT_TIMEOUT_SECONDS for PDFs);
# this one only backstops it.
PROCESS = JobKind(
    name="process_asset",
    run=process,
    on_dead=_on_dead,
    timeout=timedelta(hours=6),
    triggers=(Event.ASSET_PERSISTED,),
    about_asset=True,
    media=True,  # the transcode (and image/PDF renditions): the GPU pool's work when the queues are split
)
