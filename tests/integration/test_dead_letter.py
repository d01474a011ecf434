"""Dead letters: a job that keeps failing is dead-lettered, admins see it and retry it; the relay is idempotent."""

from __future__ import annotations

import asyncio

import pytest

from cms.api.ids import to_global_id
from cms.core.outbox import OutboxEvent
from cms.core.settings import Settings
from cms.media.storage import Area
from jobs.dispatcher import relay_outbox
from jobs.kinds import ASSET_JOBS
from jobs.store.models import Job, JobStatus
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import arq_pool, dispatch, drain, run_burst_worker
from tests.support.processes import free_port
from tests.support.uploads import (
    JOBS,
    RETRY_JOB,
    area_files,
    assert_ready_video,
    assert_validation_error,
    empty_areas,
    get_asset,
    get_renditions,
    make_episode,
    upload_direct,
)


@pytest.fixture(autouse=True)
def empty_storage(settings: Settings) -> None:
    empty_areas(settings.data_dir)


def storage_down(settings: Settings) -> Settings:
    """The same worker, but its object storage does not answer (nothing listens on the port): every attempt
    fails with a retryable error. Two attempts keep the backoff short."""
    return settings.model_copy(
        update={
            "s3_endpoint_url": f"http://127.0.0.1:{free_port()}",
            "job_max_attempts": 2,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "y",
        }
    )


async def jobs_as(api: Api, role: str, status: str | None = "DEAD") -> dict:
    return await api.gql(JOBS, {"status": status}, role=role)


def job_rows(asset: dict) -> list[tuple[str, str, int]]:
    return [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]]


BOTH_SUCCEEDED = [("persist_asset", "SUCCEEDED", 1), ("process_asset", "SUCCEEDED", 1)]


