"""The upload flow as a client drives it: GraphQL operations, the direct PUT, and storage inspection."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from cms.media.storage import Area
from tests.support.api import Api, operation

CREATE_UPLOAD = operation("CreateUpload")

COMPLETE_UPLOAD = operation("CompleteUpload")

RESUME_UPLOAD = operation("ResumeUpload")

ASSET = operation("Asset")

ASSET_RENDITIONS = operation("AssetRenditions")

JOBS = operation("Jobs")

RETRY_JOB = operation("RetryJob")


async def make_episode(api: Api, title: str = "Intake") -> str:
    program = (await api.data(operation("CreateProgram"), {"input": {"title": f"{title} show"}}, role="editor"))[
        "createProgram"
    ]
    assert program["__typename"] == "Program", program
    variables = {"input": {"programId": program["id"], "title": title}}
    episode = (await api.data(operation("CreateEpisode"), variables, role="editor"))["createEpisode"]
    assert episode["__typename"] == "Episode", episode
    return episode["id"]


async def create_upload(api: Api, *, filename: str, size: int, role: str = "editor", **fields: Any) -> dict[str, Any]:
    variables = {"input": {"filename": filename, "size": size, **fields}}
    return (await api.data(CREATE_UPLOAD, variables, role=role))["createUpload"]


async def complete_upload(api: Api, upload_id: str, *, role: str = "editor") -> dict[str, Any]:
    return (await api.data(COMPLETE_UPLOAD, {"id": upload_id}, role=role))["completeUpload"]


async def resume_upload(api: Api, upload_id: str, *, role: str = "editor") -> dict[str, Any]:
    return (await api.data(RESUME_UPLOAD, {"id": upload_id}, role=role))["resumeUpload"]


async def get_asset(api: Api, asset_id: str, *, role: str = "editor") -> dict[str, Any]:
    asset = (await api.data(ASSET, {"id": asset_id}, role=role))["node"]
    assert asset is not None, f"asset {asset_id} not visible"
    return asset


async def get_renditions(api: Api, asset_id: str, *, role: str = "editor") -> dict[str, Any]:
    """The asset's processing view: status, stage, progress and its renditions."""
    asset = (await api.data(ASSET_RENDITIONS, {"id": asset_id}, role=role))["node"]
    assert asset is not None, f"asset {asset_id} not visible"
    return asset


def ready_renditions(asset: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The READY renditions of one kind (from get_renditions)."""
    return [r for r in asset["renditions"] if r["kind"] == kind and r["status"] == "READY"]


def assert_ready_video(asset: dict[str, Any]) -> None:
    """READY after both jobs (persist, then process_asset): stage cleared, progress 100, a playable ladder."""
    assert (asset["status"], asset["stage"], asset["progress"]) == ("READY", None, 100), asset
    assert len(ready_renditions(asset, "HLS_MASTER")) == 1, asset["renditions"]
    assert ready_renditions(asset, "HLS_VARIANT"), asset["renditions"]


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body with no Content-Length: httpx sends it chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def put_direct(
    api: Api, url: str, data: bytes, *, role: str | None = "editor", streamed: bool = False
) -> httpx.Response:
    token = api.token(role)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    content = chunks(data) if streamed else data
    return await api.client.put(url, content=content, headers=headers)


async def upload_direct(
    api: Api,
    episode_id: str,
    data: bytes,
    *,
    filename: str = "clip.mp4",
    content_type: str = "video/mp4",
    **fields: Any,
) -> dict[str, Any]:
    """createUpload + PUT + completeUpload; returns the completed asset (PROCESSING)."""
    upload = await create_upload(
        api, filename=filename, size=len(data), episodeId=episode_id, contentType=content_type, **fields
    )
    assert upload["__typename"] == "Upload" and upload["method"] == "DIRECT", upload
    response = await put_direct(api, upload["url"], data)
    assert response.status_code == 200, response.text
    done = await complete_upload(api, upload["id"])
    assert done == {"__typename": "Asset", "id": upload["asset"]["id"], "status": "PROCESSING"}, done
    return done


def assert_validation_error(result: dict[str, Any], path: list[str]) -> str:
    """The result is a ValidationError naming `path`; returns that field's message."""
    assert result["__typename"] == "ValidationError", result
    messages = {tuple(f["path"]): f["message"] for f in result["fields"]}
    assert tuple(path) in messages, result
    return messages[tuple(path)]


def empty_areas(data_dir: Path) -> Path:
    """Empty every area of local storage (it outlives tests: one data dir per session), for a test that counts
    files; returns the storage root."""
    root = Path(data_dir) / "storage"
    for area in Area:
        shutil.rmtree(root / area.value, ignore_errors=True)
        (root / area.value).mkdir(parents=True, exist_ok=True)
    return root


def area_files(data_dir: Path, area: Area) -> list[Path]:
    """Every file in an area of local storage (temporary files included)."""
    root = Path(data_dir) / "storage" / area.value
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def bucket_keys(s3_client: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)
