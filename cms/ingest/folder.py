"""Folder import (`cms import PATH --program SLUG`): one draft episode per media file of a tree, through the intake.

Each regular file under the folder (hidden files and folders ignored; symlinks only when they point inside the
folder) becomes a DRAFT episode of the program, found or created by its provenance (`folder:<program id>`, the
path relative to the folder), titled from the file name, whose asset goes through the normal intake
(`create_asset_from_file`: staging, then the worker persists, processes and indexes it, as for an upload).

Deduplication is by content: a file whose bytes are already stored as the asset of an episode (a sha256 match on a
persisted asset, or on the completed upload of one the worker has not persisted yet) is reported as a duplicate of
that episode and neither copied nor given an episode of its own; two identical files in the tree count once (the
first in path order is imported). Assets that FAILED or belong to no episode (deleted episode, program cover) do
not count: importing the file again is then the way to get it back.

Resumable: everything is keyed so that running the import again continues where it stopped. Files whose episode
already has its asset are skipped from the database alone, without reading them; an episode created just before an
interruption gets its asset on the next run; hashes are kept in a small manifest under the data dir (relative path,
size, mtime -> sha256), so unchanged files are not read again to find they are duplicates.

`publish`: the episode is marked (metadata `folderImport.publishWhenReady`) before its asset is created, and the
worker's `ingest_publish` job (jobs/source_runs.py) publishes it once its media is READY, as for sources with
autoPublish. A re-run with `publish` marks episodes imported earlier too, and publishes those already ready.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cms.content import episodes
from cms.content.models import Episode, Program, PublishStatus
from cms.core.errors import DomainError
from cms.core.settings import Settings
from cms.ingest.actors import import_actor
from cms.media.imports import create_asset_from_file
from cms.media.models import Asset, AssetStatus, Upload
from cms.media.sniff import sniff_file
from cms.media.storage import Storage
from cms.users.actors import Actor

log = logging.getLogger("cms.ingest.folder")

PUBLISH_FLAG = "folderImport"  # episode metadata key: {"publishWhenReady": true}
SOURCE_PREFIX = "folder:"
_HASH_CHUNK = 4 * 1024 * 1024
_EXTERNAL_ID_MAX = 300  # Episode.external_id's column


class Outcome(StrEnum):
    IMPORTED = "imported"
    ALREADY = "already imported"
    DUPLICATE = "duplicate"
    NOT_MEDIA = "not media"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FolderFile:
    path: Path  # what to read: the file itself, or a symlink's target inside the folder
    relative: str  # posix path relative to the folder: the episode's external_id
    size: int
    mtime_ns: int


@dataclass
class Walk:
    files: list[FolderFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # folders that could not be read

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class Report:
    """What happened to each file, filled in as the import goes (so an interrupted run can still show it)."""

    dry_run: bool = False
    entries: dict[Outcome, list[tuple[str, str]]] = field(default_factory=lambda: {o: [] for o in Outcome})

    def add(self, outcome: Outcome, relative: str, detail: str = "") -> None:
        self.entries[outcome].append((relative, detail))

    def count(self, outcome: Outcome) -> int:
        return len(self.entries[outcome])

    @property
    def ok(self) -> bool:
        return not self.entries[Outcome.FAILED]


@dataclass
class Progress:
    """Callbacks for a progress display; every one optional."""

    file_started: Callable[[FolderFile, str], None] = lambda file, phase: None
    bytes_done: Callable[[int], None] = lambda n: None
    file_done: Callable[[FolderFile, Outcome], None] = lambda file, outcome: None


def source_of(program_id: int) -> str:
    return f"{SOURCE_PREFIX}{program_id}"


def walk_folder(root: Path) -> Walk:
    """BLOCKING: the tree's candidate files in path order. Hidden entries (a leading dot) are ignored; a symlink is
    followed only when it resolves to a regular file inside `root` (never to escape it), symlinked folders are not
    entered (they could loop or lead out), and anything that is not a regular file (FIFO, device) is never opened."""
    base = root.resolve(strict=True)
    walk = Walk()

    def unreadable(error: OSError) -> None:
        where = Path(error.filename).relative_to(base).as_posix() if error.filename else "."
        walk.failed.append((where, f"cannot read the folder: {error.strerror or error}"))

    for directory, dirnames, filenames in os.walk(base, onerror=unreadable, followlinks=False):
        here = Path(directory)
        for name in sorted(dirnames):
            if name.startswith(".") or (here / name).is_symlink():
                if not name.startswith("."):
                    walk.skipped.append(((here / name).relative_to(base).as_posix(), "symlinked folder, not followed"))
                dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            entry = here / name
            relative = entry.relative_to(base).as_posix()
            found, why = _regular_file(base, entry)
            if found is None:
                walk.skipped.append((relative, why))
                continue
            path, st = found
            walk.files.append(FolderFile(path, relative, st.st_size, st.st_mtime_ns))
    return walk


def _regular_file(base: Path, entry: Path) -> tuple[tuple[Path, os.stat_result] | None, str]:
    try:
        path = entry.resolve(strict=True) if entry.is_symlink() else entry
        if not path.is_relative_to(base):
            return None, "symlink to outside the folder"
        st = path.stat()
    except (OSError, RuntimeError) as exc:  # a dangling or looping symlink, a file gone meanwhile
        return None, f"cannot read: {exc}"
    if not stat.S_ISREG(st.st_mode):
        return None, "not a regular file"
    return (path, st), ""


class Manifest:
    """Hashes already computed, per relative path, valid while the file's size and mtime are unchanged.

    An append-only JSON-lines file (one line per hashed file, flushed as written): a run killed at any point loses at
    most the line it was writing, which is skipped when read back. Read-only for dry runs."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self._known: dict[str, tuple[int, int, str]] = {}
        self._out: IO[str] | None = None
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    self._known[row["path"]] = (int(row["size"]), int(row["mtime_ns"]), str(row["sha256"]))
                except (ValueError, KeyError, TypeError):
                    continue  # the last line of a killed run
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._out = path.open("a", encoding="utf-8")

    @classmethod
    def for_import(cls, data_dir: Path, program_id: int, root: Path, *, writable: bool) -> Manifest:
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        return cls(data_dir / "imports" / f"folder-{program_id}-{digest}.jsonl", writable=writable)

    def get(self, file: FolderFile) -> str | None:
        known = self._known.get(file.relative)
        return known[2] if known is not None and known[:2] == (file.size, file.mtime_ns) else None

    def put(self, file: FolderFile, sha256: str) -> None:
        self._known[file.relative] = (file.size, file.mtime_ns, sha256)
        if self._out is not None:
            row = {"path": file.relative, "size": file.size, "mtime_ns": file.mtime_ns, "sha256": sha256}
            self._out.write(json.dumps(row) + "\n")
            self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def publishes_when_ready(episode: Episode) -> bool:
    """An episode a folder import with `--publish` brought in (the worker publishes it once its media is ready)."""
    flag = (episode.metadata or {}).get(PUBLISH_FLAG)
    return (
        (episode.source or "").startswith(SOURCE_PREFIX)
        and isinstance(flag, dict)
        and bool(flag.get("publishWhenReady"))
    )


