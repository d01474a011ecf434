"""The arq worker: `cms worker` runs it alone; `cms serve` can run one inside the API process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from arq.worker import Worker, func

from cms import db
from cms.media.storage import open_storage_from_settings
from cms.media.transcode.capabilities import detect
from cms.plugins import PluginHost
from cms.redis import redis_settings
from cms.settings import Settings
from jobs import ingest, plugin_jobs, serialization
from jobs.dispatcher import RUN_JOB, run_dispatcher
from jobs.kinds import KINDS
from jobs.maintenance import run_announcements, run_maintenance
from jobs.runner import JobDeps, run_job
from search.backend import SearchBackend
from search.factory import open_search_backend


def build_worker(
    settings: Settings,
    *,
    owns_database: bool,
    handle_signals: bool = True,
    burst: bool = False,
    plugins: PluginHost | None = None,
    owns_plugins: bool | None = None,
    search: SearchBackend | None = None,
) -> Worker:
    """`owns_database`: open and close the database here (standalone) or reuse the host's (inside the API).
    `plugins`: the plugin host (default: the installed plugins, loaded now); its job kinds join the core kinds and
    its cron jobs are scheduled by arq (jobs/plugin_jobs.py). `owns_plugins`: call the plugins' cms_startup and
    cms_shutdown here, around the jobs (default: when the host is loaded here; the API starts its own).
    `search`: the backend index jobs write to (default: one opened at startup and closed at shutdown here; the API
    passes its own, which it closes)."""
    host = plugins if plugins is not None else PluginHost(disabled=settings.plugins_disabled).load()
    if owns_plugins is None:
        owns_plugins = plugins is None
    kinds = plugin_jobs.merge_job_kinds(KINDS, host)
    sources = ingest.sources(host)  # once per worker: a clash is reported once, not on every ingest job
    # A burst worker leaves once the queue is empty: cron schedules belong to long-running workers.
    cron_jobs = [] if burst else plugin_jobs.cron_jobs(host, reserved={RUN_JOB})

    async def startup(ctx: dict[str, Any]) -> None:
        if owns_database:
            await db.open_database(settings, db.resolve_target(settings))
        if owns_plugins:  # before any job runs: job functions may use what a plugin opens at startup
            await host.startup(settings)
            ctx["plugins_started"] = True
        capabilities = await asyncio.to_thread(detect, try_gpu=settings.try_gpu)
        ctx["deps"] = deps = JobDeps(
            settings=settings,
            storage=open_storage_from_settings(settings),
            capabilities=capabilities,
            plugins=host,
            search=search if search is not None else open_search_backend(settings),
            ingest_sources=sources,
        )
        # What plugin cron functions find in their ctx (arq adds job_id, job_try, enqueue_time, score, redis).
        ctx.update(plugin_jobs.cron_context(deps))
        ctx["maintenance"] = asyncio.create_task(run_maintenance(deps))
        ctx["announcements"] = asyncio.create_task(run_announcements(deps))
        ctx["dispatcher"] = asyncio.create_task(
            run_dispatcher(
                ctx["redis"],
                max_attempts=settings.job_max_attempts,
                requeue_after=timedelta(seconds=settings.job_requeue_seconds),
                queue_name=settings.queue_name,
                poll_seconds=settings.job_poll_seconds,
                deps=ctx["deps"],
            )
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        for name in ("dispatcher", "maintenance", "announcements"):
            task = ctx.get(name)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if "deps" in ctx and search is None:  # opened at startup
            await ctx["deps"].search.close()
        if ctx.get("plugins_started"):
            await host.shutdown()
        if owns_database:
            await db.close_database()

    async def run(ctx: dict[str, Any], job_id: int) -> str:
        return await run_job(int(job_id), deps=ctx["deps"], kinds=kinds)  # type: ignore[arg-type]

    return Worker(
        functions=[func(run, name=RUN_JOB, max_tries=1)],
        cron_jobs=cron_jobs,
        on_startup=startup,
        on_shutdown=shutdown,
        redis_settings=redis_settings(settings),
        queue_name=settings.queue_name,
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


@contextlib.asynccontextmanager
async def inline_worker(
    settings: Settings, plugins: PluginHost | None = None, search: SearchBackend | None = None
) -> AsyncIterator[None]:
    """Run a worker inside the API process for the one-command experience; `plugins` and `search`: the app's host
    and search backend (which the app starts and closes), so that the process has one of each."""
    worker = build_worker(settings, owns_database=False, handle_signals=False, plugins=plugins, search=search)
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        await stop_worker(worker, task)


async def stop_worker(worker: Worker, task: asyncio.Task) -> None:
    """Stop a worker started with `async_run` in `task`, running its shutdown (our background loops) every time.

    arq's `close()` alone re-raises a cancelled job's CancelledError and then skips `on_shutdown`, leaving the
    dispatcher and scans running. Jobs cut short keep their PostgreSQL lease and run again elsewhere.
    """
    worker.handle_sig(signal.SIGUSR1)  # cancels the running jobs and the poll loop
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    await worker.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
