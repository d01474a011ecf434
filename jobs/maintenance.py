"""Periodic housekeeping in every worker: expire abandoned uploads and clear old staging objects."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from cms.media.uploads import expire_uploads
from jobs.runner import JobDeps

log = logging.getLogger("cms.jobs.maintenance")


async def maintain_once(deps: JobDeps) -> None:
    expired = await expire_uploads(storage=deps.storage)
    # Staging objects outlive their upload's expiry only by accident (a crash mid-cleanup); a day's grace.
    removed = await deps.storage.cleanup_staging(
        older_than=timedelta(seconds=deps.settings.upload_expiry_seconds) + timedelta(days=1)
    )
    if expired or removed:
        log.info("expired %d uploads, removed %d stale staging objects", expired, removed)


async def run_maintenance(deps: JobDeps, *, every: timedelta = timedelta(minutes=10)) -> None:
    while True:
        try:
            await maintain_once(deps)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - housekeeping retries next round
            log.exception("maintenance round failed")
        await asyncio.sleep(every.total_seconds())
