"""`cms import PATH --program SLUG`: a folder's media files become draft episodes with READY media, once each.

The command runs as a real subprocess (`.venv/bin/cms`) on the test database and data dir; the worker's jobs run in
this process (`drain`). The interruption test calls the domain function in-process to stop it at a known point.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from cms.audit.models import AuditEntry
from cms.content import episodes
from cms.content.models import Episode, Program, PublishStatus
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.ingest import folder
from cms.ingest.actors import import_actor
from cms.media.models import Asset, AssetStatus, Upload
from cms.media.storage import open_storage_from_settings
from tests.support import media
from tests.support.api import Api
from tests.support.jobs import database_url, drain
from tests.support.processes import CMS, ROOT, child_env

CLIP_A = media.mp4_clip(seconds=1.0, seed=41)
CLIP_B = media.mp4_clip(seconds=1.0, seed=42)


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _env(settings: Settings, db_target: PgTarget, **extra: str) -> dict[str, str]:
    return child_env({"DATABASE_URL": database_url(db_target), "CMS_DATA_DIR": str(settings.data_dir), **extra})


async def _cms(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [str(CMS), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    """The command's last line: `N imported, N already imported, N duplicate, N not media, N skipped, N failed`."""
    return result.stdout.strip().splitlines()[-1]


async def _program(slug: str) -> Program:
    return await Program.create(title=slug.title(), slug=slug)


async def _imported(program: Program) -> dict[str, tuple[str, PublishStatus, list[AssetStatus]]]:
    """external_id -> (title, status, its assets' statuses)."""
    found = {}
    for episode in await Episode.filter(program_id=program.id).order_by("external_id"):
        assert episode.source == f"folder:{program.id}"
        statuses = [a.status for a in await Asset.filter(episode_id=episode.id)]
        found[str(episode.external_id)] = (episode.title, episode.status, statuses)
    return found


