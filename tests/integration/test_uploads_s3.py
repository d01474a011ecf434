"""Uploads straight to the bucket, as deployed: `cms serve --no-worker` and `cms worker` as processes, S3 on
moto's server, a fresh migrated database, tokens from the test issuer. Clients talk HTTP only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.media.storage import Area, master_key
from tests.support import database, media
from tests.support.api import Api
from tests.support.jobs import database_url
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import Process, child_env, cms, eventually, free_port, run_cms, wait_http
from tests.support.s3 import MotoS3
from tests.support.uploads import (
    assert_validation_error,
    bucket_keys,
    complete_upload,
    create_upload,
    get_asset,
    get_renditions,
    make_episode,
    ready_renditions,
    resume_upload,
)

MiB = 1 << 20
PART = 5 * MiB  # S3's smallest part (all but the last)


@dataclass
class Deployment:
    url: str
    buckets: dict[Area, str]
    s3: Any  # a boto3 client, to look behind the API's back
    moto: MotoS3
    processes: tuple[Process, ...]

    def staging_keys(self) -> list[str]:
        return bucket_keys(self.s3, self.buckets[Area.STAGING])

    def master_keys(self) -> list[str]:
        return bucket_keys(self.s3, self.buckets[Area.MASTERS])

    def preview_keys(self) -> list[str]:
        return bucket_keys(self.s3, self.buckets[Area.PREVIEWS])

    def master_bytes(self, sha256: str) -> bytes:
        return self.s3.get_object(Bucket=self.buckets[Area.MASTERS], Key=master_key(sha256))["Body"].read()

    def pending_multipart(self, key: str) -> list[tuple[str, str]]:
        return [p for p in self.moto.pending_uploads({Area.STAGING: self.buckets[Area.STAGING]}) if p[1] == key]


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with MotoS3() as server:
        yield server


@pytest.fixture(scope="module")
async def fresh_db(pg_server: PgTarget) -> AsyncIterator[PgTarget]:
    target = await database.create_database(pg_server, prefix="cms_s3")
    try:
        yield target
    finally:
        await database.drop_database(target)


@pytest.fixture(scope="module")
async def deployment(
    moto_s3: MotoS3,
    fresh_db: PgTarget,
    issuer: TestIssuer,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployment]:
    buckets = moto_s3.create_buckets("intake")
    logs = tmp_path_factory.mktemp("s3-deployment")
    port = free_port()
    env = child_env(
        {
            "DATABASE_URL": database_url(fresh_db),
            "REDIS_URL": settings.redis_url,
            "CMS_QUEUE_NAME": f"cms-test-s3:{uuid.uuid4().hex[:12]}",
            "CMS_DATA_DIR": str(logs / "data"),
            **moto_s3.env(buckets),
            "OIDC_ISSUER": issuer.url,
            "OIDC_AUDIENCE": "cms",
            "CMS_INLINE_WORKER": "false",
            "CMS_MULTIPART_THRESHOLD_BYTES": str(8 * MiB),
            "CMS_MULTIPART_PART_BYTES": str(PART),
            "CMS_JOB_POLL_SECONDS": "0.2",
            "CMS_JOB_LEASE_SECONDS": "10",
            "CMS_JOB_REQUEUE_SECONDS": "5",
        }
    )
    run_cms("migrate", env=env)
    processes: list[Process] = []
    try:
        server = cms(
            "serve", "serve", "--no-worker", "--port", str(port), "--log-level", "warning", env=env, log_dir=logs
        )
        processes.append(server)
        processes.append(cms("worker", "worker", env=env, log_dir=logs))
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/ready", server)
        yield Deployment(url, buckets, moto_s3.client(), moto_s3, tuple(processes))
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
async def client(deployment: Deployment, issuer: TestIssuer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=deployment.url, timeout=30) as http:
        yield Api(http, issuer)


async def settled(api: Api, deployment: Deployment, asset_id: str) -> dict[str, Any]:
    """The asset once the worker is done with it (READY or FAILED): after persisting and, for media, processing."""

    async def done() -> dict[str, Any] | None:
        asset = await get_asset(api, asset_id)
        # The job row records its outcome just after the asset does (another transaction): wait for both.
        busy = any(job["status"] in ("QUEUED", "RUNNING") for job in asset["jobs"])
        return asset if asset["status"] in ("READY", "FAILED") and not busy else None

    return await eventually(done, what=f"asset {asset_id} to settle", processes=deployment.processes)


async def post_form(upload: dict[str, Any], data: bytes, filename: str = "clip.mp4") -> httpx.Response:
    """The browser's form POST straight to the bucket: policy fields first, the file last."""
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(upload["url"], data=upload["formFields"], files={"file": (filename, data)})


