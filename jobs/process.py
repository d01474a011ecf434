"""process_asset: renditions for a persisted asset (thin job around cms.media.processing)."""

from __future__ import annotations

from typing import Any

from cms.media import intake, processing
from jobs.runner import JobDeps, PermanentJobError


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
