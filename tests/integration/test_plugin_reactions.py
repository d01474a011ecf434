"""Committed content events reach the plugins' reaction hooks through the outbox, and one failing plugin does not
keep the others from hearing them."""

from __future__ import annotations

from cms.media.storage import open_storage_from_settings
from cms.plugins.hookspecs import hookimpl
from cms.plugins.host import PluginHost
from jobs.dispatcher import relay_outbox
from jobs.kinds import KINDS
from jobs.runner import JobDeps, run_job
from jobs.store.models import Job, JobStatus
from tests.support.api import operation


class Recorder:
    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []

    @hookimpl
    async def cms_content_published(self, kind: str, id: str) -> None:
        self.heard.append((kind, id))


class Broken:
    @hookimpl
    def cms_content_published(self, kind: str, id: str) -> None:
        raise RuntimeError("this plugin is broken")


async def test_publishing_reaches_plugins_once_the_change_committed(api, settings):
    created = await api.data(operation("CreateProgram"), {"input": {"title": "Heard"}}, role="editor")
    program_id = created["createProgram"]["id"]
    await api.data(operation("PublishProgram"), {"id": program_id}, role="editor")
    await relay_outbox(max_attempts=settings.job_max_attempts)

    recorder = Recorder()
    host = PluginHost(entry_points=False)
    host.register(Broken(), "broken")
    host.register(recorder, "recorder")
    deps = JobDeps(settings=settings, storage=open_storage_from_settings(settings), plugins=host)
    jobs = await Job.filter(kind="notify_plugins")
    assert jobs, "publishing should queue a notify_plugins job"
    for job in jobs:
        assert await run_job(job.id, deps=deps, kinds=KINDS) == "succeeded"

    from cms.api.ids import from_global_id

    assert recorder.heard == [("program", str(from_global_id(program_id)[1]))]
    assert await Job.filter(kind="notify_plugins", status=JobStatus.SUCCEEDED).count() == len(jobs)
