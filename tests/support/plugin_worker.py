"""Keep the real worker running with a given plugin host (cron jobs, dispatcher, periodic scans); to drain jobs
with burst workers around a host, tests.support.jobs.drain(settings, plugins=host)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.worker import Worker

from cms.core.settings import Settings
from cms.plugins.host import PluginHost
from cms.services import Services
from cms.worker import build_worker, stop_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, plugins: PluginHost) -> AsyncIterator[Worker]:
    """A long-running worker (cron jobs, dispatcher, periodic scans) on this event loop, closed on exit."""
    worker = build_worker(Services(settings, plugins=plugins), handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await stop_worker(worker, task)
