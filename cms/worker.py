"""The arq worker: `cms worker` runs it alone; `cms serve` can run one inside the API process.

A worker consumes one queue (CMS_WORKER_QUEUE, default CMS_QUEUE_NAME): the main queue, or the media queue of a GPU
pool. Every worker relays the outbox and hands due jobs to their queue, refreshes the database-backed job metrics,
and records every CMS_WORKER_HEALTH_SECONDS that it is alive (`cms worker-health` reads that).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis, create_pool
from arq.worker import Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cms.core.redis import redis_settings
from cms.core.settings import Settings
from cms.services import Services
from jobs import ingest, plugins, serialization
from jobs.dispatcher import RUN_JOB, run_dispatcher
from jobs.kinds import KINDS, MEDIA_JOBS
from jobs.maintenance import run_announcements, run_maintenance, run_source_schedule
from jobs.metrics import run_gauges
from jobs.runner import JobDeps, run_job

log = logging.getLogger("cms.worker")
# `cms worker` serves its metrics here unless CMS_METRICS_PORT says otherwise (OpenTelemetry's Prometheus exporter
# port, a common default for a process's own metrics endpoint).
WORKER_METRICS_PORT = 9464
HEALTH_SUFFIX = ":health-check:"


def health_key(queue: str, host: str | None = None) -> str:
    """Where a worker on `host` (this machine, or pod, by default) records its health: one key per queue and host,
    so a probe inside a pod checks that pod's worker, not whichever worker of the queue wrote last."""
    return f"{queue}{HEALTH_SUFFIX}{host or socket.gethostname()}"


def build_worker(services: Services, *, handle_signals: bool = True, burst: bool = False) -> Worker:
    """An arq worker running the job table's jobs with `services`, which it enters at startup and leaves at shutdown
    (inside `cms serve` the app holds them too, so they stay open). The plugins' job kinds join the core kinds and
    their cron jobs are scheduled by arq (jobs/plugins.py)."""
    settings, host = services.settings, services.plugins
    kinds = plugins.merge_job_kinds(KINDS, host)
    sources = ingest.sources(host, settings)  # once per worker: a clash is reported once, not on every ingest job
    queue = settings.worker_queue
    # A burst worker leaves once the queue is empty: cron schedules belong to long-running workers, and to those of
    # the main queue only (arq schedules cron jobs per queue: a media pool would run each a second time).
    cron_jobs = [] if burst or queue != settings.queue_name else plugins.cron_jobs(host, reserved={RUN_JOB})

    async def startup(ctx: dict[str, Any]) -> None:
        stack = ctx["stack"] = contextlib.AsyncExitStack()
        # Before any job runs: job functions may use what a plugin opens at startup.
        await stack.enter_async_context(services.running())
        ctx["deps"] = deps = JobDeps(
            settings=settings,
            storage=services.storage,
            capabilities=await services.capabilities(),
            plugins=host,
            search=services.search,
            ingest_sources=sources,
        )
        # What plugin cron functions find in their ctx (arq adds job_id, job_try, enqueue_time, score, redis).
        ctx.update(plugins.cron_context(deps))
        for loop in (
            run_maintenance(deps),
            run_announcements(deps),
            run_source_schedule(),
            run_dispatcher(
                ctx["redis"],
                max_attempts=settings.job_max_attempts,
                requeue_after=timedelta(seconds=settings.job_requeue_seconds),
                queue_name=settings.queue_name,
                media_queue_name=settings.media_queue,
                poll_seconds=settings.job_poll_seconds,
                deps=deps,
            ),
            run_gauges(main_queue=settings.queue_name, media_queue=settings.media_queue, media_kinds=MEDIA_JOBS),
        ):
            stack.push_async_callback(_cancel, asyncio.create_task(loop))

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "stack" in ctx:
            await ctx.pop("stack").aclose()

    async def run(ctx: dict[str, Any], job_id: int) -> str:
        return await run_job(int(job_id), deps=ctx["deps"], kinds=kinds)  # type: ignore[arg-type]

    return Worker(
        functions=[func(run, name=RUN_JOB, max_tries=1)],
        cron_jobs=cron_jobs,
        on_startup=startup,
        on_shutdown=shutdown,
        redis_settings=redis_settings(settings),
        queue_name=queue,
        health_check_interval=settings.worker_health_seconds,
        health_check_key=health_key(queue),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        # PostgreSQL's lease and the runner's per-kind timeout govern jobs; arq's only backstops them.
        job_timeout=timedelta(hours=6),
        keep_result=60,
        max_jobs=4,
        poll_delay=0.2,
        handle_signals=handle_signals,
        burst=burst,
    )


