"""Keep the real worker running with a given plugin host (cron jobs, dispatcher, periodic scans); to drain jobs
with burst workers around a host, tests.support.jobs.drain(settings, plugins=host)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.worker import Worker

from cms.plugins import PluginHost
from cms.settings import Settings
from jobs.worker import build_worker, stop_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, plugins: PluginHost) -> AsyncIterator[Worker]:
    """A long-running worker (cron jobs, dispatcher, periodic scans) on this event loop, closed on exit."""
    worker = build_worker(settings, owns_database=False, handle_signals=False, plugins=plugins)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await stop_worker(worker, task)
