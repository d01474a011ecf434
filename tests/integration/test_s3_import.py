"""`cms import s3://bucket/prefix --program SLUG`: a bucket's media objects become draft episodes with READY media,
copied inside S3 (never through the command), once each.

S3 is moto's server on loopback; the command runs as a real subprocess (`.venv/bin/cms`) on the test database with
the S3 variables set; the worker's jobs run in this process (`drain`) with settings that point at the same buckets.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cms.content.models import Episode, Program, PublishStatus
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.media.models import Asset, AssetStatus, Upload
from cms.media.storage import Area, master_key
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import database_url, drain
from tests.support.processes import CMS, ROOT, child_env
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, MotoS3
from tests.support.uploads import bucket_keys

CLIP = media.mp4_clip(seconds=1.0, seed=61)
POSTER = media.png_image()


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with MotoS3() as server:
        yield server


@pytest.fixture
def buckets(moto_s3: MotoS3) -> dict[Area, str]:
    return moto_s3.create_buckets("import")


@pytest.fixture
def on_s3(settings: Settings, moto_s3: MotoS3, buckets: dict[Area, str]) -> Settings:
    """The suite's settings with media on moto's S3: what the worker (drain) uses."""
    return settings.model_copy(
        update={
            "s3_endpoint_url": moto_s3.endpoint_url,
            "s3_bucket_staging": buckets[Area.STAGING],
            "s3_bucket_masters": buckets[Area.MASTERS],
            "s3_bucket_previews": buckets[Area.PREVIEWS],
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }
    )


def _env(settings: Settings, db_target: PgTarget, moto_s3: MotoS3 | None, buckets: dict[Area, str]) -> dict[str, str]:
    env = {"DATABASE_URL": database_url(db_target), "CMS_DATA_DIR": str(settings.data_dir)}
    if moto_s3 is not None:
        env |= moto_s3.env(buckets)
    return child_env(env)


async def _cms(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [str(CMS), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    """The command's last line: `N imported, N already imported, N duplicate, N not media, N skipped, N failed`."""
    return result.stdout.strip().splitlines()[-1]


