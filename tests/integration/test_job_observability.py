"""Jobs are observable: a mutation's request id and trace reach the jobs it causes (their spans and log lines),
jobs and queues are measured (outcomes, durations, retries, dead letters, ready depth and age by queue, outbox and
search index lag, transcode speed), and media jobs go to their own queue when the pools are split.

In-process: the app on loopback and burst workers on the test's event loop (tests/support/jobs.py), with an
in-memory span exporter (tracing on for the tests that ask for it); metrics read from prometheus_client's registry.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from cms.api.ids import from_global_id
from cms.core import outbox
from cms.core.outbox import Event, OutboxEvent
from cms.core.settings import Settings
from cms.core.tracing import configure_tracing, shutdown_tracing
from cms.media.models import Asset, AssetStatus
from cms.media.storage import open_storage_from_settings
from jobs import metrics
from jobs.dispatcher import dispatch_once
from jobs.kinds import MEDIA_JOBS
from jobs.runner import JobDeps, JobKind, PermanentJobError, run_job
from jobs.store import service as jobstore
from jobs.store.models import Job, JobStatus
from tests.support import media
from tests.support.api import Api, operation
from tests.support.job_plugins import Sources, host_with
from tests.support.jobs import arq_pool, drain, run_burst_worker
from tests.support.uploads import empty_areas, make_episode, upload_direct


@pytest.fixture
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process for one test, off again afterwards (the live server is shared)."""
    shutdown_tracing()
    exporter = InMemorySpanExporter()
    assert configure_tracing(settings, "cms-api", exporter=exporter) is not None
    try:
        yield exporter
    finally:
        shutdown_tracing()


