"""cms_content_published is announced when a publication goes live: an immediate publish once, a scheduled one
once after its time (by the worker's scan, also after downtime), a withdrawn or moved one never at the old time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from cms.api.ids import from_global_id
from cms.core.settings import Settings
from cms.plugins.hookspecs import hookimpl
from cms.plugins.host import PluginHost
from jobs.announce import KIND, announce_due
from jobs.store.models import Job, JobStatus
from tests.support.api import Api, operation
from tests.support.job_plugins import host_with
from tests.support.jobs import drain
from tests.support.plugin_worker import running_worker
from tests.support.processes import eventually, sleep_past


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []
        self.unpublished: list[tuple[str, str]] = []

    @hookimpl
    async def cms_content_published(self, kind: str, id: str) -> None:
        self.published.append((kind, id))

    @hookimpl
    def cms_content_unpublished(self, kind: str, id: str) -> None:
        self.unpublished.append((kind, id))


def recording() -> tuple[Recorder, PluginHost]:
    recorder = Recorder()
    return recorder, host_with(recorder=recorder)


async def make_episode(api: Api) -> tuple[str, str]:
    """A published program with a draft episode: (episode global id, episode database id)."""
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "On air"}}, role="editor"))[
        "createProgram"
    ]
    await api.data(operation("PublishProgram"), {"id": program["id"]}, role="editor")
    variables = {"input": {"programId": program["id"], "title": "Pilot"}}
    episode = (await api.data(operation("CreateEpisode"), variables, role="editor"))["createEpisode"]
    return episode["id"], str(from_global_id(episode["id"])[1])


async def publish(api: Api, episode: str, at: datetime | None = None) -> dict:
    variables = {"id": episode, "at": at.isoformat() if at else None}
    result = (await api.data(operation("PublishEpisode"), variables, role="editor"))["publishEpisode"]
    assert result["status"] == "PUBLISHED", result
    return result


def episode_announcements(recorder: Recorder, episode_id: str) -> int:
    return recorder.published.count(("episode", episode_id))


async def test_an_immediate_publish_is_announced_exactly_once(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    await publish(api, episode)
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1
    # Scans after the event path announced it (and the event relayed again) add nothing.
    assert await asyncio.gather(announce_due(max_attempts=3), announce_due(max_attempts=3)) == [0, 0]
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1
    assert [kind for kind, _ in recorder.published].count("program") == 1  # the program's own publish, once
    assert await Job.filter(kind=KIND, status=JobStatus.SUCCEEDED).count() == 2  # program and episode


async def test_a_scan_before_the_event_job_does_not_announce_twice(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    await publish(api, episode)
    assert await announce_due(max_attempts=3) == 2  # program and episode, before any event was relayed
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1 and len(recorder.published) == 2


async def test_a_scheduled_publish_is_announced_once_after_its_time(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    await drain(settings, plugins=host)  # the program's publish
    at = datetime.now(UTC) + timedelta(seconds=2)
    await publish(api, episode, at)
    await drain(settings, plugins=host)  # the publish event's job: not public yet, nothing to announce
    assert await announce_due(max_attempts=3) == 0
    assert episode_announcements(recorder, episode_id) == 0

    await sleep_past(at)
    created = await asyncio.gather(announce_due(max_attempts=3), announce_due(max_attempts=3))  # two workers
    assert sorted(created) == [0, 1]
    [job] = await Job.filter(kind=KIND, payload__contains={"kind": "episode"})
    assert job.dedupe_key == f"live:episode:{episode_id}:{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1
    assert await announce_due(max_attempts=3) == 0
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1


async def test_a_worker_started_after_the_publish_time_catches_up(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    at = datetime.now(UTC) + timedelta(seconds=2)
    await publish(api, episode, at)
    await sleep_past(at)  # no worker ran meanwhile
    async with running_worker(settings, host):  # its periodic scan, its dispatcher, its jobs
        await eventually(lambda: episode_announcements(recorder, episode_id) == 1, what="the announcement")
    assert episode_announcements(recorder, episode_id) == 1


async def test_unpublished_before_its_time_is_never_announced(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    at = datetime.now(UTC) + timedelta(seconds=2)
    await publish(api, episode, at)
    await api.data(operation("UnpublishEpisode"), {"id": episode}, role="editor")
    await sleep_past(at)
    assert await announce_due(max_attempts=3) == 1  # the program only
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 0
    assert recorder.unpublished == [("episode", episode_id)]


async def test_rescheduled_is_announced_at_the_new_time_only(api: Api, settings: Settings) -> None:
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    await drain(settings, plugins=host)
    first = datetime.now(UTC) + timedelta(seconds=2)
    later = first + timedelta(seconds=2)
    await publish(api, episode, first)
    await publish(api, episode, later)
    await sleep_past(first)
    assert await announce_due(max_attempts=3) == 0
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 0

    await sleep_past(later)
    assert await announce_due(max_attempts=3) == 1
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 1
    [job] = await Job.filter(kind=KIND, payload__contains={"kind": "episode"})
    assert job.payload["publish_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_a_publication_withdrawn_after_its_job_was_created_is_not_announced(api: Api, settings: Settings) -> None:
    """The job checks once more when it runs: a race between the scan and an unpublish ends silent."""
    recorder, host = recording()
    episode, episode_id = await make_episode(api)
    await drain(settings, plugins=host)
    at = datetime.now(UTC) + timedelta(seconds=2)
    await publish(api, episode, at)
    await sleep_past(at)
    assert await announce_due(max_attempts=3) == 1
    await api.data(operation("UnpublishEpisode"), {"id": episode}, role="editor")
    await drain(settings, plugins=host)
    assert episode_announcements(recorder, episode_id) == 0
    assert await Job.filter(kind=KIND, status=JobStatus.SUCCEEDED).count() == 2  # ran, and said nothing