def _source_state(s3: Any, bucket: str) -> dict[str, tuple[str, int]]:
    """key -> (ETag, size) of every object in the bucket."""
    return {
        o["Key"]: (o["ETag"], o["Size"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }


@pytest.fixture
def source_bucket(moto_s3: MotoS3, buckets: dict[Area, str]) -> str:
    """A bucket of someone's media: two media objects, copies of both, a text file, a hidden object, a "folder"
    marker, an empty object, and an object outside the imported prefix."""
    s3 = moto_s3.client()
    name = buckets[Area.STAGING].replace("-staging", "-source")
    s3.create_bucket(Bucket=name)
    # With a SHA256 checksum kept by S3: the import can dedup by sha256 without reading the bytes.
    s3.put_object(Bucket=name, Key="shows/Opening night.mp4", Body=CLIP, ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=name, Key="shows/reruns/opening again.mp4", Body=CLIP, ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=name, Key="shows/art/poster.png", Body=POSTER)
    s3.put_object(Bucket=name, Key="shows/art/poster copy.png", Body=POSTER)  # same size and ETag
    s3.put_object(Bucket=name, Key="shows/notes.txt", Body=b"shot list, not media\n")
    s3.put_object(Bucket=name, Key="shows/.hidden.mp4", Body=media.mp4_clip(seconds=1.0, seed=62))
    s3.put_object(Bucket=name, Key="shows/.cache/clip.mp4", Body=media.mp4_clip(seconds=1.0, seed=63))
    s3.put_object(Bucket=name, Key="shows/empty/", Body=b"")  # a console's "folder"
    s3.put_object(Bucket=name, Key="shows/nothing.mp4", Body=b"")
    s3.put_object(Bucket=name, Key="elsewhere/clip.mp4", Body=media.mp4_clip(seconds=1.0, seed=64))
    return name


async def _imported(program: Program) -> dict[str, tuple[str, PublishStatus, list[AssetStatus]]]:
    """external_id -> (title, status, its assets' statuses)."""
    found = {}
    for episode in await Episode.filter(program_id=program.id).order_by("external_id"):
        assert episode.source == f"folder:{program.id}"
        statuses = [a.status for a in await Asset.filter(episode_id=episode.id)]
        found[str(episode.external_id)] = (episode.title, episode.status, statuses)
    return found


async def test_a_prefix_comes_in_once_copied_inside_s3(
    api: Api,
    settings: Settings,
    on_s3: Settings,
    db_target: PgTarget,
    moto_s3: MotoS3,
    buckets: dict[Area, str],
    source_bucket: str,
) -> None:
    program = await Program.create(title="From S3", slug="from-s3")
    s3 = moto_s3.client()
    before = _source_state(s3, source_bucket)
    env = _env(settings, db_target, moto_s3, buckets)
    url = f"s3://{source_bucket}/shows"
    expected = "2 imported, 0 already imported, 2 duplicate, 1 not media, 1 skipped, 0 failed"

    # A dry run lists what would happen and changes nothing.
    manifest = settings.data_dir / "imports" / f"s3-{program.id}.jsonl"
    dry = await _cms("import", url, "--program", program.slug, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would import" in dry.stdout and "dry run: nothing was changed" in dry.stdout
    assert _summary(dry) == expected
    assert await Episode.all().count() == 0 and await Asset.all().count() == 0 and await Upload.all().count() == 0
    assert bucket_keys(s3, buckets[Area.STAGING]) == [] and not manifest.exists()

    first = await _cms("import", url, "--program", program.slug, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _summary(first) == expected
    assert "notes.txt: not a video" in first.stdout and "nothing.mp4: empty object" in first.stdout
    assert ".hidden" not in first.stdout and ".cache" not in first.stdout and "elsewhere" not in first.stdout
    uploads = await Upload.all()
    assert len(uploads) == 2 and all(u.received_sha256 is None for u in uploads)  # nobody hashed the bytes

    await drain(on_s3)
    ready = [AssetStatus.READY]
    assert await _imported(program) == {
        f"s3://{source_bucket}/shows/Opening night.mp4": ("Opening night", PublishStatus.DRAFT, ready),
        f"s3://{source_bucket}/shows/art/poster copy.png": ("poster copy", PublishStatus.DRAFT, ready),
    }
    # The masters are content-addressed in the masters bucket; staging is empty; the source is as it was.
    masters = bucket_keys(s3, buckets[Area.MASTERS])
    for data in (CLIP, POSTER):
        key = master_key(hashlib.sha256(data).hexdigest())
        assert key in masters
        assert s3.get_object(Bucket=buckets[Area.MASTERS], Key=key)["Body"].read() == data
    assert sorted(a.sha256 for a in await Asset.all()) == sorted(hashlib.sha256(d).hexdigest() for d in (CLIP, POSTER))
    assert bucket_keys(s3, buckets[Area.STAGING]) == []
    assert _source_state(s3, source_bucket) == before
    assert s3.get_object(Bucket=source_bucket, Key="shows/Opening night.mp4")["Body"].read() == CLIP

    # Duplicates: by the SHA256 S3 keeps when the object has one, else by bucket, size and ETag.
    opening = f"s3://{source_bucket}/shows/Opening night.mp4"
    assert f"duplicate: reruns/opening again.mp4: same bytes as {opening} in this run" in first.stdout
    poster_copy = f"s3://{source_bucket}/shows/art/poster copy.png"
    assert f"duplicate: art/poster.png: same size and ETag as {poster_copy} in this run" in first.stdout

    # Run again, with two more copies: nothing new, nothing duplicated, also across runs.
    s3.put_object(Bucket=source_bucket, Key="shows/later/clip.mp4", Body=CLIP, ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=source_bucket, Key="shows/later/poster.png", Body=POSTER)
    again = await _cms("import", url + "/", "--program", program.slug, "--quiet", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _summary(again) == "0 imported, 2 already imported, 4 duplicate, 1 not media, 1 skipped, 0 failed"
    assert "later/clip.mp4: same bytes as episode" in again.stdout
    assert f"later/poster.png: same size and ETag as {poster_copy} (episode" in again.stdout
    assert await Episode.all().count() == 2 and await Asset.all().count() == 2 and await Upload.all().count() == 2
    assert bucket_keys(s3, buckets[Area.STAGING]) == []


async def test_a_local_storage_cms_refuses_s3_urls(
    api: Api, settings: Settings, db_target: PgTarget, buckets: dict[Area, str], source_bucket: str
) -> None:
    await Program.create(title="Local", slug="local")
    result = await _cms(
        "import", f"s3://{source_bucket}/shows", "--program", "local", env=_env(settings, db_target, None, buckets)
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "S3_ENDPOINT_URL" in result.stderr
    assert await Episode.all().count() == 0


async def test_bad_s3_arguments_exit_2(
    api: Api,
    settings: Settings,
    db_target: PgTarget,
    moto_s3: MotoS3,
    buckets: dict[Area, str],
    source_bucket: str,
) -> None:
    env = _env(settings, db_target, moto_s3, buckets)
    await Program.create(title="Args", slug="args")
    no_bucket = await _cms("import", "s3:///shows", "--program", "args", env=env)
    assert no_bucket.returncode == 2 and "expected s3://bucket/prefix" in no_bucket.stderr
    missing = await _cms("import", f"s3://{source_bucket}-gone/shows", "--program", "args", env=env)
    assert missing.returncode == 2 and "cannot list" in missing.stderr, missing.stderr
    no_program = await _cms("import", f"s3://{source_bucket}/shows", "--program", "nope", env=env)
    assert no_program.returncode == 2 and "no program" in no_program.stderr


def test_the_manifest_path_is_per_program(tmp_path: Path) -> None:
    from cms.ingest.s3_import import EtagManifest, parse_s3_url

    assert EtagManifest.for_program(tmp_path, 7, writable=False).path == tmp_path / "imports" / "s3-7.jsonl"
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/x/y") == ("b", "x/y/")
    assert parse_s3_url("s3://b/x/y/") == ("b", "x/y/")
