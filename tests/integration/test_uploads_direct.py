"""Direct uploads end to end over HTTP (local storage): PUT /uploads/{id}, completeUpload, the persist job and
the process_asset job it queues (renditions; documents skip it).

Jobs run in-process (tests/support/jobs.py): relay -> Redis -> burst worker, as in production, on this loop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cms.api.ids import to_global_id
from cms.core.settings import Settings
from cms.media.storage import Area, master_key
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import drain
from tests.support.uploads import (
    area_files,
    assert_ready_video,
    assert_validation_error,
    complete_upload,
    create_upload,
    get_asset,
    get_renditions,
    make_episode,
    put_direct,
    ready_renditions,
    upload_direct,
)

# The smallest well-formed PDF: one empty page, a cross-reference table with correct offsets, a trailer.
TINY_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>\nendobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n"
    b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def empty_storage(settings: Settings) -> Path:
    """Storage outlives tests (one data dir per session): each test here starts from empty areas."""
    root = Path(settings.data_dir) / "storage"
    for area in Area:
        shutil.rmtree(root / area.value, ignore_errors=True)
        (root / area.value).mkdir(parents=True, exist_ok=True)
    return root


def staging(settings: Settings) -> list[Path]:
    return area_files(settings.data_dir, Area.STAGING)


def masters(settings: Settings) -> list[Path]:
    return area_files(settings.data_dir, Area.MASTERS)


def previews(settings: Settings) -> list[Path]:
    return area_files(settings.data_dir, Area.PREVIEWS)


def preview_keys(settings: Settings) -> list[str]:
    root = Path(settings.data_dir) / "storage" / Area.PREVIEWS.value
    return [p.relative_to(root).as_posix() for p in previews(settings)]


async def test_direct_upload_becomes_a_ready_master(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="pilot.mp4", size=len(clip), episodeId=episode, contentType="video/mp4")
    assert upload["__typename"] == "Upload", upload
    assert upload["method"] == "DIRECT" and upload["status"] == "PENDING"
    assert upload["url"].endswith(f"/uploads/{upload['id']}")
    assert upload["asset"]["status"] == "UPLOADING"

    response = await put_direct(api, upload["url"], clip, streamed=True)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": upload["id"], "status": "RECEIVED", "sha256": media.sha256(clip)}
    assert len(staging(settings)) == 1

    done = await complete_upload(api, upload["id"])
    assert done["status"] == "PROCESSING", done
    await drain(settings)

    asset = await get_asset(api, upload["asset"]["id"])
    assert asset["status"] == "READY", asset
    assert asset["failureReason"] is None
    assert asset["kind"] == "VIDEO" and asset["contentType"] == "video/mp4" and asset["filename"] == "pilot.mp4"
    assert asset["sha256"] == media.sha256(clip) and asset["size"] == len(clip)
    probe = asset["probe"]
    assert (probe["width"], probe["height"], probe["video_codec"], probe["audio_codec"]) == (320, 240, "h264", "aac")
    assert probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
        ("persist_asset", "SUCCEEDED", 1),
        ("process_asset", "SUCCEEDED", 1),
    ]

    assert staging(settings) == []
    stored = masters(settings)
    assert [p.relative_to(Path(settings.data_dir) / "storage" / "masters").as_posix() for p in stored] == [
        master_key(media.sha256(clip))
    ]
    assert stored[0].read_bytes() == clip

    processed = await get_renditions(api, upload["asset"]["id"])
    assert_ready_video(processed)
    assert {r["kind"] for r in processed["renditions"]} >= {"POSTER", "THUMBNAILS", "STORYBOARD"}
    # Renditions live in previews under the master's sha256 and an output fingerprint.
    keys = preview_keys(settings)
    assert keys and all(k.startswith(f"{media.sha256(clip)}/hls-") for k in keys), keys
    assert sum(k.endswith("/master.m3u8") for k in keys) == 1, keys


async def test_same_content_twice_is_one_master_and_two_assets(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    first = await upload_direct(api, episode, clip, filename="take-1.mp4")
    second = await upload_direct(api, episode, clip, filename="take-2.mp4")
    await drain(settings)

    assets = [await get_asset(api, a["id"]) for a in (first, second)]
    assert first["id"] != second["id"]
    assert [a["status"] for a in assets] == ["READY", "READY"], assets
    assert {a["sha256"] for a in assets} == {media.sha256(clip)}
    assert len(masters(settings)) == 1
    assert staging(settings) == []
    for asset in assets:
        assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
            ("persist_asset", "SUCCEEDED", 1),
            ("process_asset", "SUCCEEDED", 1),
        ], asset
        assert_ready_video(await get_renditions(api, asset["id"]))
    # Same bytes, same outputs: the previews are shared too (one ladder under the one sha256).
    keys = preview_keys(settings)
    assert sum(k.endswith("/master.m3u8") for k in keys) == 1, keys
    assert {k.split("/", 1)[0] for k in keys} == {media.sha256(clip)}


async def test_png_cover_for_a_program(api: Api, settings: Settings) -> None:
    from tests.support.api import operation

    png = media.png_image()
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Covered"}}, role="editor"))[
        "createProgram"
    ]
    upload = await create_upload(
        api, filename="cover.png", size=len(png), programId=program["id"], contentType="image/png"
    )
    assert upload["__typename"] == "Upload" and upload["asset"]["kind"] == "IMAGE", upload
    assert (await put_direct(api, upload["url"], png)).status_code == 200
    assert (await complete_upload(api, upload["id"]))["status"] == "PROCESSING"
    await drain(settings)

    asset = await get_asset(api, upload["asset"]["id"])
    assert (asset["status"], asset["kind"], asset["contentType"]) == ("READY", "IMAGE", "image/png"), asset
    assert (asset["probe"]["width"], asset["probe"]["height"]) == (64, 48)
    cover = await api.data(
        "query($id: ID!) { program(id: $id) { coverAsset { id } } }", {"id": program["id"]}, role="editor"
    )
    assert cover["program"]["coverAsset"] == {"id": upload["asset"]["id"]}
    assert ready_renditions(await get_renditions(api, upload["asset"]["id"]), "IMAGE")


async def test_png_upload_becomes_ready_with_webp_sizes(api: Api, settings: Settings) -> None:
    png = media.png_image()
    episode = await make_episode(api)
    done = await upload_direct(api, episode, png, filename="still.png", content_type="image/png")
    await drain(settings)

    asset = await get_asset(api, done["id"])
    assert (asset["status"], asset["kind"], asset["contentType"]) == ("READY", "IMAGE", "image/png"), asset
    assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
        ("persist_asset", "SUCCEEDED", 1),
        ("process_asset", "SUCCEEDED", 1),
    ]
    processed = await get_renditions(api, done["id"])
    assert (processed["status"], processed["stage"], processed["progress"]) == ("READY", None, 100), processed
    images = ready_renditions(processed, "IMAGE")
    assert images and {r["kind"] for r in processed["renditions"]} == {"IMAGE"}, processed["renditions"]
    assert all(0 < r["width"] <= 64 and r["height"] and r["size"] for r in images), images  # never upscaled
    keys = preview_keys(settings)
    assert keys and all(k.startswith(f"{media.sha256(png)}/images-") and k.endswith(".webp") for k in keys), keys
    for key in keys:
        data = (Path(settings.data_dir) / "storage" / Area.PREVIEWS.value / key).read_bytes()
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", key
    assert len(keys) == len(images)
    assert staging(settings) == [] and len(masters(settings)) == 1


async def test_pdf_upload_is_ready_after_its_preview_and_text(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    done = await upload_direct(api, episode, TINY_PDF, filename="notes.pdf", content_type="application/pdf")
    await drain(settings)

    asset = await get_asset(api, done["id"])
    assert (asset["status"], asset["kind"], asset["contentType"]) == ("READY", "DOCUMENT", "application/pdf"), asset
    assert asset["sha256"] == media.sha256(TINY_PDF) and asset["failureReason"] is None
    assert asset["probe"]["pages"] == 1
    # Documents are processed like images (tests/integration/test_documents.py): a first-page preview and WebP sizes.
    assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
        ("persist_asset", "SUCCEEDED", 1),
        ("process_asset", "SUCCEEDED", 1),
    ]
    processed = await get_renditions(api, done["id"])
    assert (processed["status"], processed["stage"], processed["progress"]) == ("READY", None, 100), processed
    assert len(ready_renditions(processed, "POSTER")) == 1 and ready_renditions(processed, "IMAGE"), processed
    keys = preview_keys(settings)
    assert keys and all(k.startswith(f"{media.sha256(TINY_PDF)}/document-") and k.endswith(".webp") for k in keys)
    assert len(keys) == len(processed["renditions"])  # the text is kept for search, never published
    assert staging(settings) == []
    assert [p.read_bytes() for p in masters(settings)] == [TINY_PDF]


async def test_wrong_magic_bytes_are_refused_before_storing(api: Api, settings: Settings) -> None:
    junk = media.garbage()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="movie.mp4", size=len(junk), episodeId=episode, contentType="video/mp4")
    response = await put_direct(api, upload["url"], junk, streamed=True)
    assert response.status_code == 415, response.text
    assert "not an accepted" in response.json()["error"]
    assert staging(settings) == []
    # Nothing arrived, so there is nothing to complete.
    assert "no data" in assert_validation_error(await complete_upload(api, upload["id"]), ["id"])
    assert (await get_asset(api, upload["asset"]["id"]))["status"] == "UPLOADING"


async def test_truncated_mp4_fails_with_a_reason_and_leaves_nothing(api: Api, settings: Settings) -> None:
    broken = media.truncated(media.mp4_clip())
    episode = await make_episode(api)
    done = await upload_direct(api, episode, broken, filename="cut-short.mp4")
    await drain(settings)

    asset = await get_asset(api, done["id"])
    assert asset["status"] == "FAILED", asset
    assert "not a readable video" in asset["failureReason"] or "truncated" in asset["failureReason"], asset
    # A bad file is not worth retrying: dead at once, with the reason on the job too.
    assert [(j["status"], j["attempts"]) for j in asset["jobs"]] == [("DEAD", 1)]
    assert asset["jobs"][0]["lastError"]
    assert staging(settings) == [] and masters(settings) == []


async def test_a_huge_valid_image_fails_as_too_large_with_the_limit(api: Api, settings: Settings) -> None:
    """30000x30000: refused from its header for its size, before FFmpeg or Pillow try to decode it."""
    episode = await make_episode(api)
    done = await upload_direct(
        api, episode, media.png_header_only(30_000, 30_000), filename="poster.png", content_type="image/png"
    )
    await drain(settings)
    asset = await get_asset(api, done["id"])
    assert asset["status"] == "FAILED", asset
    assert "too large" in asset["failureReason"] and "at most 100 MP" in asset["failureReason"], asset
    assert "Invalid data" not in asset["failureReason"]


async def test_zero_bytes_is_refused_at_create(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    result = await create_upload(api, filename="empty.mp4", size=0, episodeId=episode)
    assert "at least 1 byte" in assert_validation_error(result, ["input", "size"])


async def test_over_the_limit_is_refused_at_create(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    result = await create_upload(api, filename="huge.mp4", size=settings.upload_max_bytes + 1, episodeId=episode)
    assert "at most" in assert_validation_error(result, ["input", "size"])


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_body_bigger_than_declared_is_413_and_leaves_nothing(
    api: Api, settings: Settings, streamed: bool
) -> None:
    clip = media.mp4_clip()
    declared = len(clip) // 2
    episode = await make_episode(api)
    upload = await create_upload(api, filename="liar.mp4", size=declared, episodeId=episode)
    response = await put_direct(api, upload["url"], clip, streamed=streamed)
    assert response.status_code == 413, response.text
    assert str(declared) in response.json()["error"]
    assert staging(settings) == []  # temporary files included
    assert "no data" in assert_validation_error(await complete_upload(api, upload["id"]), ["id"])
    # The upload still takes the right bytes afterwards.
    exact = clip[:declared]
    assert (await put_direct(api, upload["url"], exact)).status_code == 200


async def test_body_smaller_than_declared_is_refused(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="short.mp4", size=len(clip) + 10, episodeId=episode)
    response = await put_direct(api, upload["url"], clip, streamed=True)
    assert response.status_code == 400, response.text
    assert response.json()["fields"]["body"].startswith("received")
    assert staging(settings) == []


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.mp4", "a/b.mp4", "..\\..\\win.mp4", "evil\x00.mp4", "line\nbreak.mp4", "..", ""],
    ids=["dotdot", "slash", "backslash", "nul", "newline", "dotdot-only", "empty"],
)
async def test_unsafe_filenames_are_refused(api: Api, settings: Settings, filename: str) -> None:
    episode = await make_episode(api)
    result = await create_upload(api, filename=filename, size=100, episodeId=episode)
    assert_validation_error(result, ["input", "filename"])
    assets = await api.data("query($id: ID!) { episode(id: $id) { assets { id } } }", {"id": episode}, role="editor")
    assert assets["episode"]["assets"] == []
    assert staging(settings) == []


async def test_completing_an_upload_that_never_arrived(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    upload = await create_upload(api, filename="ghost.mp4", size=1234, episodeId=episode)
    assert "no data" in assert_validation_error(await complete_upload(api, upload["id"]), ["id"])
    assert (await get_asset(api, upload["asset"]["id"]))["status"] == "UPLOADING"
    missing = await complete_upload(api, "00000000-0000-4000-8000-000000000000")
    assert missing["__typename"] == "NotFoundError", missing
    assert_validation_error(await complete_upload(api, "not-a-uuid"), ["id"])


async def test_completing_twice_is_refused_and_starts_one_job_of_each_kind(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="twice.mp4", size=len(clip), episodeId=episode)
    assert (await put_direct(api, upload["url"], clip)).status_code == 200
    assert (await complete_upload(api, upload["id"]))["status"] == "PROCESSING"
    assert "already completed" in assert_validation_error(await complete_upload(api, upload["id"]), ["id"])
    # And no second PUT once the bytes are in.
    assert (await put_direct(api, upload["url"], clip)).status_code == 409
    await drain(settings)
    asset = await get_asset(api, upload["asset"]["id"])
    # One persist job, and the one process_asset job it queued: nothing doubled by the refused second call.
    assert asset["status"] == "READY", asset
    assert [(j["kind"], j["attempts"]) for j in asset["jobs"]] == [("persist_asset", 1), ("process_asset", 1)], asset


async def test_declared_checksum_must_match(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="sum.mp4", size=len(clip), episodeId=episode, sha256="0" * 64)
    assert (await put_direct(api, upload["url"], clip)).status_code == 200
    assert "sha256" in assert_validation_error(await complete_upload(api, upload["id"]), ["id"])
    assert staging(settings) == []
    # The client may send the bytes again (here still not matching the declared sum: refused again).
    assert (await put_direct(api, upload["url"], clip)).status_code == 200
    assert_validation_error(await complete_upload(api, upload["id"]), ["id"])


async def test_put_needs_an_editor_token(api: Api, settings: Settings) -> None:
    clip = media.mp4_clip()
    episode = await make_episode(api)
    upload = await create_upload(api, filename="auth.mp4", size=len(clip), episodeId=episode)
    assert (await put_direct(api, upload["url"], clip, role=None)).status_code == 401
    assert (await put_direct(api, upload["url"], clip, role="viewer")).status_code == 403
    viewer = await create_upload(api, filename="v.mp4", size=len(clip), episodeId=episode, role="viewer")
    assert viewer["__typename"] == "ForbiddenError", viewer
    assert staging(settings) == []
    unknown = api.client.base_url.join(f"/uploads/{to_global_id('Asset', 1)}")
    assert (await put_direct(api, str(unknown), clip)).status_code == 400
