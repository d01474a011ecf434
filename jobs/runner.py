"""Run one job by id: claim it in PostgreSQL, keep its lease alive, record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cms.core.outbox import Event
from cms.core.settings import Settings
from cms.media.storage import Storage
from cms.media.transcode.capabilities import Capabilities
from cms.plugins.host import PluginHost
from jobs.store import service as jobstore
from jobs.store.models import Job, JobStatus
from search.backend import SearchBackend

log = logging.getLogger("cms.jobs")


# Retrying cannot help (bad input file, say): the job is dead-lettered at once. One exception for core jobs and
# plugin jobs, which raise it by its public name, jobs.store.service.PermanentFailure.
PermanentJobError = jobstore.PermanentFailure


@dataclass(frozen=True)
class JobDeps:
    settings: Settings
    storage: Storage
    capabilities: Capabilities = Capabilities()
    plugins: PluginHost | None = None
    search: SearchBackend | None = None
    # The plugins' ingest sources by kind (jobs.ingest.sources), built once by the worker; None: read from
    # `plugins` by each ingest job.
    ingest_sources: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class JobKind:
    """A kind of job, declared beside its function: what runs, what a dead letter leaves behind, and which outbox
    events create one job of this kind each (jobs/kinds.py derives the relay's routing from these)."""

    name: str
    run: Callable[[JobDeps, dict[str, Any]], Awaitable[None]]
    # Called once when the job is dead-lettered, to leave the domain in a state a person can read.
    on_dead: Callable[[JobDeps, dict[str, Any], str], Awaitable[None]] | None = None
    timeout: timedelta = timedelta(hours=1)
    triggers: tuple[Event, ...] = ()
    # Its payload's asset_id ties the job to that asset (listed on `Asset.jobs`).
    about_asset: bool = False

    def __post_init__(self) -> None:
        # An event name that is not an Event fails here, when the job module is imported, not by routing nothing.
        object.__setattr__(self, "triggers", tuple(Event(trigger) for trigger in self.triggers))


async def _heartbeat(job: Job, lease: timedelta) -> None:
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        if not await jobstore.extend_lease(job, lease=lease):
            log.warning("job %s lost its lease while running", job.id)
            return


async def run_job(job_id: int, *, deps: JobDeps, kinds: dict[str, JobKind]) -> str:
    lease = timedelta(seconds=deps.settings.job_lease_seconds)
    job = await jobstore.claim(job_id, lease=lease)
    if job is None:
        return "skipped"
    kind = kinds.get(job.kind)
    if kind is None:
        await jobstore.fail(job, f"no handler for job kind {job.kind!r}", retryable=False)
        return "dead"
    beat = asyncio.create_task(_heartbeat(job, lease))
    try:
        await asyncio.wait_for(kind.run(deps, job.payload), timeout=kind.timeout.total_seconds())
    except PermanentJobError as exc:
        error = str(exc) or type(exc).__name__
        status = await jobstore.fail(job, error, retryable=False)
    except TimeoutError:
        error = f"timed out after {kind.timeout.total_seconds():.0f} s"
        status = await jobstore.fail(job, error)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job row
        log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
        error = f"{type(exc).__name__}: {exc}"
        status = await jobstore.fail(job, error)
    else:
        await jobstore.succeed(job)
        return "succeeded"
    finally:
        beat.cancel()
    if status == JobStatus.DEAD and kind.on_dead is not None:
        await kind.on_dead(deps, job.payload, error)
    return status.value.lower()
