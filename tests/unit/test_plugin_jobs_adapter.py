"""Plugin job kinds and cron jobs as the worker sees them: merged, adapted, isolated. No I/O."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from arq.cron import cron

from cms.core.settings import Settings
from cms.media.storage import LocalStorage
from cms.plugins.hookspecs import hookimpl
from jobs.plugins import cron_jobs, merge_job_kinds
from jobs.runner import JobDeps, JobKind, PermanentJobError
from jobs.store.service import PermanentFailure
from tests.support.job_plugins import host_with

CORE = {"persist_asset": JobKind(name="persist_asset", run=lambda deps, payload: None)}  # type: ignore[arg-type, return-value]


class Kinds:
    def __init__(self) -> None:
        self.seen: list[tuple[dict, dict]] = []

    @hookimpl
    def cms_job_kinds(self):
        return {"p.async": self.run_async, "p.sync": self.run_sync, "p.refuse": self.refuse}

    async def run_async(self, ctx, *, a, b=2):
        self.seen.append((ctx, {"a": a, "b": b}))

    def run_sync(self, ctx, **payload):
        self.seen.append((ctx, payload))

    async def refuse(self, ctx):
        raise PermanentFailure("bad input")


class Ticks:
    @hookimpl
    def cms_cron_jobs(self):
        async def boom(ctx):
            raise RuntimeError("tick failed")

        async def fine(ctx):
            return "ok"

        return [cron(boom, name="p.boom"), cron(fine, name="p.fine"), cron(fine, name="p.fine")]


@pytest.fixture
def deps(tmp_path: Path) -> JobDeps:
    return JobDeps(settings=Settings(CMS_DATA_DIR=tmp_path), storage=LocalStorage(tmp_path / "storage"))


async def test_plugin_kinds_get_ctx_and_payload_as_keywords(deps: JobDeps) -> None:
    plugin = Kinds()
    host = host_with(plugin)
    kinds = merge_job_kinds(CORE, host)
    await kinds["p.async"].run(dataclasses.replace(deps, plugins=host), {"a": 1})
    await kinds["p.sync"].run(deps, {"x": [1, 2]})
    (ctx, payload), (ctx2, payload2) = plugin.seen
    assert payload == {"a": 1, "b": 2} and payload2 == {"x": [1, 2]}
    assert ctx == {"settings": deps.settings, "storage": deps.storage, "plugins": host, "kind": "p.async"}
    assert ctx2["kind"] == "p.sync"


async def test_permanent_failures_and_misfit_payloads_are_not_retried(deps: JobDeps) -> None:
    kinds = merge_job_kinds(CORE, host_with(Kinds()))
    with pytest.raises(PermanentJobError, match="^bad input$"):
        await kinds["p.refuse"].run(deps, {})
    with pytest.raises(PermanentJobError, match="does not fit job kind 'p.async'"):
        await kinds["p.async"].run(deps, {"nope": 1})


def test_core_kinds_are_looked_up_when_asked() -> None:
    core = dict(CORE)
    kinds = merge_job_kinds(core, host_with(Kinds()))
    replacement = JobKind(name="persist_asset", run=CORE["persist_asset"].run)
    core["persist_asset"] = replacement  # as tests.support.paused_worker does before the worker runs
    assert kinds["persist_asset"] is replacement and "p.sync" in kinds


async def test_cron_functions_are_isolated_and_names_unique(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        jobs = cron_jobs(host_with(Ticks()), reserved={"run_job"})
        assert [job.name for job in jobs] == ["p.boom", "p.fine"]
        assert "cron job name 'p.fine' is already taken" in caplog.text
        assert await jobs[0].coroutine({}) is None  # the exception is reported, not raised into arq
        assert await jobs[1].coroutine({}) == "ok"
    assert "plugin p0 failed in cron job p.boom: RuntimeError: tick failed" in caplog.text


def test_each_worker_gets_its_own_cron_job_objects() -> None:
    host = host_with(Ticks())
    first, second = cron_jobs(host), cron_jobs(host)
    assert first[0] is not second[0] and first[0].next_run is None