async def put_part(url: str, data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.put(url, content=data)
    assert response.status_code == 200, response.text
    assert response.headers.get("etag")
    return response


async def presigned(api: Api, episode: str, data: bytes, **fields: Any) -> dict[str, Any]:
    upload = await create_upload(
        api, filename=fields.pop("filename", "clip.mp4"), size=len(data), episodeId=episode, **fields
    )
    assert upload["__typename"] == "Upload" and upload["method"] == "PRESIGNED_POST", upload
    assert upload["url"] and upload["formFields"]["key"] == f"uploads/{upload['id']}"
    return upload


async def test_presigned_post_to_ready_and_one_master_for_the_same_bytes(client: Api, deployment: Deployment) -> None:
    clip = media.mp4_clip(seed=11)
    episode = await make_episode(client)
    assets = []
    for name in ("first.mp4", "second.mp4"):
        upload = await presigned(client, episode, clip, filename=name, contentType="video/mp4")
        response = await post_form(upload, clip, name)
        assert response.status_code in (200, 201, 204), response.text
        assert f"uploads/{upload['id']}" in deployment.staging_keys()
        done = await complete_upload(client, upload["id"])
        assert done["status"] == "PROCESSING", done
        assets.append(await settled(client, deployment, done["id"]))
        assert f"uploads/{upload['id']}" not in deployment.staging_keys()

    assert [a["status"] for a in assets] == ["READY", "READY"], assets
    assert len({a["id"] for a in assets}) == 2
    assert {a["sha256"] for a in assets} == {media.sha256(clip)}
    probe = assets[0]["probe"]
    assert (probe["width"], probe["height"], probe["video_codec"], probe["audio_codec"]) == (320, 240, "h264", "aac")
    for asset in assets:  # each upload: its persist job, then the process_asset job that queues
        assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
            ("persist_asset", "SUCCEEDED", 1),
            ("process_asset", "SUCCEEDED", 1),
        ], asset
        processed = await get_renditions(client, asset["id"])
        assert (processed["status"], processed["stage"], processed["progress"]) == ("READY", None, 100), processed
        assert len(ready_renditions(processed, "HLS_MASTER")) == 1 and ready_renditions(processed, "HLS_VARIANT")
    assert deployment.master_keys().count(master_key(media.sha256(clip))) == 1
    assert deployment.master_bytes(media.sha256(clip)) == clip
    # The renditions are in the previews bucket under the sha256; the same bytes share one ladder.
    ours = [k for k in deployment.preview_keys() if k.startswith(f"{media.sha256(clip)}/")]
    assert ours and all(k.startswith(f"{media.sha256(clip)}/hls-") for k in ours), ours
    assert sum(k.endswith("/master.m3u8") for k in ours) == 1, ours