class ContextCapture(logging.Handler):
    """Each log record of the job loggers with the structlog context bound when it was logged (what the JSON
    formatter merges into the line)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append({"message": record.getMessage(), **structlog.contextvars.get_contextvars()})


@pytest.fixture
def job_logs() -> Iterator[ContextCapture]:
    handler, logger = ContextCapture(), logging.getLogger("cms.jobs")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(autouse=True)
def empty_storage(settings: Settings) -> None:
    empty_areas(settings.data_dir)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


async def test_a_mutations_request_id_and_trace_reach_the_jobs_it_causes(
    api: Api, settings: Settings, spans: InMemorySpanExporter, job_logs: ContextCapture
) -> None:
    request_id = f"obs-{uuid.uuid4().hex[:12]}"
    headers = {"authorization": f"Bearer {api.token('editor')}", "x-request-id": request_id}
    body = {"query": operation("CreateProgram"), "variables": {"input": {"title": "Traced show"}}}
    response = await api.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200 and response.headers["x-request-id"] == request_id, response.text
    assert response.json()["data"]["createProgram"]["__typename"] == "Program", response.text

    # The event carries where it came from, and so does the job the relay makes of it.
    [event] = await OutboxEvent.filter(kind=Event.PROGRAM_CREATE)
    assert event.context is not None and event.context["request_id"] == request_id, event.context
    assert event.context["traceparent"].startswith("00-"), event.context
    await drain(settings)
    [job] = await Job.filter(kind="index_content")
    assert job.status == JobStatus.SUCCEEDED and job.context == event.context

    finished = spans.get_finished_spans()
    [http] = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /graphql"]
    [job_span] = [s for s in finished if s.name == "job index_content"]
    assert job_span.attributes is not None
    assert (job_span.attributes["job.id"], job_span.attributes["job.kind"], job_span.attributes["job.attempt"]) == (
        job.id,
        "index_content",
        1,
    )
    # A child, in the request's trace, of a span of that trace (the HTTP span or one inside it).
    trace_id = hex_trace(http)
    assert hex_trace(job_span) == trace_id
    in_trace = {s.context.span_id for s in finished if s.context is not None and hex_trace(s) == trace_id}
    assert job_span.parent is not None and job_span.parent.span_id in in_trace, job_span.parent

    # Admins find it by the request id too.
    listed = await api.data("{ jobs(first: 10) { edges { node { kind requestId } } } }", role="admin")
    assert {"kind": "index_content", "requestId": request_id} in [e["node"] for e in listed["jobs"]["edges"]]

    # Every line logged while the job ran names the job, the request that caused it and its trace.
    lines = [line for line in job_logs.lines if line.get("job_id") == job.id]
    assert lines, job_logs.lines
    for line in lines:
        assert (line["job_kind"], line["request_id"], line["trace_id"]) == ("index_content", request_id, trace_id)


async def test_a_job_nothing_caused_gets_a_root_span(api: Api, settings: Settings, spans: InMemorySpanExporter) -> None:
    job = await jobstore.enqueue("obs_root", {})  # a command or a schedule: no request, no span around it
    assert job.context is None
    kinds = {"obs_root": JobKind(name="obs_root", run=_succeed)}
    assert await run_job(job.id, deps=_deps(settings), kinds=kinds) == "succeeded"
    [span] = [s for s in spans.get_finished_spans() if s.name == "job obs_root"]
    assert span.parent is None


async def _succeed(deps: JobDeps, payload: dict[str, Any]) -> None:
    pass


async def _fail(deps: JobDeps, payload: dict[str, Any]) -> None:
    raise RuntimeError("flaky dependency")


async def _refuse(deps: JobDeps, payload: dict[str, Any]) -> None:
    raise PermanentJobError("bad input")


def _deps(settings: Settings) -> JobDeps:
    return JobDeps(settings=settings, storage=open_storage_from_settings(settings))


async def test_job_outcomes_durations_retries_and_dead_letters_are_counted(api: Api, settings: Settings) -> None:
    kind = f"obs_{uuid.uuid4().hex[:8]}"  # a kind of this test's own: its series start at zero
    kinds = {kind: JobKind(name=kind, run=_succeed)}
    deps = _deps(settings)
    ok = await jobstore.enqueue(kind, {"n": 1})
    assert await run_job(ok.id, deps=deps, kinds=kinds) == "succeeded"
    assert await run_job(ok.id, deps=deps, kinds=kinds) == "skipped"  # handed over twice: runs once

    kinds = {kind: JobKind(name=kind, run=_fail)}
    flaky = await jobstore.enqueue(kind, {"n": 2}, max_attempts=2)
    assert await run_job(flaky.id, deps=deps, kinds=kinds) == "retry"
    await Job.filter(id=flaky.id).update(run_after=None)  # past its backoff
    assert await run_job(flaky.id, deps=deps, kinds=kinds) == "dead"  # its last attempt

    kinds = {kind: JobKind(name=kind, run=_refuse)}
    refused = await jobstore.enqueue(kind, {"n": 3})
    assert await run_job(refused.id, deps=deps, kinds=kinds) == "dead"  # permanent: no retry

    counts = {o: sample("cms_jobs_total", kind=kind, outcome=o) for o in ("succeeded", "retry", "dead", "skipped")}
    assert counts == {"succeeded": 1, "retry": 1, "dead": 2, "skipped": 1}
    assert sample("cms_job_retries_total", kind=kind) == 1
    assert sample("cms_job_dead_letters_total", kind=kind) == 2
    assert sample("cms_job_duration_seconds_count", kind=kind) == 4  # attempts that ran
    assert sample("cms_job_duration_seconds_sum", kind=kind) > 0


async def test_queue_depth_oldest_age_outbox_and_index_lag_gauges(api: Api, settings: Settings) -> None:
    main, media_queue = f"obs-main:{uuid.uuid4().hex[:8]}", f"obs-media:{uuid.uuid4().hex[:8]}"

    async def refresh() -> None:
        await metrics.refresh_gauges(main_queue=main, media_queue=media_queue, media_kinds=MEDIA_JOBS)

    await refresh()
    assert sample("cms_queue_depth", queue=main) == sample("cms_queue_depth", queue=media_queue) == 0
    assert sample("cms_queue_oldest_ready_age_seconds", queue=main) == 0
    assert sample("cms_outbox_unrelayed") == sample("cms_outbox_lag_seconds") == 0
    assert sample("cms_search_index_lag_seconds") == 0

    waiting = [await jobstore.enqueue("obs_wait", {"n": n}) for n in range(3)]
    await jobstore.enqueue("obs_wait", {"n": 9}, run_after=jobstore._now() + timedelta(hours=1))  # not due: not ready
    await jobstore.enqueue("process_asset", {"asset_id": 0})  # media work: the media queue's
    await Job.filter(id=waiting[0].id).update(created_at=jobstore._now() - timedelta(minutes=2))
    # One media job held by a worker: running, not waiting (the media pool scales on both).
    held = await jobstore.enqueue("process_asset", {"asset_id": 1})
    await Job.filter(id=held.id).update(status="RUNNING")
    # A content change not relayed yet, recorded a minute ago: the outbox and the search index are behind.
    event = await outbox.emit(Event.PROGRAM_UPDATE, id=0)
    await OutboxEvent.filter(id=event.id).update(created_at=jobstore._now() - timedelta(minutes=1))
    await refresh()
    assert sample("cms_queue_depth", queue=main) == 3
    assert sample("cms_queue_depth", queue=media_queue) == 1
    assert sample("cms_queue_running", queue=media_queue) == 1
    assert sample("cms_queue_running", queue=main) == 0
    assert 120 <= sample("cms_queue_oldest_ready_age_seconds", queue=main) < 600
    assert 0 <= sample("cms_queue_oldest_ready_age_seconds", queue=media_queue) < 60
    assert sample("cms_outbox_unrelayed") == 1
    assert 60 <= sample("cms_outbox_lag_seconds") < 600
    assert 60 <= sample("cms_search_index_lag_seconds") < 600

    # Relayed, the outbox is current; the index job it made still waits, so the index is still behind.
    await Job.filter(kind="obs_wait").delete()
    await outbox.OutboxEvent.filter(id=event.id).update(relayed_at=jobstore._now())
    await refresh()
    assert sample("cms_queue_depth", queue=main) == 0
    assert sample("cms_outbox_unrelayed") == sample("cms_outbox_lag_seconds") == 0


async def test_split_queues_media_jobs_run_only_on_the_media_workers(api: Api, settings: Settings) -> None:
    split = settings.model_copy(
        update={
            "queue_name": f"obs-cpu:{uuid.uuid4().hex[:8]}",
            "media_queue_name": f"obs-gpu:{uuid.uuid4().hex[:8]}",
        }
    )
    gpu = split.model_copy(update={"worker_queue_name": split.media_queue})
    await upload_direct(api, await make_episode(api), media.mp4_clip(seed=11))
    asset = await Asset.get(status=AssetStatus.PROCESSING)
    realtime_before = sample("cms_transcode_realtime_factor_count", rung="ladder", encoder="libx264")

    async with arq_pool(split) as redis:

        async def dispatch() -> None:
            await dispatch_once(
                redis,
                max_attempts=split.job_max_attempts,
                requeue_after=timedelta(seconds=split.job_requeue_seconds),
                queue_name=split.queue_name,
                media_queue_name=split.media_queue,
            )

        # The CPU pool's worker persists the upload; the transcode it causes waits on the media queue.
        for _ in range(40):
            await dispatch()
            await run_burst_worker(split)
            if await Job.exists(asset_id=asset.id, kind="process_asset", enqueued_at__isnull=False):
                break
        persist = await Job.get(asset_id=asset.id, kind="persist_asset")
        process = await Job.get(asset_id=asset.id, kind="process_asset")
        assert persist.status == JobStatus.SUCCEEDED, persist.last_error
        await run_burst_worker(split)  # once more: still not its job
        await process.refresh_from_db()
        assert (process.status, process.attempts) == (JobStatus.QUEUED, 0)
        assert await redis.zcard(split.media_queue) == 1 and await redis.zcard(split.queue_name) == 0

        # A GPU pool worker (CMS_WORKER_QUEUE = the media queue) runs it.
        await run_burst_worker(gpu)
        await process.refresh_from_db()
        assert process.status == JobStatus.SUCCEEDED, process.last_error
    await asset.refresh_from_db()
    assert asset.status == AssetStatus.READY
    # The transcode's speed was measured: the whole ladder, and each rung on its own.
    assert sample("cms_transcode_realtime_factor_count", rung="ladder", encoder="libx264") == realtime_before + 1
    assert sample("cms_transcode_fps_sum", rung="ladder", encoder="libx264") > 0
    rungs = [
        m
        for m in REGISTRY.collect()
        if m.name == "cms_transcode_fps"
        for s in m.samples
        if s.name.endswith("_count") and s.labels["rung"] not in ("ladder",)
    ]
    assert rungs, "no per-rung transcode speed"


class Listing:
    """An ingest source of a kind of this test's own, listing two items without media and one without an id."""

    def __init__(self) -> None:
        self.kind = f"obs{uuid.uuid4().hex[:6]}"

    async def discover(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"external_id": "a", "title": "A"}, {"external_id": "b", "title": "B"}, {"title": "no id"}]

    async def fetch(self, item: dict[str, Any], dest: Path) -> None:
        return None  # an item without media: the episode alone


async def test_ingest_items_are_counted_by_source_kind(api: Api, settings: Settings) -> None:
    """A poll counts what it found by the source's kind (never a source id), and each item brought in."""
    listing = Listing()
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Ingested"}}, role="editor"))[
        "createProgram"
    ]
    program_id = int(from_global_id(program["id"])[1])
    await jobstore.enqueue("ingest_poll", {"source": listing.kind, "program_id": program_id})
    await drain(settings, plugins=host_with(feeds=Sources(listing)))
    assert sample("cms_ingest_items_total", source=listing.kind, outcome="new") == 2
    assert sample("cms_ingest_items_total", source=listing.kind, outcome="failed") == 1
    assert sample("cms_ingest_items_total", source=listing.kind, outcome="imported") == 2
