"""Run the real worker with a given plugin host: drain jobs with burst workers, or keep one running (cron)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import AsyncIterator, Awaitable, Callable

from arq.worker import Worker

from cms.jobstore.models import Job
from cms.media.storage import open_storage_from_settings
from cms.plugins import PluginHost
from cms.settings import Settings
from jobs.runner import JobDeps
from jobs.worker import build_worker, stop_worker
from tests.support.jobs import PENDING, arq_pool, dispatch, pending_work


async def drain_with(
    settings: Settings, plugins: PluginHost, *, rounds: int = 80, pause: float = 0.25, owns_plugins: bool = False
) -> None:
    """Like tests.support.jobs.drain, with burst workers built around `plugins` (so their job kinds run);
    `owns_plugins`: each worker starts and stops the plugins, as `cms worker` does."""
    deps = JobDeps(settings=settings, storage=open_storage_from_settings(settings), plugins=plugins)
    async with arq_pool(settings) as redis:
        for _ in range(rounds):
            await dispatch(settings, redis, deps=deps)
            if await redis.zcard(settings.queue_name):
                worker = build_worker(
                    settings, owns_database=False, handle_signals=False, burst=True, plugins=plugins,
                    owns_plugins=owns_plugins,
                )
                try:
                    await worker.async_run()
                finally:
                    await worker.close()
            if not await pending_work():
                return
            await asyncio.sleep(pause)
    left = await Job.filter(status__in=PENDING).values_list("id", "kind", "status", "attempts", "last_error")
    raise AssertionError(f"jobs still pending after {rounds} rounds: {left}")


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, plugins: PluginHost) -> AsyncIterator[Worker]:
    """A long-running worker (cron jobs, dispatcher, periodic scans) on this event loop, closed on exit."""
    worker = build_worker(settings, owns_database=False, handle_signals=False, plugins=plugins)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await stop_worker(worker, task)


async def eventually(check: Callable[[], Awaitable[bool] | bool], *, timeout: float = 30, what: str = "condition") -> None:
    """Wait until `check()` is true (polling; the generous timeout only bounds a failing test)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