def serve_metrics(settings: Settings) -> int | None:
    """Serve this process's metrics (prometheus_client's registry: jobs, queues, transcodes) over HTTP on
    CMS_METRICS_HOST:CMS_METRICS_PORT (default 9464); the port, or None when metrics are off or the port is taken
    (a second worker on one machine: the worker runs on without it, and says so)."""
    if not settings.metrics_enabled:
        return None
    from prometheus_client import start_http_server

    port = settings.metrics_port if settings.metrics_port is not None else WORKER_METRICS_PORT
    try:
        server, _ = start_http_server(port, addr=settings.metrics_host)
    except OSError as exc:
        log.warning(
            "worker metrics not served: %s:%s is not free (%s); set CMS_METRICS_PORT", settings.metrics_host, port, exc
        )
        return None
    bound = int(server.server_port)
    log.info("worker metrics on http://%s:%d/metrics", settings.metrics_host, bound)
    return bound


def check_heartbeat(settings: Settings) -> str | None:
    """The heartbeat record of a worker of CMS_WORKER_QUEUE under this data dir when it was written within twice
    CMS_WORKER_HEALTH_SECONDS, else None: the liveness check, which a Redis outage does not fail."""
    path = heartbeat_path(settings)
    try:
        age, record = time.time() - path.stat().st_mtime, path.read_text()
    except FileNotFoundError:
        return None
    return record if age <= 2 * settings.worker_health_seconds else None


async def check_health(settings: Settings) -> str | None:
    """What the newest health record in Redis of a worker of CMS_WORKER_QUEUE on any host says (arq writes one per
    host every CMS_WORKER_HEALTH_SECONDS, with a time to live), or None when there is none."""
    queue = settings.worker_queue
    # One try with a short timeout: a probe must answer, not wait for Redis to come back.
    redis: ArqRedis = await create_pool(replace(redis_settings(settings), conn_retries=0, conn_timeout=3))
    try:
        keys = [key async for key in redis.scan_iter(match=f"{queue}{HEALTH_SUFFIX}*", count=100)]
        value = next((v for v in await redis.mget(keys) if v is not None), None) if keys else None
    finally:
        await redis.aclose()
    return value.decode(errors="replace") if isinstance(value, bytes) else value


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# What says Redis went away under a worker (arq's poll loop raises it and the worker ends).
_REDIS_LOST: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)
RESTART_SECONDS = (1.0, 30.0)  # the wait before a fresh worker after a failure: first, and at most (doubling)
STEADY_SECONDS = 60.0  # a worker that ran this long before failing starts the backoff again from its first wait


