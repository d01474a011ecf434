"""Crash safety: a worker killed mid-job, and Redis losing its queue, cost no job and run none twice.

Workers are real `cms worker` processes (one with a pause injected, tests/support/paused_worker.py) on the
session database and local storage, with short leases; Redis is a private redis-server or a queue of our own.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cms.db import PgTarget
from cms.events import OutboxEvent
from cms.jobstore.models import Job, JobStatus
from cms.media.models import Asset, AssetStatus
from cms.media.storage import Area, master_key
from cms.settings import Settings
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import arq_pool, dispatch, drain, forget_queue, run_burst_worker
from tests.support.processes import PrivateRedis, Process, child_env, cms, cms_module, eventually
from tests.support.uploads import area_files, make_episode, upload_direct

LEASE_SECONDS = 2


@pytest.fixture(autouse=True)
def empty_storage(settings: Settings) -> None:
    root = Path(settings.data_dir) / "storage"
    for area in Area:
        shutil.rmtree(root / area.value, ignore_errors=True)
        (root / area.value).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def queue_settings(settings: Settings) -> Iterator[Settings]:
    """The session settings with a queue of this test's own and short sweeper timings."""
    yield settings.model_copy(
        update={"queue_name": f"cms-test:{uuid.uuid4().hex[:12]}", "job_lease_seconds": LEASE_SECONDS,
                "job_requeue_seconds": 1, "job_poll_seconds": 0.2}
    )


def worker_env(settings: Settings, target: PgTarget, **extra: str) -> dict[str, str]:
    from tests.support.jobs import database_url

    return child_env({
        "DATABASE_URL": database_url(target), "REDIS_URL": settings.redis_url, "CMS_DATA_DIR": str(settings.data_dir),
        "CMS_QUEUE_NAME": settings.queue_name, "CMS_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "CMS_JOB_REQUEUE_SECONDS": str(settings.job_requeue_seconds),
        "CMS_JOB_POLL_SECONDS": str(settings.job_poll_seconds), **extra,
    })


async def the_job(asset_id: int) -> Job:
    [job] = await Job.filter(asset_id=asset_id)
    return job


async def finished(asset_id: int) -> Job | None:
    job = await the_job(asset_id)
    return job if job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD) else None


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
            "worker-1", "tests.support.paused_worker", log_dir=tmp_path,
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

        second = cms("worker-2", "worker", env=worker_env(settings, db_target), log_dir=tmp_path)
        processes.append(second)
        job = await eventually(lambda: finished(asset_id), what="the job to finish", processes=(second,))
    finally:
        stop_all(processes)
        await forget_queue(settings)

    assert (job.status, job.attempts, job.last_error) == (JobStatus.SUCCEEDED, 2, None), job.last_error
    asset = await get_asset_row(asset_id)
    assert (asset.status, asset.sha256, asset.failure_reason) == (AssetStatus.READY, media.sha256(clip), None)
    masters = area_files(settings.data_dir, Area.MASTERS)
    assert [p.name for p in masters] == [master_key(media.sha256(clip)).rsplit("/", 1)[1]]
    assert masters[0].read_bytes() == clip
    assert area_files(settings.data_dir, Area.STAGING) == []
    # Exactly once: one job, one READY transition (one asset.ready event for whatever listens to it).
    assert await Job.filter(asset_id=asset_id).count() == 1
    assert await OutboxEvent.filter(kind="asset.ready").count() == 1


async def test_flushed_queue_loses_no_job(api: Api, queue_settings: Settings) -> None:
    """The queue's keys vanish from Redis after the hand-over; the sweeper hands the job over again."""
    settings = queue_settings
    await upload_direct(api, await make_episode(api), media.mp4_clip())
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
    assert (await get_asset_row(asset_id)).status == AssetStatus.READY


async def test_redis_restart_with_jobs_queued_loses_none(
    api: Api, queue_settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    redis_server = PrivateRedis(tmp_path).start()
    settings = queue_settings.model_copy(update={"redis_url": redis_server.url})
    worker: Process | None = None
    try:
        await upload_direct(api, await make_episode(api), media.mp4_clip(seed=5))
        await upload_direct(api, await make_episode(api, "Second"), media.mp4_clip(seed=6))
        async with arq_pool(settings) as redis:
            await dispatch(settings, redis)
            assert await redis.zcard(settings.queue_name) == 2

        redis_server.restart()  # SIGKILL, no persistence: the queue is gone
        async with arq_pool(settings) as redis:
            assert await redis.zcard(settings.queue_name) == 0
        assert await Job.filter(status=JobStatus.QUEUED).count() == 2

        worker = cms("worker", "worker", env=worker_env(settings, db_target), log_dir=tmp_path)

        async def all_done() -> bool:
            return await Job.filter(status=JobStatus.SUCCEEDED).count() == 2

        await eventually(all_done, what="both jobs to succeed", processes=(worker,))
    finally:
        if worker is not None:
            worker.stop()
        redis_server.kill()
    assert [j.attempts for j in await Job.all()] == [1, 1]
    assert await Asset.filter(status=AssetStatus.READY).count() == 2
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
                status=JobStatus.RUNNING, attempts=job.max_attempts, lease_expires_at=job.created_at - timedelta(seconds=1)
            )
            await dispatch(settings, redis)
    finally:
        await forget_queue(settings)
    job = await the_job(asset_id)
    assert job.status == JobStatus.DEAD and "lease expired" in job.last_error
    asset = await get_asset_row(asset_id)
    assert asset.status == AssetStatus.FAILED, asset.status
    assert asset.failure_reason == "processing failed after several attempts: worker lost: lease expired before the job finished"
