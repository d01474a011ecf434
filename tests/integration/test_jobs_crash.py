"""Crash safety: a worker killed mid-job, and Redis losing its queue, cost no job and run none twice.

An upload makes two jobs: persist_asset, then (through the "asset.persisted" event) process_asset.

Workers are real `cms worker` processes (one with a pause injected, tests/support/paused_worker.py) on the
session database and local storage, with short leases; Redis is a private redis-server or a queue of our own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cms.core.db import PgTarget
from cms.core.outbox import OutboxEvent
from cms.core.settings import Settings
from cms.media.models import Asset, AssetStatus, Rendition, RenditionKind, RenditionStatus
from cms.media.storage import Area, master_key
from jobs.kinds import ASSET_JOBS
from jobs.store.models import Job, JobStatus
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import arq_pool, dispatch, drain, forget_queue, run_burst_worker
from tests.support.processes import PrivateRedis, Process, child_env, cms, cms_module, eventually
from tests.support.uploads import area_files, empty_areas, make_episode, upload_direct

LEASE_SECONDS = 2


@pytest.fixture(autouse=True)
def empty_storage(settings: Settings) -> None:
    empty_areas(settings.data_dir)


@pytest.fixture
def queue_settings(settings: Settings) -> Iterator[Settings]:
    """The session settings with a queue of this test's own and short sweeper timings."""
    yield settings.model_copy(
        update={
            "queue_name": f"cms-test:{uuid.uuid4().hex[:12]}",
            "job_lease_seconds": LEASE_SECONDS,
            "job_requeue_seconds": 1,
            "job_poll_seconds": 0.2,
        }
    )


def worker_env(settings: Settings, target: PgTarget, **extra: str) -> dict[str, str]:
    from tests.support.jobs import database_url

    return child_env(
        {
            "DATABASE_URL": database_url(target),
            "REDIS_URL": settings.redis_url,
            "CMS_DATA_DIR": str(settings.data_dir),
            "CMS_QUEUE_NAME": settings.queue_name,
            "CMS_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
            "CMS_JOB_REQUEUE_SECONDS": str(settings.job_requeue_seconds),
            "CMS_JOB_POLL_SECONDS": str(settings.job_poll_seconds),
            **extra,
        }
    )


async def the_job(asset_id: int, kind: str = "persist_asset") -> Job:
    [job] = await Job.filter(asset_id=asset_id, kind=kind)
    return job


async def finished(asset_id: int) -> tuple[Job, Job | None] | None:
    """Both jobs once the asset is through (persist and process_asset), or a dead persist job; else None."""
    persist = await the_job(asset_id)
    if persist.status == JobStatus.DEAD:
        return persist, None
    process = await Job.get_or_none(asset_id=asset_id, kind="process_asset")
    if process is None or process.status not in (JobStatus.SUCCEEDED, JobStatus.DEAD):
        return None
    return persist, process


async def assert_rendered(asset_id: int) -> None:
    """READY after both jobs, with a ladder to play: one READY master playlist and at least one variant."""
    asset = await get_asset_row(asset_id)
    assert (asset.status, asset.stage, asset.progress, asset.failure_reason) == (AssetStatus.READY, None, 100, None)
    ready = Rendition.filter(asset_id=asset_id, status=RenditionStatus.READY)
    assert await ready.filter(kind=RenditionKind.HLS_MASTER).count() == 1
    assert await ready.filter(kind=RenditionKind.HLS_VARIANT).exists()


async def get_asset_row(asset_id: int) -> Asset:
    return await Asset.get(id=asset_id)


def stop_all(processes: list[Process]) -> None:
    for process in processes:
        process.stop()