async def test_a_tree_comes_in_once_and_its_media_becomes_ready(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    program = await _program("imported-tree")
    outside = _write(tmp_path / "outside", {"elsewhere.mp4": media.mp4_clip(seconds=1.0, seed=43)})
    root = _write(
        tmp_path / "tree",
        {
            "Opening night.mp4": CLIP_A,
            "nested/deeper/poster.png": media.png_image(),
            "nested/copy of opening.mp4": CLIP_A,  # the same bytes: counted once
            "notes.txt": b"shot list, not media\n",
            ".hidden.mp4": CLIP_B,  # hidden files and folders are ignored
            ".cache/clip.mp4": CLIP_B,
        },
    )
    (root / "escape.mp4").symlink_to(outside / "elsewhere.mp4")  # never followed out of the folder
    env = _env(settings, db_target)

    first = await _cms("import", str(root), "--program", "imported-tree", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _summary(first) == "2 imported, 0 already imported, 1 duplicate, 1 not media, 1 skipped, 0 failed"
    assert "nested/copy of opening.mp4" in first.stdout and "Opening night.mp4" in first.stdout
    assert "symlink to outside the folder" in first.stdout

    await drain(settings)
    ready = [AssetStatus.READY]
    assert await _imported(program) == {
        "Opening night.mp4": ("Opening night", PublishStatus.DRAFT, ready),
        "nested/deeper/poster.png": ("poster", PublishStatus.DRAFT, ready),
    }
    creators = await AuditEntry.filter(action="episode.create").values_list("actor_subject", flat=True)
    assert creators == ["system:import:folder"] * 2

    # Run again: nothing new, nothing duplicated.
    again = await _cms("import", str(root), "--program", "imported-tree", "--quiet", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _summary(again) == "0 imported, 2 already imported, 1 duplicate, 1 not media, 1 skipped, 0 failed"
    assert await Episode.all().count() == 2 and await Asset.all().count() == 2 and await Upload.all().count() == 2

    # Bytes stored already, for any program, are not copied again: reported as a duplicate of that episode.
    await _program("second")
    other = _write(tmp_path / "other", {"same.mp4": CLIP_A})
    third = await _cms("import", str(other), "--program", "second", env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert _summary(third).startswith("0 imported, 0 already imported, 1 duplicate")
    assert "program 'imported-tree'" in third.stdout
    assert await Asset.all().count() == 2


async def test_an_interrupted_import_continues_without_duplicates(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    program = await _program("interrupted")
    root = _write(tmp_path / "tree", {"a.mp4": CLIP_A, "b.mp4": CLIP_B, "c.png": media.png_image()})

    class Interrupted(Exception):
        pass

    def stop_at_second_file(file: folder.FolderFile, phase: str) -> None:
        if file.relative == "b.mp4" and phase == "hashing":
            raise Interrupted  # as Ctrl-C would: mid-run, after one file went in

    report = folder.Report()
    with pytest.raises(Interrupted):
        await folder.import_folder(
            settings=settings,
            storage=open_storage_from_settings(settings),
            program=program,
            root=root,
            walk=folder.walk_folder(root),
            report=report,
            progress=folder.Progress(file_started=stop_at_second_file),
        )
    assert [path for path, _ in report.entries[folder.Outcome.IMPORTED]] == ["a.mp4"]
    # A run killed between an episode and its asset leaves the episode: the next run gives it its asset.
    actor = await import_actor()
    orphan = await episodes.episode_from_source(
        actor=actor, program_id=program.id, source=f"folder:{program.id}", external_id="c.png", item={"title": "c"}
    )

    result = await _cms("import", str(root), "--program", "interrupted", env=_env(settings, db_target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary(result) == "2 imported, 1 already imported, 0 duplicate, 0 not media, 0 skipped, 0 failed"
    await drain(settings)
    ready = [AssetStatus.READY]
    assert await _imported(program) == {
        "a.mp4": ("a", PublishStatus.DRAFT, ready),
        "b.mp4": ("b", PublishStatus.DRAFT, ready),
        "c.png": ("c", PublishStatus.DRAFT, ready),
    }
    assert await Asset.filter(episode_id=orphan.id).count() == 1


async def test_a_killed_import_run_again_brings_each_file_in_once(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    """Killed (SIGKILL) as soon as its first episode exists; wherever it stopped, a second run finishes the job."""
    program = await _program("killed")
    files = {f"clip-{n}.mp4": media.mp4_clip(seconds=1.0, seed=50 + n) for n in range(4)}
    root = _write(tmp_path / "tree", files)
    env = _env(settings, db_target)
    child = subprocess.Popen(
        [str(CMS), "import", str(root), "--program", "killed"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if child.poll() is not None or await Episode.filter(program_id=program.id).exists():
                break
            await asyncio.sleep(0.05)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        await asyncio.to_thread(child.wait, 30)

    result = await _cms("import", str(root), "--program", "killed", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    await drain(settings)
    found = await _imported(program)
    assert sorted(found) == sorted(files)
    assert all(statuses == [AssetStatus.READY] for _, _, statuses in found.values()), found
    assert await Upload.all().count() == await Asset.all().count() == len(files)


async def test_dry_run_changes_nothing(api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path) -> None:
    await _program("dry")
    root = _write(tmp_path / "tree", {"a.mp4": CLIP_A, "again.mp4": CLIP_A, "readme.txt": b"hello\n"})
    manifests = set((settings.data_dir / "imports").glob("*")) if (settings.data_dir / "imports").exists() else set()

    result = await _cms("import", str(root), "--program", "dry", "--dry-run", env=_env(settings, db_target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would import" in result.stdout and "dry run: nothing was changed" in result.stdout
    assert _summary(result) == "1 imported, 0 already imported, 1 duplicate, 1 not media, 0 skipped, 0 failed"
    assert await Episode.all().count() == 0 and await Asset.all().count() == 0 and await Upload.all().count() == 0
    now = set((settings.data_dir / "imports").glob("*")) if (settings.data_dir / "imports").exists() else set()
    assert now == manifests


async def test_a_failed_file_exits_1_and_goes_in_on_the_next_run(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    program = await _program("limits")
    small = media.png_image()
    root = _write(tmp_path / "tree", {"big.mp4": CLIP_A, "small.png": small})

    limited = _env(settings, db_target, CMS_UPLOAD_MAX_BYTES=str(len(small) + 1))
    failed = await _cms("import", str(root), "--program", "limits", "--quiet", env=limited)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "big.mp4: larger than CMS_UPLOAD_MAX_BYTES" in failed.stdout
    assert _summary(failed) == "1 imported, 0 already imported, 0 duplicate, 0 not media, 0 skipped, 1 failed"

    fixed = await _cms("import", str(root), "--program", "limits", env=_env(settings, db_target))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _summary(fixed) == "1 imported, 1 already imported, 0 duplicate, 0 not media, 0 skipped, 0 failed"
    assert sorted(await _imported(program)) == ["big.mp4", "small.png"]


async def test_publish_publishes_each_episode_once_its_media_is_ready(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    env = _env(settings, db_target)
    fresh = await _program("published-on-ready")
    result = await _cms(
        "import", str(_write(tmp_path / "a", {"a.mp4": CLIP_A})), "--program", fresh.slug, "--publish", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [s for _, s, _ in (await _imported(fresh)).values()] == [PublishStatus.DRAFT]  # media not ready yet
    await drain(settings)
    assert [s for _, s, _ in (await _imported(fresh)).values()] == [PublishStatus.PUBLISHED]

    # Imported as drafts first, then run again with --publish: media already READY is published at once.
    later = await _program("published-later")
    tree = _write(tmp_path / "b", {"b.mp4": CLIP_B})
    assert (await _cms("import", str(tree), "--program", later.slug, env=env)).returncode == 0
    await drain(settings)
    assert [s for _, s, _ in (await _imported(later)).values()] == [PublishStatus.DRAFT]
    again = await _cms("import", str(tree), "--program", later.slug, "--publish", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [s for _, s, _ in (await _imported(later)).values()] == [PublishStatus.PUBLISHED]


async def test_bad_arguments_exit_2_with_a_clear_message(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    env = _env(settings, db_target)
    unknown = await _cms("import", str(tmp_path), "--program", "no-such-program", env=env)
    assert unknown.returncode == 2
    assert "no program with the slug 'no-such-program'" in unknown.stderr

    await _program("exists")
    missing = await _cms("import", str(tmp_path / "missing"), "--program", "exists", env=env)
    assert missing.returncode == 2 and "no such folder" in missing.stderr
