"""Periodic housekeeping in every worker: expire abandoned uploads, clear old staging objects, and announce
publications whose time has come (jobs/announce.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation

from cms.media.uploads import expire_uploads
from jobs import announce, source_runs
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


async def run_periodically(step: Callable[[], Awaitable[object]], *, every: timedelta, name: str) -> None:
    """Run `step` now and then every `every` until cancelled; a failed round is logged and tried again next time.
    Rounds run without SQL, Redis and S3 spans: with tracing on, every scan would be a root trace of its own, mostly
    of nothing to do."""
    while True:
        try:
            with suppress_instrumentation():
                await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - housekeeping retries next round
            log.exception("%s failed", name)
        await asyncio.sleep(every.total_seconds())


async def run_maintenance(deps: JobDeps, *, every: timedelta = timedelta(minutes=10)) -> None:
    await run_periodically(lambda: maintain_once(deps), every=every, name="maintenance round")


async def run_announcements(deps: JobDeps, *, every: timedelta = announce.SCAN_EVERY) -> None:
    """Scheduled publications are announced within `every` (plus a dispatch round) of their publish time."""
    await run_periodically(
        lambda: announce.announce_due(max_attempts=deps.settings.job_max_attempts),
        every=every,
        name="announcement scan",
    )


async def run_source_schedule(every: timedelta = source_runs.SCAN_EVERY) -> None:
    """Managed ingest sources run within `every` (plus a dispatch round) of their scheduled time."""
    await run_periodically(source_runs.schedule_due, every=every, name="source schedule scan")
