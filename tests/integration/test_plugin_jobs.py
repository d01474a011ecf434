"""Plugin job kinds run through the job table (retries, dead letter, retryJob); plugin cron jobs run on a real arq
worker, once per tick across workers; whatever a plugin gets wrong is reported with its name and skipped."""

from __future__ import annotations

import logging

import pytest

from cms.api.ids import from_global_id, to_global_id
from cms.core.errors import Invalid
from cms.core.settings import Settings
from cms.media.storage import Storage
from cms.services import Services
from cms.worker import build_worker
from jobs.kinds import KINDS
from jobs.plugins import cron_jobs, merge_job_kinds
from jobs.store.models import Job, JobStatus
from jobs.store.service import enqueue
from tests.support.api import Api, operation
from tests.support.job_plugins import (
    ClashingKinds,
    Crons,
    EmptyFeed,
    JobKinds,
    NotADict,
    Sources,
    WithClient,
    host_with,
)
from tests.support.jobs import drain, run_burst_worker
from tests.support.plugin_worker import running_worker
from tests.support.processes import eventually
from tests.support.uploads import JOBS, RETRY_JOB


async def status_of(job: Job) -> tuple[JobStatus, int, str | None]:
    await job.refresh_from_db()
    return job.status, job.attempts, job.last_error


async def test_a_plugin_job_runs_through_the_job_table_with_its_ctx(api: Api, settings: Settings) -> None:
    plugin = JobKinds()
    host = host_with(testplug=plugin)
    job = await enqueue("testplug.echo", {"episode_id": 7, "note": "hi"})
    assert await enqueue("testplug.echo", {"n": 1}, dedupe_key="testplug:once") == await enqueue(
        "testplug.echo", {"n": 2}, dedupe_key="testplug:once"
    )  # the second call finds the first job

    await drain(settings, plugins=host)
    assert (await status_of(job))[:2] == (JobStatus.SUCCEEDED, 1)
    payloads = [p for _, p in plugin.calls]
    assert len(payloads) == 2 and {"episode_id": 7, "note": "hi"} in payloads and {"n": 1} in payloads, payloads
    ctx = plugin.calls[0][0]
    assert set(ctx) == {"settings", "storage", "plugins", "kind"}
    assert ctx["settings"] is settings and ctx["plugins"] is host and ctx["kind"] == "testplug.echo"
    assert isinstance(ctx["storage"], Storage)


async def test_a_worker_that_owns_its_plugins_starts_them_before_jobs_and_stops_them_after(
    api: Api, settings: Settings
) -> None:
    plugin = WithClient()
    host = host_with(client=plugin)
    job = await enqueue("client.use", {})
    await drain(settings, plugins=host)
    assert (await status_of(job))[0] == JobStatus.SUCCEEDED
    assert plugin.events[:3] == ["startup", "job", "shutdown"]
    assert plugin.events.count("startup") == plugin.events.count("shutdown")  # each worker stopped what it started
    # A worker beside the app (the inline worker) shares the app's plugins: the app starts and stops them.
    async with host.running(settings):  # as the app holds them
        before = list(plugin.events)
        await run_burst_worker(settings, plugins=host)
        assert plugin.events == before


async def test_enqueue_refuses_what_a_job_row_cannot_hold(api: Api) -> None:
    for kind, payload in (("", {}), ("x" * 81, {}), ("testplug.echo", {"when": object()}), ("testplug.echo", [1])):
        with pytest.raises(Invalid):
            await enqueue(kind, payload)  # type: ignore[arg-type]
    assert await Job.all().count() == 0


async def test_plugin_jobs_retry_dead_letter_and_come_back_with_retry_job(api: Api, settings: Settings) -> None:
    plugin = JobKinds()
    host = host_with(testplug=plugin)
    flaky = await enqueue("testplug.flaky", {"token": "f", "fail_times": 1}, max_attempts=2)
    broken = await enqueue("testplug.broken", {"token": "b"}, max_attempts=2)
    refused = await enqueue("testplug.refuse", {"url": "https://example.org/x"}, max_attempts=2)
    misfit = await enqueue("testplug.flaky", {"unexpected": 1}, max_attempts=2)
    unknown = await enqueue("testplug.nothing", {}, max_attempts=2)

    await drain(settings, plugins=host)
    assert (await status_of(flaky))[:2] == (JobStatus.SUCCEEDED, 2)  # failed once, retried after its backoff
    status, attempts, error = await status_of(broken)
    assert (status, attempts) == (JobStatus.DEAD, 2) and "RuntimeError: this job always fails" in error
    assert plugin.attempts["b"] == 2
    status, attempts, error = await status_of(refused)
    assert (status, attempts, error) == (JobStatus.DEAD, 1, "https://example.org/x is not a feed")  # no retries
    status, attempts, error = await status_of(misfit)
    assert (status, attempts) == (JobStatus.DEAD, 1) and "does not fit job kind 'testplug.flaky'" in error, error
    status, attempts, error = await status_of(unknown)
    assert (status, error) == (JobStatus.DEAD, "no handler for job kind 'testplug.nothing'")

    # Admins see dead plugin jobs next to core ones and can retry them.
    dead = (await api.data(JOBS, {"status": "DEAD"}, role="admin"))["jobs"]
    assert {e["node"]["kind"] for e in dead["edges"]} == {
        "testplug.broken",
        "testplug.refuse",
        "testplug.flaky",
        "testplug.nothing",
    }
    plugin.fixed = True
    retried = (await api.data(RETRY_JOB, {"id": to_global_id("Job", broken.id)}, role="admin"))["retryJob"]
    assert (retried["status"], retried["attempts"]) == ("QUEUED", 0), retried
    await drain(settings, plugins=host)
    assert (await status_of(broken)) == (JobStatus.SUCCEEDED, 1, None)