def heartbeat_path(settings: Settings) -> Path:
    """Where a worker of CMS_WORKER_QUEUE under this data dir records that its event loop runs (`cms worker-health`
    reads it): a local file, so a liveness probe does not depend on Redis being up."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", settings.worker_queue)
    return settings.data_dir / "health" / f"worker-{safe}.json"


async def _heartbeat(settings: Settings, state: dict[str, Any]) -> None:
    path = heartbeat_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    while True:
        scratch.write_text(json.dumps({"pid": os.getpid(), "queue": settings.worker_queue, **state}))
        os.replace(scratch, path)  # whole or not at all: a probe never reads half a record
        await asyncio.sleep(settings.worker_health_seconds)


async def run_worker(services: Services, *, stop: asyncio.Event, burst: bool = False) -> None:
    """Run a worker until `stop` is set (a burst worker: until its queue is empty). The services stay open across
    workers. When a worker fails (Redis went away: arq's poll loop does not survive it), a fresh one starts at once
    if it can, else after a backoff, while the lost worker's running jobs go on (their state is in PostgreSQL); the
    heartbeat file keeps saying the process is alive meanwhile, so an orchestrator does not kill it for an outage
    of Redis. Jobs left in the lost queue are handed over again by the dispatcher."""
    state: dict[str, Any] = {"workers_started": 0, "last_failure": None}
    orphans: set[asyncio.Task[Any]] = set()  # jobs of lost workers, still running
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(services.running())
        if not burst:
            stack.push_async_callback(_cancel, asyncio.create_task(_heartbeat(services.settings, state)))
        stack.push_async_callback(_finish, orphans)
        wait = RESTART_SECONDS[0]
        while not stop.is_set():
            worker = build_worker(services, handle_signals=False, burst=burst)
            state["workers_started"] += 1
            started = time.monotonic()
            task = asyncio.create_task(worker.async_run())
            try:
                await _until_done_or(task, stop)
            finally:
                stopped = not task.done()  # asked to stop, or this task is being cancelled
                if stopped:
                    await stop_worker(worker, task)
            if stopped:
                return
            failure = None if task.cancelled() else task.exception()
            if failure is None and burst:
                await _wind_down(worker)
                return
            # A worker only ends by itself when something broke: wind it down without waiting for its jobs.
            for job in worker.tasks.values():
                if not job.done():
                    orphans.add(job)
                    job.add_done_callback(_forget(orphans))
            worker.tasks.clear()
            await _wind_down(worker)
            what = "lost Redis" if isinstance(failure, _REDIS_LOST) else "failed"
            log.warning("worker %s (%s); starting a fresh one", what, _describe(failure), exc_info=failure)
            state["last_failure"] = f"{what}: {_describe(failure)}"
            if burst:
                raise failure or RuntimeError("burst worker cancelled")
            wait = RESTART_SECONDS[0] if time.monotonic() - started > STEADY_SECONDS else wait
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            wait = min(wait * 2, RESTART_SECONDS[1])


def _describe(failure: BaseException | None) -> str:
    return "cancelled" if failure is None else f"{type(failure).__name__}: {failure}"


async def _until_done_or(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


def _forget(jobs: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    """A lost worker's job, once done, leaves the set; what arq's wrapper raised after it (recording its result in
    the Redis that went away) is read here so asyncio does not report it: the outcome is in PostgreSQL."""

    def done(job: asyncio.Task[Any]) -> None:
        jobs.discard(job)
        if not job.cancelled():
            job.exception()

    return done


async def _finish(jobs: set[asyncio.Task[Any]]) -> None:
    """At the end, jobs of lost workers are cut short like the current worker's (their leases resume them)."""
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


@contextlib.asynccontextmanager
async def inline_worker(services: Services) -> AsyncIterator[None]:
    """Run a worker inside the API process for the one-command experience, on the app's services."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(services, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    """Stop a worker started with `async_run` in `task`, running its shutdown (our background loops) every time.

    arq's `close()` alone re-raises a cancelled job's CancelledError and then skips `on_shutdown`, leaving the
    dispatcher and scans running. Jobs cut short keep their PostgreSQL lease and run again elsewhere.
    """
    worker.handle_sig(signal.SIGUSR1)  # cancels the running jobs and the poll loop
    await _wind_down(worker)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _wind_down(worker: Worker) -> None:
    """What arq's `close()` does, with a Redis that may be gone: wait for the running jobs (their outcome is
    recorded in PostgreSQL), run our shutdown (the background loops, the services), then drop the Redis pool."""
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    pool = worker._pool  # noqa: SLF001 - arq keeps it private; close() would fail on a Redis that is gone
    if pool is not None:
        with contextlib.suppress(*_REDIS_LOST):
            await pool.delete(worker.health_check_key)
    if worker.on_shutdown is not None:
        await worker.on_shutdown(worker.ctx)
    if pool is not None:
        with contextlib.suppress(*_REDIS_LOST):
            await pool.aclose()
        worker._pool = None  # noqa: SLF001