async def find_program(slug: str) -> Program | None:
    return await Program.get_or_none(slug=slug)


@dataclass
class _Known:
    """What the database already holds for this import's provenance, loaded once at the start."""

    episodes: dict[str, Episode]  # by external_id
    assets: dict[int, list[Asset]]  # by episode id
    hashes: dict[str, int]  # sha256 -> episode id, including assets the worker has not persisted yet


async def _load_known(source: str) -> _Known:
    found = await Episode.filter(source=source)
    assets: dict[int, list[Asset]] = {}
    for asset in await Asset.filter(episode__source=source).order_by("id"):
        if asset.episode_id is not None:
            assets.setdefault(asset.episode_id, []).append(asset)
    usable = {a.id: episode_id for episode_id, group in assets.items() for a in group if a.status != AssetStatus.FAILED}
    hashes = {a.sha256: usable[a.id] for group in assets.values() for a in group if a.sha256 and a.id in usable}
    # An asset is hashed on its completed upload before the worker persists it (and sets Asset.sha256).
    uploads = await Upload.filter(asset__episode__source=source).values_list("asset_id", "received_sha256")
    for asset_id, sha256 in uploads:
        if isinstance(sha256, str) and asset_id in usable:
            hashes.setdefault(sha256, usable[asset_id])
    return _Known({str(e.external_id): e for e in found}, assets, hashes)


