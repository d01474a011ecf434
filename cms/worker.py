"""The arq worker: `cms worker` runs it alone; `cms serve` can run one inside the API process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from arq.worker import Worker, func

from cms.core.redis import redis_settings
from cms.services import Services
from jobs import ingest, plugins, serialization
from jobs.dispatcher import RUN_JOB, run_dispatcher
from jobs.kinds import KINDS
from jobs.maintenance import run_announcements, run_maintenance, run_source_schedule
from jobs.runner import JobDeps, run_job


def build_worker(services: Services, *, handle_signals: bool = True, burst: bool = False) -> Worker:
    """An arq worker running the job table's jobs with `services`, which it enters at startup and leaves at shutdown
    (inside `cms serve` the app holds them too, so they stay open). The plugins' job kinds join the core kinds and
    their cron jobs are scheduled by arq (jobs/plugins.py)."""
    settings, host = services.settings, services.plugins
    kinds = plugins.merge_job_kinds(KINDS, host)
    sources = ingest.sources(host, settings)  # once per worker: a clash is reported once, not on every ingest job
    # A burst worker leaves once the queue is empty: cron schedules belong to long-running workers.
    cron_jobs = [] if burst else plugins.cron_jobs(host, reserved={RUN_JOB})

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
                poll_seconds=settings.job_poll_seconds,
                deps=deps,
            ),
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


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def inline_worker(services: Services) -> AsyncIterator[None]:
    """Run a worker inside the API process for the one-command experience, on the app's services."""
    worker = build_worker(services, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        await stop_worker(worker, task)


async def stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
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
