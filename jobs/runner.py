"""Run one job by id: claim it in PostgreSQL, keep its lease alive, record the outcome.

Each attempt runs in a span "job <kind>" whose parent is the trace context stored on the job (the request, or the
job, that caused it; a root span for jobs nothing caused), with job_id, job_kind, the originating request_id and
trace_id bound to every log line, and is counted in jobs/metrics.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from cms.core import tracing
from cms.core.outbox import REQUEST_ID, Event
from cms.core.settings import Settings
from cms.media.storage import Storage
from cms.media.transcode.capabilities import Capabilities
from cms.plugins.host import PluginHost
from jobs import metrics
from jobs.store import service as jobstore
from jobs.store.models import Job, JobStatus
from search.backend import SearchBackend

log = logging.getLogger("cms.jobs")
_NO_TRACING = trace.NoOpTracer()


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
    # Media work (transcoding, on a GPU where there is one): handed to CMS_MEDIA_QUEUE_NAME, so a pool of GPU
    # workers can run these and nothing else.
    media: bool = False

    def __post_init__(self) -> None:
        # An event name that is not an Event fails here, when the job module is imported, not by routing nothing.
        object.__setattr__(self, "triggers", tuple(Event(trigger) for trigger in self.triggers))


async def _heartbeat(job: Job, lease: timedelta) -> None:
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        if not await jobstore.extend_lease(job, lease=lease):
            log.warning("job %s lost its lease while running", job.id)
            return


@contextlib.contextmanager
def _observed(job: Job) -> Iterator[trace.Span]:
    """The attempt's span, a child of the job's stored trace context (a root without one), and its log context."""
    carrier = job.context or {}
    parent = propagate.extract(carrier, context=Context())  # never the caller's current span: only the cause's
    attributes = {"job.id": job.id, "job.kind": job.kind, "job.attempt": job.attempts}
    # The process's own provider (cms/core/tracing.py), and nothing at all while tracing is off.
    tracer = tracing.tracer() if tracing.tracing_enabled() else _NO_TRACING
    with tracer.start_as_current_span(
        f"job {job.kind}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes, record_exception=False
    ) as span:
        own = span.get_span_context()
        # With tracing off here but on where the job came from, the logs still name the cause's trace.
        origin = own if own.is_valid else trace.get_current_span(parent).get_span_context()
        bound: dict[str, Any] = {"job_id": job.id, "job_kind": job.kind}
        if carrier.get(REQUEST_ID):
            bound[REQUEST_ID] = carrier[REQUEST_ID]
        if origin.is_valid:
            bound["trace_id"] = format(origin.trace_id, "032x")
        with structlog.contextvars.bound_contextvars(**bound):
            yield span


async def run_job(job_id: int, *, deps: JobDeps, kinds: dict[str, JobKind]) -> str:
    """Run one attempt of the job; its outcome: succeeded, retry (queued again), dead or skipped."""
    lease = timedelta(seconds=deps.settings.job_lease_seconds)
    job = await jobstore.claim(job_id, lease=lease)
    if job is None:
        # Run elsewhere, or no longer queued (a hand-over repeated after Redis lost track): rare, so one more query
        # for its kind; "unknown" for an id that is not in the table.
        kind_name = await Job.filter(id=job_id).first().values_list("kind", flat=True)
        metrics.job_finished(str(kind_name or "unknown"), metrics.SKIPPED)
        return metrics.SKIPPED
    started = time.perf_counter()
    with _observed(job) as span:
        outcome = await _attempt(job, span, deps=deps, kinds=kinds)
        span.set_attribute("job.outcome", outcome)
        if outcome != metrics.SUCCEEDED:
            span.set_status(Status(StatusCode.ERROR, outcome))
        seconds = time.perf_counter() - started
        log.info("job %s (%s) attempt %s: %s in %.3f s", job.id, job.kind, job.attempts, outcome, seconds)
    metrics.job_finished(job.kind, outcome, seconds)
    return outcome


async def _attempt(job: Job, span: trace.Span, *, deps: JobDeps, kinds: dict[str, JobKind]) -> str:
    lease = timedelta(seconds=deps.settings.job_lease_seconds)
    kind = kinds.get(job.kind)
    if kind is None:
        await jobstore.fail(job, f"no handler for job kind {job.kind!r}", retryable=False)
        return metrics.DEAD
    beat = asyncio.create_task(_heartbeat(job, lease))
    deadline = asyncio.timeout(kind.timeout.total_seconds())
    try:
        async with deadline:
            await kind.run(deps, job.payload)
    except PermanentJobError as exc:
        error = str(exc) or type(exc).__name__
        status = await jobstore.fail(job, error, retryable=False)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job row
        if isinstance(exc, TimeoutError) and deadline.expired():
            # The kind's own deadline; a TimeoutError the job itself raised (a client's timeout, the database's
            # safety net) is recorded as what it is, below.
            error = f"timed out after {kind.timeout.total_seconds():g} s"
        else:
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
            span.record_exception(exc)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        status = await jobstore.fail(job, error)
    else:
        await jobstore.succeed(job)
        return metrics.SUCCEEDED
    finally:
        beat.cancel()
    if status == JobStatus.DEAD and kind.on_dead is not None:
        await kind.on_dead(deps, job.payload, error)
    return metrics.DEAD if status == JobStatus.DEAD else metrics.RETRY