async def test_exhausted_job_is_dead_and_admin_retry_finishes_it(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    done = await upload_direct(api, episode, clip)

    await drain(storage_down(settings))
    asset = await get_asset(api, done["id"])
    [job] = asset["jobs"]
    assert (job["status"], job["attempts"], job["maxAttempts"]) == ("DEAD", 2, 2), job
    assert "EndpointConnectionError" in job["lastError"] or "connect" in job["lastError"].lower(), job
    assert asset["status"] == "FAILED"
    assert asset["failureReason"].startswith("processing failed after several attempts"), asset
    assert len(area_files(settings.data_dir, Area.STAGING)) == 1  # kept, so a retry can still succeed

    # The dead-letter list: admins only.
    dead = (await jobs_as(api, "admin"))["data"]["jobs"]
    assert dead["totalCount"] == 1 and dead["edges"][0]["node"]["id"] == job["id"], dead
    assert (await jobs_as(api, "admin", "QUEUED"))["data"]["jobs"]["totalCount"] == 0
    for role in ("editor", "viewer", None):
        body = await api.gql(JOBS, {"status": "DEAD"}, role=role)
        assert body.get("data") is None or body["data"].get("jobs") is None, body
        assert body["errors"] and "admin" in body["errors"][0]["message"], body

    for role in ("editor", "viewer"):
        refused = (await api.data(RETRY_JOB, {"id": job["id"]}, role=role))["retryJob"]
        assert refused["__typename"] == "ForbiddenError", refused
    assert (await get_asset(api, done["id"]))["jobs"][0]["status"] == "DEAD"

    retried = (await api.data(RETRY_JOB, {"id": job["id"]}, role="admin"))["retryJob"]
    assert retried == {"__typename": "Job", "id": job["id"], "status": "QUEUED", "attempts": 0}, retried
    again = (await api.data(RETRY_JOB, {"id": job["id"]}, role="admin"))["retryJob"]
    assert "only dead jobs" in assert_validation_error(again, ["id"])

    await drain(settings)  # storage is back: the persist job, then the process_asset job it queues
    asset = await get_asset(api, done["id"])
    assert job_rows(asset) == BOTH_SUCCEEDED, asset
    assert asset["status"] == "READY", asset
    assert asset["failureReason"] is None
    assert_ready_video(await get_renditions(api, done["id"]))
    assert area_files(settings.data_dir, Area.STAGING) == []
    assert len(area_files(settings.data_dir, Area.MASTERS)) == 1
    assert area_files(settings.data_dir, Area.PREVIEWS)
    assert (await jobs_as(api, "admin"))["data"]["jobs"]["totalCount"] == 0


async def test_exhausted_process_job_is_dead_and_admin_retry_finishes_it(api: Api, settings: Settings) -> None:
    """The second job dead-letters the same way: persisted fine, then storage fails under process_asset."""
    clip = media.mp4_clip(seed=7)
    done = await upload_direct(api, await make_episode(api), clip)
    async with arq_pool(settings) as redis:  # the persist job only (its event is not relayed yet)
        await dispatch(settings, redis)
        await run_burst_worker(settings)
    asset = await get_asset(api, done["id"])
    assert (asset["status"], job_rows(asset)) == ("PROCESSING", [("persist_asset", "SUCCEEDED", 1)]), asset
    assert (await get_renditions(api, done["id"]))["stage"] == "queued"

    await drain(storage_down(settings))
    asset = await get_asset(api, done["id"])
    persist, process = asset["jobs"]
    assert (persist["kind"], persist["status"]) == ("persist_asset", "SUCCEEDED"), asset
    assert (process["kind"], process["status"], process["attempts"], process["maxAttempts"]) == (
        "process_asset",
        "DEAD",
        2,
        2,
    ), process
    assert asset["status"] == "FAILED"
    assert asset["failureReason"].startswith("processing failed after several attempts"), asset
    assert (await get_renditions(api, done["id"]))["renditions"] == []
    assert len(area_files(settings.data_dir, Area.MASTERS)) == 1  # kept, so a retry can still succeed
    dead = (await jobs_as(api, "admin"))["data"]["jobs"]
    assert dead["totalCount"] == 1 and dead["edges"][0]["node"]["id"] == process["id"], dead

    retried = (await api.data(RETRY_JOB, {"id": process["id"]}, role="admin"))["retryJob"]
    assert retried == {"__typename": "Job", "id": process["id"], "status": "QUEUED", "attempts": 0}, retried
    await drain(settings)
    asset = await get_asset(api, done["id"])
    assert job_rows(asset) == BOTH_SUCCEEDED, asset
    assert (asset["status"], asset["failureReason"]) == ("READY", None), asset
    assert_ready_video(await get_renditions(api, done["id"]))
    assert (await jobs_as(api, "admin"))["data"]["jobs"]["totalCount"] == 0


async def test_retry_job_unknown_and_malformed_ids(api: Api, settings: Settings) -> None:
    missing = (await api.data(RETRY_JOB, {"id": to_global_id("Job", 999_999)}, role="admin"))["retryJob"]
    assert missing["__typename"] == "NotFoundError", missing
    body = await api.gql(RETRY_JOB, {"id": to_global_id("Asset", 1)}, role="admin")
    result = (body.get("data") or {}).get("retryJob")
    assert body.get("errors") or result["__typename"] in ("ValidationError", "NotFoundError"), body


async def test_relaying_the_same_event_twice_creates_one_job(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    done = await upload_direct(api, episode, clip)
    [event] = await OutboxEvent.filter(kind="asset.uploaded")

    # Two relays at once (two workers), then the same event again as if its relayed mark had been lost.
    await asyncio.gather(relay_outbox(max_attempts=3), relay_outbox(max_attempts=3))
    await OutboxEvent.filter(id=event.id).update(relayed_at=None)
    assert await relay_outbox(max_attempts=3) == 1
    assert await relay_outbox(max_attempts=3) == 0

    jobs = await Job.filter(asset_id=event.payload["asset_id"])
    assert len(jobs) == 1 and jobs[0].dedupe_key == f"event:{event.id}:persist_asset", jobs
    await drain(settings)
    asset = await get_asset(api, done["id"])
    assert asset["status"] == "READY" and job_rows(asset) == BOTH_SUCCEEDED, asset
    assert await Job.filter(status=JobStatus.SUCCEEDED, kind__in=list(ASSET_JOBS)).count() == 2

    # The event persisting recorded, relayed again as if its mark had been lost: still one process_asset job.
    [persisted] = await OutboxEvent.filter(kind="asset.persisted")
    await relay_outbox(max_attempts=3)  # whatever else is pending (asset.ready, which makes no job)
    await OutboxEvent.filter(id=persisted.id).update(relayed_at=None)
    assert await relay_outbox(max_attempts=3) == 1
    [process] = await Job.filter(asset_id=event.payload["asset_id"], kind="process_asset")
    assert process.dedupe_key == f"event:{persisted.id}:process_asset"
    assert await Job.filter(asset_id=event.payload["asset_id"]).count() == 2
    await drain(settings)
    assert job_rows(await get_asset(api, done["id"])) == BOTH_SUCCEEDED
