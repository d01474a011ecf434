"""Ingest sources from plugins: a poll makes one draft episode per item, idempotently on (source, external_id); the
media goes through the normal pipeline to READY; a failing fetch is retried without duplicates."""

from __future__ import annotations

import logging

import pytest

from cms.api.ids import from_global_id, to_global_id
from cms.audit.models import AuditEntry
from cms.content.models import Episode, PublishStatus
from cms.core.settings import Settings
from cms.media.models import Asset, AssetStatus
from jobs.store.models import Job, JobStatus
from jobs.store.service import enqueue
from tests.support import media
from tests.support.api import Api, operation
from tests.support.job_plugins import ClipFeed, EmptyFeed, NotADict, Sources, host_with
from tests.support.jobs import drain
from tests.support.uploads import RETRY_JOB


async def make_program(api: Api, title: str = "Feed") -> int:
    program = (await api.data(operation("CreateProgram"), {"input": {"title": title}}, role="editor"))["createProgram"]
    return int(from_global_id(program["id"])[1])


async def poll(program_id: int, source: str = "clipfeed") -> Job:
    return await enqueue("ingest_poll", {"source": source, "program_id": program_id, "config": {"limit": 10}})


async def test_polling_twice_creates_each_episode_once_and_the_media_becomes_ready(
    api: Api, settings: Settings
) -> None:
    program_id = await make_program(api)
    feed = ClipFeed({"a": media.mp4_clip(seconds=1.0, seed=11), "b": media.mp4_clip(seconds=1.0, seed=12)})
    host = host_with(feeds=Sources(feed))

    for _ in range(2):
        await poll(program_id)
        await drain(settings, plugins=host)

    assert feed.discovered == 2 and dict(feed.fetched) == {"a": 1, "b": 1}
    episodes = await Episode.filter(program_id=program_id).order_by("external_id")
    assert [(e.source, e.external_id, e.title, e.status) for e in episodes] == [
        ("clipfeed", "a", "Clip a", PublishStatus.DRAFT),
        ("clipfeed", "b", "Clip b", PublishStatus.DRAFT),
    ]
    assert episodes[0].metadata == {"ingest": {"url": "https://feeds.example/a.mp4"}}
    assert episodes[0].description == "from the feed"
    for episode in episodes:
        [asset] = await Asset.filter(episode_id=episode.id)
        assert (asset.status, asset.kind.value, asset.filename) == (
            AssetStatus.READY,
            "VIDEO",
            f"{episode.external_id}.mp4",
        )
    counts = {
        kind: await Job.filter(kind=kind, status=JobStatus.SUCCEEDED).count()
        for kind in ("ingest_poll", "ingest_item", "persist_asset", "process_asset")
    }
    assert counts == {"ingest_poll": 2, "ingest_item": 2, "persist_asset": 2, "process_asset": 2}, counts
    assert await Job.exclude(status=JobStatus.SUCCEEDED).count() == 0

    # The audit trail says who made them: the source's own system identity.
    created = await AuditEntry.filter(action="episode.create").values_list("actor_subject", flat=True)
    assert created == ["system:ingest:clipfeed"] * 2
    # Editors find them through the API like any draft, with their provenance.
    found = (await api.data(operation("Episode"), {"id": to_global_id("Episode", episodes[0].id)}, role="editor"))[
        "episode"
    ]
    assert found is not None and found["status"] == "DRAFT", found


async def test_a_failing_fetch_is_retried_without_duplicates(api: Api, settings: Settings) -> None:
    quick = settings.model_copy(update={"job_max_attempts": 2})
    program_id = await make_program(api)
    feed = ClipFeed(
        {"flaky": media.mp4_clip(seconds=1.0, seed=21), "gone": media.mp4_clip(seconds=1.0, seed=22)},
        fetch_failures={"flaky": 1, "gone": 2},
    )
    host = host_with(feeds=Sources(feed))
    await poll(program_id)
    await drain(quick, plugins=host)

    jobs = {j.payload["item"]["external_id"]: j for j in await Job.filter(kind="ingest_item")}
    assert (jobs["flaky"].status, jobs["flaky"].attempts) == (JobStatus.SUCCEEDED, 2)
    assert (jobs["gone"].status, jobs["gone"].attempts) == (JobStatus.DEAD, 2)
    assert "ConnectionError" in jobs["gone"].last_error and "connection reset" in jobs["gone"].last_error
    by_id = {e.external_id: e for e in await Episode.filter(program_id=program_id)}
    assert sorted(by_id) == ["flaky", "gone"]  # one episode each, though "flaky" was tried twice
    assert [a.status for a in await Asset.filter(episode_id=by_id["flaky"].id)] == [AssetStatus.READY]
    assert await Asset.filter(episode_id=by_id["gone"].id).count() == 0

    # Polling again adds nothing, not even a new job for the dead item; an admin's retryJob brings it in.
    await poll(program_id)
    await drain(quick, plugins=host)
    assert (
        await Job.filter(kind="ingest_item").count() == 2 and await Episode.filter(program_id=program_id).count() == 2
    )
    retried = (await api.data(RETRY_JOB, {"id": to_global_id("Job", jobs["gone"].id)}, role="admin"))["retryJob"]
    assert retried["status"] == "QUEUED", retried
    await drain(quick, plugins=host)
    assert [a.status for a in await Asset.filter(episode_id=by_id["gone"].id)] == [AssetStatus.READY]
    assert await Episode.filter(program_id=program_id).count() == 2
    assert dict(feed.fetched) == {"flaky": 2, "gone": 3}


async def test_unknown_source_or_program_fails_permanently_with_a_reason(
    api: Api, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    program_id = await make_program(api)
    host = host_with(empty=Sources(EmptyFeed()), copycat=Sources(EmptyFeed()), junk=NotADict())
    unknown = await poll(program_id, source="nope")
    no_program = await poll(program_id + 1000, source="emptyfeed")
    fine = await poll(program_id, source="emptyfeed")
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        await drain(settings, plugins=host)

    for job in (unknown, no_program, fine):
        await job.refresh_from_db()
    assert (unknown.status, unknown.attempts) == (JobStatus.DEAD, 1)
    assert unknown.last_error == "no ingest source named 'nope' is installed (installed: emptyfeed)"
    assert (no_program.status, no_program.attempts) == (JobStatus.DEAD, 1)
    assert no_program.last_error == f"program {program_id + 1000} does not exist"
    assert fine.status == JobStatus.SUCCEEDED
    assert (
        "plugin copycat failed in cms_ingest_sources: ingest source 'emptyfeed' is already provided by plugin empty"
        in caplog.text
    )
    assert "plugin junk failed in cms_ingest_sources: ingest source 'junk'" in caplog.text