@pytest.mark.parametrize("point", ["start", "after_promote"])
async def test_worker_killed_mid_job_finishes_it_exactly_once(
    api: Api, queue_settings: Settings, db_target: PgTarget, tmp_path: Path, point: str
) -> None:
    settings = queue_settings
    clip = media.mp4_clip(seed=3)
    await upload_direct(api, await make_episode(api), clip)
    asset_id = (await Asset.get(status=AssetStatus.PROCESSING)).id
    pause_file = tmp_path / "paused"
    processes: list[Process] = []
    try:
        first = cms_module(
            "worker-1",
            "tests.support.paused_worker",
            log_dir=tmp_path,
            env=worker_env(settings, db_target, CMS_TEST_PAUSE_AT=point, CMS_TEST_PAUSE_FILE=str(pause_file)),
        )
        processes.append(first)

        async def paused() -> bool:
            assert first.alive(), first.tail()
            return pause_file.exists()

        await eventually(paused, what=f"the worker to reach {point}", processes=(first,))
        job = await the_job(asset_id)
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        staged, mastered = area_files(settings.data_dir, Area.STAGING), area_files(settings.data_dir, Area.MASTERS)
        assert (len(staged), len(mastered)) == ((1, 0) if point == "start" else (0, 1))

        first.kill()  # SIGKILL: no cleanup, no lease release, the arq job stays "in progress" in Redis
        first.popen.wait(10)
        assert (await the_job(asset_id)).status == JobStatus.RUNNING

        assert not await Job.filter(asset_id=asset_id, kind="process_asset").exists()  # not persisted yet

        second = cms("worker-2", "worker", env=worker_env(settings, db_target), log_dir=tmp_path)
        processes.append(second)
        job, process = await eventually(lambda: finished(asset_id), what="both jobs to finish", processes=(second,))
    finally:
        stop_all(processes)
        await forget_queue(settings)

    assert (job.status, job.attempts, job.last_error) == (JobStatus.SUCCEEDED, 2, None), job.last_error
    assert process is not None
    assert (process.status, process.attempts, process.last_error) == (JobStatus.SUCCEEDED, 1, None), process.last_error
    asset = await get_asset_row(asset_id)
    assert (asset.status, asset.sha256, asset.failure_reason) == (AssetStatus.READY, media.sha256(clip), None)
    await assert_rendered(asset_id)
    masters = area_files(settings.data_dir, Area.MASTERS)
    assert [p.name for p in masters] == [master_key(media.sha256(clip)).rsplit("/", 1)[1]]
    assert masters[0].read_bytes() == clip
    assert area_files(settings.data_dir, Area.STAGING) == []
    previews = area_files(settings.data_dir, Area.PREVIEWS)
    assert [p for p in previews if p.name == "master.m3u8" and media.sha256(clip) in p.parts], previews
    # Exactly once: one job of each kind, one persisted and one READY transition (one asset.persisted event,
    # one asset.ready event for whatever listens to them).
    assert sorted(await Job.filter(asset_id=asset_id).values_list("kind", flat=True)) == [
        "persist_asset",
        "process_asset",
    ]
    assert await OutboxEvent.filter(kind="asset.persisted").count() == 1
    assert await OutboxEvent.filter(kind="asset.ready").count() == 1