async def test_multipart_interrupted_and_resumed(client: Api, deployment: Deployment) -> None:
    big = media.padded_mp4(11 * MiB, seed=12)
    episode = await make_episode(client)
    upload = await create_upload(client, filename="long.mp4", size=len(big), episodeId=episode, contentType="video/mp4")
    assert upload["__typename"] == "Upload" and upload["method"] == "MULTIPART", upload
    assert upload["partSize"] == PART
    parts = {p["partNumber"]: p["url"] for p in upload["parts"]}
    assert sorted(parts) == [1, 2, 3]

    def piece(n: int) -> bytes:
        return big[(n - 1) * PART : n * PART]

    await put_part(parts[1], piece(1))
    # The connection drops here. Completing now is refused: parts are missing.
    early = await complete_upload(client, upload["id"])
    assert "parts are missing" in assert_validation_error(early, ["id"])

    resumed = await resume_upload(client, upload["id"])
    assert resumed["__typename"] == "Upload" and resumed["status"] == "PENDING", resumed
    fresh = {p["partNumber"]: p["url"] for p in resumed["parts"]}
    assert sorted(fresh) == [2, 3]  # only what the bucket does not have
    for n in (2, 3):
        await put_part(fresh[n], piece(n))
    assert (await resume_upload(client, upload["id"]))["parts"] == []

    done = await complete_upload(client, upload["id"])
    assert done["status"] == "PROCESSING", done
    asset = await settled(client, deployment, done["id"])
    assert asset["status"] == "READY" and asset["size"] == len(big) and asset["sha256"] == media.sha256(big), asset
    assert [j["kind"] for j in asset["jobs"]] == ["persist_asset", "process_asset"], asset
    assert ready_renditions(await get_renditions(client, done["id"]), "HLS_MASTER")
    assert deployment.master_bytes(media.sha256(big)) == big
    assert f"uploads/{upload['id']}" not in deployment.staging_keys()
    assert deployment.pending_multipart(f"uploads/{upload['id']}") == []
    # Completed: nothing to resume, nothing to complete again.
    assert_validation_error(await resume_upload(client, upload["id"]), ["id"])
    assert "already completed" in assert_validation_error(await complete_upload(client, upload["id"]), ["id"])


async def test_completing_what_never_arrived(client: Api, deployment: Deployment) -> None:
    episode = await make_episode(client)
    clip = media.mp4_clip(seed=13)
    upload = await presigned(client, episode, clip)
    assert "no data" in assert_validation_error(await complete_upload(client, upload["id"]), ["id"])
    multipart = await create_upload(client, filename="big.mp4", size=9 * MiB, episodeId=episode)
    assert multipart["method"] == "MULTIPART"
    assert "no data" in assert_validation_error(await complete_upload(client, multipart["id"]), ["id"])
    for pending in (upload, multipart):
        assert (await get_asset(client, pending["asset"]["id"]))["status"] == "UPLOADING"


async def test_object_of_the_wrong_size_is_refused_and_removed(client: Api, deployment: Deployment) -> None:
    clip = media.mp4_clip(seed=14)
    episode = await make_episode(client)
    upload = await presigned(client, episode, clip)
    sent = clip + b"\0" * 100  # moto does not enforce the policy's content-length-range; completeUpload checks
    assert (await post_form(upload, sent)).status_code in (200, 201, 204)
    message = assert_validation_error(await complete_upload(client, upload["id"]), ["id"])
    assert f"declared {len(clip)}" in message
    assert f"uploads/{upload['id']}" not in deployment.staging_keys()
    assert (await get_asset(client, upload["asset"]["id"]))["status"] == "UPLOADING"


@pytest.mark.parametrize(
    ("case", "reason"),
    [("truncated", "readable video"), ("garbage", "not an accepted"), ("wrong-sha256", "sha256")],
)
async def test_bad_bytes_fail_with_a_reason_and_leave_nothing(
    client: Api, deployment: Deployment, case: str, reason: str
) -> None:
    good = media.mp4_clip(seed=15)
    data = {"truncated": media.truncated(good), "garbage": media.garbage(), "wrong-sha256": good}[case]
    extra = {"sha256": media.sha256(b"something else")} if case == "wrong-sha256" else {}
    episode = await make_episode(client)
    upload = await presigned(client, episode, data, filename="bad.mp4", contentType="video/mp4", **extra)
    assert (await post_form(upload, data)).status_code in (200, 201, 204)
    done = await complete_upload(client, upload["id"])
    assert done["status"] == "PROCESSING", done

    asset = await settled(client, deployment, done["id"])
    assert asset["status"] == "FAILED" and reason in asset["failureReason"], asset
    assert [(j["status"], j["attempts"]) for j in asset["jobs"]] == [("DEAD", 1)]
    assert f"uploads/{upload['id']}" not in deployment.staging_keys()
    assert master_key(media.sha256(data)) not in deployment.master_keys()
    assert not [k for k in deployment.preview_keys() if k.startswith(f"{media.sha256(data)}/")]