async def test_clashing_and_garbage_plugin_hooks_are_reported_not_fatal(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = JobKinds()
    host = host_with(testplug=plugin, clasher=ClashingKinds(), junk=NotADict())
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        kinds = merge_job_kinds(KINDS, host)
        crons = cron_jobs(host)
        worker = build_worker(Services(settings, plugins=host), handle_signals=False, burst=True)
        await worker.close()
    logged = caplog.text
    assert "plugin clasher failed in cms_job_kinds: job kind 'persist_asset' is a core kind" in logged
    assert (
        "plugin clasher failed in cms_job_kinds: job kind 'testplug.echo' is already provided by plugin testplug"
        in logged
    )
    assert "plugin clasher failed in cms_job_kinds: job kind 'clash.number': 42 is not callable" in logged
    assert "plugin clasher failed in cms_job_kinds: 7 is not a job kind name" in logged
    assert "plugin junk failed in cms_job_kinds: returned list, not a dict" in logged
    assert "plugin junk failed in cms_cron_jobs: 'every minute please' is not an arq.cron.cron(...) object" in logged
    assert kinds["persist_asset"] is KINDS["persist_asset"] and "clash.fine" in kinds and "clash.number" not in kinds
    assert crons == []

    # The well-behaved plugin's kind still runs, and it is the first plugin's that does.
    job = await enqueue("testplug.echo", {"ok": True})
    await drain(settings, plugins=host)
    assert (await status_of(job))[0] == JobStatus.SUCCEEDED and [p for _, p in plugin.calls] == [{"ok": True}]


async def test_cron_jobs_run_on_a_real_worker_and_a_failing_one_does_not_stop_it(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Cron"}}, role="editor"))["createProgram"]
    crons = Crons(program_id=int(from_global_id(program["id"])[1]))
    host = host_with(testplug=crons, feeds=Sources(EmptyFeed()))
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        async with running_worker(settings, host):
            await eventually(lambda: len(crons.ticks) >= 3 and crons.booms >= 3, what="three ticks of each cron job")
            # The ticks' ingest polls (enqueued through the public API) run in the same worker.
            await eventually(lambda: _succeeded("ingest_poll", 2), what="two ingest polls")
    assert (
        "plugin testplug failed in cron job testplug.boom: RuntimeError: cron function failed on purpose" in caplog.text
    )
    assert {"settings", "storage", "plugins", "job_id", "redis"} <= crons.ctx_keys
    assert all(tick.startswith("testplug.tick:") for tick in crons.ticks)
    keys = await Job.filter(kind="ingest_poll").values_list("dedupe_key", flat=True)
    assert len(keys) == len(set(keys)) and all(k.startswith("testplug:poll:testplug.tick:") for k in keys)


async def _succeeded(kind: str, n: int) -> bool:
    return await Job.filter(kind=kind, status=JobStatus.SUCCEEDED).count() >= n


async def test_two_workers_run_each_cron_tick_once(api: Api, settings: Settings) -> None:
    crons = Crons()
    host = host_with(testplug=crons)
    async with running_worker(settings, host), running_worker(settings, host):
        await eventually(lambda: len(set(crons.ticks)) >= 4, what="four cron ticks")
    # arq enqueues a tick under the id "<name>:<tick ms>": the second worker's enqueue finds the job there.
    assert len(crons.ticks) == len(set(crons.ticks)), crons.ticks


async def test_a_burst_worker_schedules_no_cron_jobs(settings: Settings) -> None:
    worker = build_worker(Services(settings, plugins=host_with(c=Crons())), handle_signals=False, burst=True)
    try:
        assert worker.cron_jobs == []
    finally:
        await worker.close()