async def test_flushed_queue_loses_no_job(api: Api, queue_settings: Settings) -> None:
    """The queue's keys vanish from Redis after the hand-over; the sweeper hands the job over again."""
    settings = queue_settings
    episode = await make_episode(api)
    await drain(settings)  # the content's own jobs (search indexing) out of the way: the queue holds only ours
    await upload_direct(api, episode, media.mp4_clip())
    asset_id = (await Asset.get(status=AssetStatus.PROCESSING)).id
    try:
        async with arq_pool(settings) as redis:
            await dispatch(settings, redis)
            assert await redis.zcard(settings.queue_name) == 1
        assert await forget_queue(settings) == 1  # what FLUSHALL would do to us, and only to us

        await run_burst_worker(settings)  # nothing left in Redis to run
        job = await the_job(asset_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0) and job.enqueued_at is not None

        await drain(settings)  # requeue_after (1 s) passes; PostgreSQL still knows the job
    finally:
        await forget_queue(settings)
    job = await the_job(asset_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    process = await the_job(asset_id, "process_asset")
    assert (process.status, process.attempts) == (JobStatus.SUCCEEDED, 1)
    await assert_rendered(asset_id)


async def test_a_backlog_older_than_requeue_after_is_not_sent_twice(api: Api, queue_settings: Settings) -> None:
    """Jobs waiting in Redis longer than requeue_after (no worker free to take them) stay one entry each: sending
    them again would multiply the queue under load and keep the workers busy skipping duplicates."""
    settings = queue_settings
    episode = await make_episode(api)
    await drain(settings)
    await upload_direct(api, episode, media.mp4_clip())
    asset_id = (await Asset.get(status=AssetStatus.PROCESSING)).id
    try:
        async with arq_pool(settings) as redis:
            await dispatch(settings, redis)
            for _ in range(3):  # rounds past requeue_after, no worker running
                await dispatch(settings, redis, requeue_after=timedelta(0))
            assert await redis.zcard(settings.queue_name) == 1
        await drain(settings)
    finally:
        await forget_queue(settings)
    job = await the_job(asset_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    await assert_rendered(asset_id)


async def test_redis_restart_with_jobs_queued_loses_none(
    api: Api, queue_settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    redis_server = PrivateRedis(tmp_path).start()
    settings = queue_settings.model_copy(update={"redis_url": redis_server.url})
    worker: Process | None = None
    try:
        episodes = [await make_episode(api), await make_episode(api, "Second")]
        await drain(settings)  # the content's own jobs (search indexing) out of the way: the queue holds only ours
        await upload_direct(api, episodes[0], media.mp4_clip(seed=5))
        await upload_direct(api, episodes[1], media.mp4_clip(seed=6))
        async with arq_pool(settings) as redis:
            await dispatch(settings, redis)
            assert await redis.zcard(settings.queue_name) == 2

        redis_server.restart()  # SIGKILL, no persistence: the queue is gone
        async with arq_pool(settings) as redis:
            assert await redis.zcard(settings.queue_name) == 0
        assert await Job.filter(status=JobStatus.QUEUED).count() == 2

        worker = cms("worker", "worker", env=worker_env(settings, db_target), log_dir=tmp_path)

        async def all_done() -> bool:  # both persist jobs, then the two process_asset jobs they queue
            return await Job.filter(status=JobStatus.SUCCEEDED, kind__in=list(ASSET_JOBS)).count() == 4

        await eventually(all_done, what="all four jobs to succeed", processes=(worker,))
    finally:
        if worker is not None:
            worker.stop()
        redis_server.kill()
    jobs = await Job.filter(kind__in=list(ASSET_JOBS)).order_by("id").values_list("kind", "attempts")
    assert sorted(jobs) == [("persist_asset", 1)] * 2 + [("process_asset", 1)] * 2, jobs
    assets = await Asset.filter(status=AssetStatus.READY).values_list("id", flat=True)
    assert len(assets) == 2
    for asset_id in assets:
        await assert_rendered(asset_id)
    assert len(area_files(settings.data_dir, Area.MASTERS)) == 2


async def test_sweeper_dead_letters_a_job_whose_last_attempt_was_lost(api: Api, queue_settings: Settings) -> None:
    """A lease that expires on the last attempt dead-letters the job (and the asset says why)."""
    settings = queue_settings
    await upload_direct(api, await make_episode(api), media.mp4_clip())
    asset_id = (await Asset.get(status=AssetStatus.PROCESSING)).id
    try:
        async with arq_pool(settings) as redis:
            await dispatch(settings, redis)
            job = await the_job(asset_id)
            # As if the worker of the last allowed attempt died while holding the lease.
            await Job.filter(id=job.id).update(
                status=JobStatus.RUNNING,
                attempts=job.max_attempts,
                lease_expires_at=job.created_at - timedelta(seconds=1),
            )
            await dispatch(settings, redis)
    finally:
        await forget_queue(settings)
    job = await the_job(asset_id)
    assert job.status == JobStatus.DEAD and "lease expired" in job.last_error
    asset = await get_asset_row(asset_id)
    assert asset.status == AssetStatus.FAILED, asset.status
    assert (
        asset.failure_reason
        == "processing failed after several attempts: worker lost: lease expired before the job finished"
    )
