"""persist_asset: thin job around the claim-check service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cms.core.outbox import Event
from cms.media import intake
from jobs.runner import JobDeps, JobKind, PermanentJobError


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    try:
        await intake.persist_asset(
            storage=deps.storage,
            asset_id=payload["asset_id"],
            upload_id=payload["upload_id"],
            allowed_kinds=deps.settings.upload_allowed_kinds,
        )
    except intake.IntakeRefused as exc:
        await intake.mark_failed(asset_id=payload["asset_id"], reason=str(exc))
        raise PermanentJobError(str(exc)) from exc


async def on_dead(deps: JobDeps, payload: dict[str, Any], error: str) -> None:
    await intake.mark_failed(asset_id=payload["asset_id"], reason=f"processing failed after several attempts: {error}")


KIND = JobKind(
    name="persist_asset",
    run=run,
    on_dead=on_dead,
    timeout=timedelta(hours=2),
    triggers=(Event.ASSET_UPLOADED,),
    about_asset=True,
)
