"""process_asset: renditions for a persisted asset (thin job around cms.media.processing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cms.core.outbox import Event
from cms.media import intake, processing
from jobs.runner import JobDeps, JobKind, PermanentJobError


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    limits = processing.ProcessingLimits(
        timeout_seconds=deps.settings.transcode_timeout_seconds, memory_bytes=deps.settings.transcode_memory_bytes
    )
    try:
        await processing.process_asset(
            storage=deps.storage, asset_id=payload["asset_id"], capabilities=deps.capabilities, limits=limits
        )
    except intake.IntakeRefused as exc:
        await intake.mark_failed(asset_id=payload["asset_id"], reason=str(exc))
        raise PermanentJobError(str(exc)) from exc


async def on_dead(deps: JobDeps, payload: dict[str, Any], error: str) -> None:
    await intake.mark_failed(asset_id=payload["asset_id"], reason=f"processing failed after several attempts: {error}")


# The child process has its own time limit (CMS_TRANSCODE_TIMEOUT_SECONDS); this one only backstops it.
KIND = JobKind(
    name="process_asset",
    run=run,
    on_dead=on_dead,
    timeout=timedelta(hours=6),
    triggers=(Event.ASSET_PERSISTED,),
    about_asset=True,
)