async def _stored_elsewhere(sha256: str) -> str | None:
    """A description of the episode (any program) whose persisted asset has these bytes, or None."""
    asset = (
        await Asset.filter(sha256=sha256, episode_id__isnull=False)
        .exclude(status=AssetStatus.FAILED)
        .select_related("episode__program")
        .order_by("id")
        .first()
    )
    if asset is None or asset.episode is None:
        return None
    episode = asset.episode
    return f"same bytes as episode {episode.id} {episode.title!r} (program {episode.program.slug!r})"


async def _sha256(path: Path, on_bytes: Callable[[int], None]) -> str:
    """Hash in big blocks in a thread (hashlib releases the GIL), reporting bytes as they are read."""
    digest = hashlib.sha256()
    with await asyncio.to_thread(path.open, "rb") as reader:

        def step() -> int:
            data = reader.read(_HASH_CHUNK)
            digest.update(data)
            return len(data)

        while read := await asyncio.to_thread(step):
            on_bytes(read)
    return digest.hexdigest()


async def import_folder(
    *,
    settings: Settings,
    storage: Storage,
    program: Program,
    root: Path,
    walk: Walk,
    report: Report,
    publish: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Import `walk` (from `walk_folder(root)`) into `program`, filling `report` file by file (see the module doc).

    Raises only what is not one file's problem (the database going away, cancellation); a file that cannot be read
    or is refused is reported as failed and the import goes on. `dry_run` reads files and the database, writes
    nothing (no episode, no asset, no manifest)."""
    progress = progress or Progress()
    for relative, why in walk.failed:
        report.add(Outcome.FAILED, relative, why)
    for relative, why in walk.skipped:
        report.add(Outcome.SKIPPED, relative, why)
    source = source_of(program.id)
    run = _Run(
        settings=settings,
        storage=storage,
        program_id=program.id,
        source=source,
        known=await _load_known(source),
        manifest=Manifest.for_import(settings.data_dir, program.id, root, writable=not dry_run),
        actor=None if dry_run else await import_actor(),
        publish=publish,
    )
    try:
        for file in walk.files:
            counted = 0

            def on_bytes(n: int) -> None:
                nonlocal counted
                counted += n
                progress.bytes_done(n)

            progress.file_started(file, "checking")
            try:
                outcome, detail = await run.one(file, on_bytes, functools.partial(progress.file_started, file))
            except (DomainError, OSError) as exc:
                outcome, detail = Outcome.FAILED, getattr(exc, "message", None) or str(exc)
            if counted < file.size:  # done without (fully) reading it: the bar still moves by its size
                progress.bytes_done(file.size - counted)
            report.add(outcome, file.relative, detail)
            progress.file_done(file, outcome)
    finally:
        run.manifest.close()
    return report


@dataclass
class _Run:
    """One import's state; `actor` is None for a dry run (nothing is written)."""

    settings: Settings
    storage: Storage
    program_id: int
    source: str
    known: _Known
    manifest: Manifest
    actor: Actor | None
    publish: bool
    seen: dict[str, str] = field(default_factory=dict)  # sha256 -> the first relative path with those bytes

    async def one(
        self, file: FolderFile, on_bytes: Callable[[int], None], phase: Callable[[str], None]
    ) -> tuple[Outcome, str]:
        episode = self.known.episodes.get(file.relative)
        assets = self.known.assets.get(episode.id, []) if episode is not None else []
        if episode is not None and assets:  # a re-run's fast path: the database alone says it is done
            return await self._already(episode, assets)
        refused = await self._refusal(file)
        if refused is not None:
            return refused
        phase("hashing")
        sha256 = self.manifest.get(file)
        if sha256 is None:
            sha256 = await _sha256(file.path, on_bytes)
            self.manifest.put(file, sha256)
        duplicate = await self._duplicate_of(sha256)
        if duplicate is not None:
            return Outcome.DUPLICATE, duplicate
        self.seen[sha256] = file.relative
        if self.actor is None:
            return Outcome.IMPORTED, "would be imported"
        phase("storing")
        if episode is None:  # else an interrupted run created it and stopped before its asset
            episode = await episodes.episode_from_source(
                actor=self.actor,
                program_id=self.program_id,
                source=self.source,
                external_id=file.relative,
                item={"title": PurePosixPath(file.relative).stem.strip() or file.relative},
            )
        if self.publish:  # before the asset exists, so its READY event cannot pass unnoticed
            await _mark_for_publishing(self.actor, episode, [])
        asset = await create_asset_from_file(
            actor=self.actor,
            storage=self.storage,
            path=file.path,
            episode_id=episode.id,
            filename=PurePosixPath(file.relative).name,
            max_size=self.settings.upload_max_bytes,
        )
        return Outcome.IMPORTED, f"episode {episode.id}, asset {asset.id}"

    async def _already(self, episode: Episode, assets: list[Asset]) -> tuple[Outcome, str]:
        if all(a.status == AssetStatus.FAILED for a in assets):
            reason = assets[-1].failure_reason or "processing failed"
            return Outcome.FAILED, f"episode {episode.id}: {reason} (delete the episode to import the file again)"
        if self.publish and self.actor is not None:
            await _mark_for_publishing(self.actor, episode, assets)
        return Outcome.ALREADY, f"episode {episode.id}"

    async def _refusal(self, file: FolderFile) -> tuple[Outcome, str] | None:
        """Why this file cannot go in, judged without reading more than its first bytes; None when it can."""
        if len(file.relative) > _EXTERNAL_ID_MAX:
            return Outcome.FAILED, f"the path is longer than {_EXTERNAL_ID_MAX} characters"
        found = await sniff_file(file.path)
        if found is None:
            return Outcome.NOT_MEDIA, "not a video, audio, image or PDF file"
        if found.kind.value not in self.settings.upload_allowed_kinds:
            return Outcome.NOT_MEDIA, f"{found.kind.value.lower()} files are not accepted (CMS_UPLOAD_KINDS)"
        if file.size > self.settings.upload_max_bytes:
            return Outcome.FAILED, f"larger than CMS_UPLOAD_MAX_BYTES ({self.settings.upload_max_bytes} bytes)"
        return None

    async def _duplicate_of(self, sha256: str) -> str | None:
        if sha256 in self.seen:
            return f"same bytes as {self.seen[sha256]} in this folder"
        if sha256 in self.known.hashes:  # this import's, possibly not persisted yet
            return f"same bytes as episode {self.known.hashes[sha256]} of an earlier run"
        return await _stored_elsewhere(sha256)


async def _mark_for_publishing(actor: Actor, episode: Episode, assets: list[Asset]) -> None:
    """Set the publishWhenReady flag on a draft (an audited update), and publish it at once when all of its media is
    READY already (their ASSET_READY events went by before the flag was there)."""
    if episode.status != PublishStatus.DRAFT:
        return
    if not publishes_when_ready(episode):
        metadata: dict[str, Any] = {**(episode.metadata or {}), PUBLISH_FLAG: {"publishWhenReady": True}}
        episode = await episodes.update_episode(actor=actor, id=episode.id, changes={"metadata": metadata})
    ready = assets and all(a.status == AssetStatus.READY for a in assets)
    if ready and await Episode.filter(id=episode.id, status=PublishStatus.DRAFT).exists():
        await episodes.publish_episode(actor=actor, id=episode.id, at=None)
