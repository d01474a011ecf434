"""Run jobs inside a test: relay the outbox, hand due jobs to Redis and let a burst worker run them, until done."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from arq import create_pool
from arq.connections import ArqRedis

from cms.core.db import PgTarget
from cms.core.outbox import OutboxEvent
from cms.core.redis import redis_settings
from cms.core.settings import Settings
from cms.media.storage import open_storage_from_settings
from cms.plugins.host import PluginHost
from cms.services import Services
from cms.worker import build_worker
from jobs import serialization
from jobs.dispatcher import dispatch_once
from jobs.kinds import EVENT_JOBS
from jobs.runner import JobDeps
from jobs.store.models import Job, JobStatus

PENDING = (JobStatus.QUEUED, JobStatus.RUNNING)


@contextlib.asynccontextmanager
async def arq_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """A Redis pool that speaks the worker's JSON job format (arq's default would be pickle)."""
    pool = await create_pool(
        redis_settings(settings),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=settings.queue_name,
    )
    try:
        yield pool
    finally:
        await pool.aclose()


async def pending_work() -> bool:
    """Jobs still to run, or outbox events that will become jobs."""
    if await Job.filter(status__in=PENDING).exists():
        return True
    return await OutboxEvent.filter(relayed_at__isnull=True, kind__in=list(EVENT_JOBS)).exists()


async def dispatch(
    settings: Settings, redis: ArqRedis, *, requeue_after: timedelta | None = None, deps: JobDeps | None = None
) -> None:
    """One round of the worker's background dispatcher: relay, sweep expired leases, hand due jobs to Redis."""
    await dispatch_once(
        redis,
        max_attempts=settings.job_max_attempts,
        queue_name=settings.queue_name,
        deps=deps or JobDeps(settings=settings, storage=open_storage_from_settings(settings)),
        requeue_after=requeue_after if requeue_after is not None else timedelta(seconds=settings.job_requeue_seconds),
    )


async def run_burst_worker(settings: Settings, *, plugins: PluginHost | None = None) -> None:
    """One arq worker in burst mode on this event loop (sharing the app's database connections).

    `plugins`: a host whose job kinds the worker runs (default: the installed plugins); the worker starts and stops
    them unless something else holds them running (the app does its own)."""
    worker = build_worker(Services(settings, plugins=plugins), handle_signals=False, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def drain(
    settings: Settings,
    *,
    rounds: int = 80,
    pause: float = 0.25,
    plugins: PluginHost | None = None,
) -> None:
    """Run every job (retries with their backoff included) until none is QUEUED or RUNNING; bounded.

    `plugins` goes to each burst worker (see run_burst_worker), so a test's plugin job kinds run."""
    deps = JobDeps(settings=settings, storage=open_storage_from_settings(settings), plugins=plugins)
    async with arq_pool(settings) as redis:
        for _ in range(rounds):
            await dispatch(settings, redis, deps=deps)
            if await redis.zcard(settings.queue_name):
                await run_burst_worker(settings, plugins=plugins)
            if not await pending_work():
                return
            await asyncio.sleep(pause)
    left = await Job.filter(status__in=PENDING).values_list("id", "kind", "status", "attempts", "last_error")
    raise AssertionError(f"jobs still pending after {rounds} rounds: {left}")


async def forget_queue(settings: Settings) -> int:
    """Drop one queue from Redis (its sorted set and the arq job keys it names): a targeted 'FLUSHALL'."""
    async with arq_pool(settings) as redis:
        ids = [i.decode() if isinstance(i, bytes) else i for i in await redis.zrange(settings.queue_name, 0, -1)]
        keys = [f"arq:job:{i}" for i in ids] + [f"arq:in-progress:{i}" for i in ids] + [f"arq:retry:{i}" for i in ids]
        keys += [settings.queue_name, f"{settings.queue_name}:health-check"]
        await redis.delete(*keys)
        return len(ids)


def database_url(target: PgTarget) -> str:
    """DATABASE_URL for a subprocess that should use the same database as the test."""
    auth = target.user + (f":{target.password}" if target.password else "")
    if target.host.startswith("/"):  # a Unix socket directory
        return f"postgresql://{auth}@localhost:{target.port}/{target.database}?host={target.host}"
    return f"postgresql://{auth}@{target.host}:{target.port}/{target.database}"
