"""S3 import in place (`cms import s3://bucket/prefix --program SLUG`): one draft episode per media object.

The folder import (cms/ingest/folder.py) for objects already in a bucket, without their bytes passing through this
process. Needs the CMS to store its media on S3; the source bucket is read with the same endpoint and credentials.

`s3://bucket/prefix` names a folder: every object under `prefix/` (the whole bucket without a prefix), in key order,
listed page by page. Keys ending in "/" (the "folders" consoles create) are ignored, and so are hidden names (a
segment after the prefix that starts with a dot), as the folder walk does; empty objects are reported as skipped.

Each object becomes a DRAFT episode found or created by provenance: the folder import's source `folder:<program
id>` with the external id `s3://bucket/key` (a folder import's relative paths never start with "s3://", so the two
cannot collide, and sharing the source makes `--publish`, the resumable episode lookup and the hash dedup of both
kinds of import one and the same). Its type is sniffed from its first 8 KiB (a ranged GET); then the object is
copied server-side into staging (`create_asset_from_staged_copy`) and the worker persists and processes it like any
upload: it hashes the staged copy, and promotes it to the content-addressed master of that hash.

Deduplication differs from the folder import, which hashes every file before deciding; here nobody reads the bytes:
- by sha256 when S3 keeps a full-object SHA256 checksum for the object (uploaded with one; one HEAD): then as the
  folder import does (the same bytes in this run, in an earlier run's episode, or persisted for any episode);
- else by (bucket, size, ETag): the same ETag and size in one bucket are the same bytes (an ETag is the MD5 of the
  bytes, or of the part MD5s for multipart uploads; under SSE-KMS it is opaque but then simply never matches).
  Within a run directly, across runs through a manifest under the data dir (`imports/s3-<program id>.jsonl`:
  object, size, ETag, episode) that only this import writes; a duplicate stored by an upload or a folder import
  cannot be seen this way, so such an object gets an episode and an asset of its own, and the persist step finds the
  bytes stored already and gives that asset the same master (no second copy in masters).
Resumable as the folder import: an object whose episode already has an asset is skipped from the database alone;
one changed since (another size or ETag than the manifest recorded) is reported, not imported again.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from cms.content import episodes
from cms.content.models import Episode, Program
from cms.core.errors import DomainError
from cms.core.settings import Settings
from cms.ingest import folder
from cms.ingest.actors import import_actor
from cms.ingest.folder import Outcome, Report
from cms.media.imports import create_asset_from_staged_copy
from cms.media.models import Asset, AssetStatus
from cms.media.sniff import SNIFF_BYTES, Sniffed, sniff
from cms.media.storage.s3 import S3Storage, SourceObject
from cms.users.actors import Actor

log = logging.getLogger("cms.ingest.s3")

SCHEME = "s3://"
_EXTERNAL_ID_MAX = 300  # Episode.external_id's column


class BadS3Url(ValueError):
    """`s3://bucket/prefix` that names no bucket, or a prefix that cannot be a folder."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket[/prefix]`; the prefix names a folder, so it ends in "/" (or is empty)."""
    if not url.startswith(SCHEME):
        raise BadS3Url(f"{url}: not an s3:// URL")
    parts = urlsplit(url)
    bucket = parts.netloc
    if not bucket or parts.query or parts.fragment or "@" in bucket or ":" in bucket:
        raise BadS3Url(f"{url}: expected s3://bucket/prefix")
    prefix = url[len(SCHEME) + len(bucket) :].lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def object_url(source: SourceObject) -> str:
    """The object's provenance: its episode's external_id."""
    return f"{SCHEME}{source.bucket}/{source.key}"


@dataclass
class Listing:
    """The candidate objects under a prefix, in key order, and what was left out with why."""

    bucket: str
    prefix: str
    objects: list[SourceObject] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative key, why)

    @property
    def total_bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def relative(self, source: SourceObject) -> str:
        """The key below the prefix: what reports show (as the folder import shows paths below the folder)."""
        return source.key[len(self.prefix) :]


async def list_objects(storage: S3Storage, bucket: str, prefix: str) -> Listing:
    """List the candidates (see the module doc). Raises botocore's ClientError when the bucket cannot be listed."""
    listing = Listing(bucket, prefix)
    async for source in storage.list_source(bucket, prefix):
        relative = listing.relative(source)
        if not relative or source.key.endswith("/"):
            continue  # a "folder" marker
        if any(segment.startswith(".") for segment in relative.split("/")):
            continue  # hidden, like the folder walk
        if source.size == 0:
            listing.skipped.append((relative, "empty object"))
            continue
        listing.objects.append(source)
    return listing


@dataclass
class Progress:
    """Callbacks for a progress display; every one optional."""

    object_started: Callable[[SourceObject, str], None] = lambda source, phase: None
    object_done: Callable[[SourceObject, Outcome], None] = lambda source, outcome: None


class EtagManifest:
    """What this import copied in, per object URL: (size, ETag, episode id). Append-only JSON lines, flushed as
    written (a killed run loses at most the line it was writing, skipped when read back); read-only for dry runs."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self._known: dict[str, tuple[int, str, int]] = {}
        self._by_content: dict[tuple[str, int, str], tuple[str, int]] = {}  # (bucket, size, etag) -> (url, episode)
        self._out: IO[str] | None = None
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    bucket, url, etag = str(row["bucket"]), str(row["object"]), str(row["etag"])
                    self._remember(bucket, url, int(row["size"]), etag, int(row["episode"]))
                except (ValueError, KeyError, TypeError):
                    continue  # the last line of a killed run
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._out = path.open("a", encoding="utf-8")

    @classmethod
    def for_program(cls, data_dir: Path, program_id: int, *, writable: bool) -> EtagManifest:
        return cls(data_dir / "imports" / f"s3-{program_id}.jsonl", writable=writable)

    def _remember(self, bucket: str, url: str, size: int, etag: str, episode_id: int) -> None:
        self._known[url] = (size, etag, episode_id)
        self._by_content.setdefault((bucket, size, etag), (url, episode_id))

    def recorded(self, url: str) -> tuple[int, str] | None:
        """(size, ETag) the object had when it was copied in, if this import recorded it."""
        known = self._known.get(url)
        return known[:2] if known is not None else None

    def same_content(self, source: SourceObject) -> tuple[str, int] | None:
        """(object URL, episode id) of an object copied in earlier with the same bucket, size and ETag."""
        return self._by_content.get((source.bucket, source.size, source.etag))

    def put(self, source: SourceObject, episode_id: int) -> None:
        url = object_url(source)
        self._remember(source.bucket, url, source.size, source.etag, episode_id)
        if self._out is not None:
            row = {"bucket": source.bucket, "object": url, "size": source.size, "etag": source.etag}
            self._out.write(json.dumps({**row, "episode": episode_id}) + "\n")
            self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def import_objects(
    *,
    settings: Settings,
    storage: S3Storage,
    program: Program,
    listing: Listing,
    report: Report,
    publish: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Import `listing` (from `list_objects`) into `program`, filling `report` object by object (module doc).

    Raises only what is not one object's problem (the database going away, cancellation); an object that cannot be
    read, copied or recorded is reported as failed and the import goes on. `dry_run` lists and reads first bytes,
    writes nothing (no episode, no copy, no manifest)."""
    progress = progress or Progress()
    for relative, why in listing.skipped:
        report.add(Outcome.SKIPPED, relative, why)
    source = folder.source_of(program.id)
    run = _Run(
        settings=settings,
        storage=storage,
        program_id=program.id,
        source=source,
        known=await folder._load_known(source),
        manifest=EtagManifest.for_program(settings.data_dir, program.id, writable=not dry_run),
        actor=None if dry_run else await import_actor(),
        publish=publish,
    )
    try:
        for item in listing.objects:
            progress.object_started(item, "checking")
            try:
                outcome, detail = await run.one(item, functools.partial(progress.object_started, item))
            except ClientError as exc:  # gone or changed since listed, access denied...
                outcome, detail = Outcome.FAILED, f"S3: {exc}"
            except (DomainError, OSError) as exc:
                outcome, detail = Outcome.FAILED, getattr(exc, "message", None) or str(exc)
            report.add(outcome, listing.relative(item), detail)
            progress.object_done(item, outcome)
    finally:
        run.manifest.close()
    return report


@dataclass
class _Run:
    """One import's state; `actor` is None for a dry run (nothing is written)."""

    settings: Settings
    storage: S3Storage
    program_id: int
    source: str
    known: folder._Known
    manifest: EtagManifest
    actor: Actor | None
    publish: bool
    seen_sha256: dict[str, str] = field(default_factory=dict)  # sha256 -> the first object URL with those bytes
    seen_etag: dict[tuple[str, int, str], str] = field(default_factory=dict)  # (bucket, size, etag) -> object URL

    async def one(self, item: SourceObject, phase: Callable[[str], None]) -> tuple[Outcome, str]:
        url = object_url(item)
        if len(url) > _EXTERNAL_ID_MAX:
            return Outcome.FAILED, f"the object URL is longer than {_EXTERNAL_ID_MAX} characters"
        episode = self.known.episodes.get(url)
        assets = self.known.assets.get(episode.id, []) if episode is not None else []
        if episode is not None and assets:  # a re-run's fast path: the database alone says it is done
            return await self._already(item, episode, assets)
        refused, found = await self._refusal(item)
        if refused is not None:
            return refused
        phase("checking for duplicates")
        sha256 = await self.storage.source_sha256(item)
        duplicate = await self._duplicate_of(item, sha256)
        if duplicate is not None:
            return Outcome.DUPLICATE, duplicate
        if sha256 is not None:
            self.seen_sha256[sha256] = url
        self.seen_etag[(item.bucket, item.size, item.etag)] = url
        if self.actor is None:
            return Outcome.IMPORTED, "would be imported"
        phase("copying")
        name = PurePosixPath(item.key).name
        if episode is None:  # else an interrupted run created it and stopped before its asset
            episode = await episodes.episode_from_source(
                actor=self.actor,
                program_id=self.program_id,
                source=self.source,
                external_id=url,
                item={"title": PurePosixPath(name).stem.strip() or name},
            )
        if self.publish:  # before the asset exists, so its READY event cannot pass unnoticed
            await folder._mark_for_publishing(self.actor, episode, [])
        asset = await create_asset_from_staged_copy(
            actor=self.actor,
            storage=self.storage,
            source=item,
            episode_id=episode.id,
            filename=name,
            found=found,
        )
        self.manifest.put(item, episode.id)
        return Outcome.IMPORTED, f"episode {episode.id}, asset {asset.id}"

    async def _already(self, item: SourceObject, episode: Episode, assets: list[Asset]) -> tuple[Outcome, str]:
        if all(a.status == AssetStatus.FAILED for a in assets):
            reason = assets[-1].failure_reason or "processing failed"
            return Outcome.FAILED, f"episode {episode.id}: {reason} (delete the episode to import the object again)"
        if self.publish and self.actor is not None:
            await folder._mark_for_publishing(self.actor, episode, assets)
        recorded = self.manifest.recorded(object_url(item))
        if recorded is not None and recorded != (item.size, item.etag):
            return Outcome.ALREADY, f"episode {episode.id}; the object changed since (delete the episode to import it)"
        return Outcome.ALREADY, f"episode {episode.id}"

    async def _refusal(self, item: SourceObject) -> tuple[tuple[Outcome, str] | None, Sniffed | None]:
        """(why this object cannot go in or None when it can, what its first bytes look like)."""
        if item.size > self.settings.upload_max_bytes:
            limit = self.settings.upload_max_bytes
            return (Outcome.FAILED, f"larger than CMS_UPLOAD_MAX_BYTES ({limit} bytes)"), None
        # Only the first bytes come through this process: enough to tell media from anything else up front, as the
        # folder import does, instead of copying a text file for the worker to refuse.
        found = sniff(await self.storage.source_head(item, SNIFF_BYTES))
        if found is None:
            return (Outcome.NOT_MEDIA, "not a video, audio, image or PDF file"), None
        if found.kind.value not in self.settings.upload_allowed_kinds:
            why = f"{found.kind.value.lower()} files are not accepted (CMS_UPLOAD_KINDS)"
            return (Outcome.NOT_MEDIA, why), found
        return None, found

    async def _duplicate_of(self, item: SourceObject, sha256: str | None) -> str | None:
        if sha256 is not None:
            if sha256 in self.seen_sha256:
                return f"same bytes as {self.seen_sha256[sha256]} in this run"
            if sha256 in self.known.hashes:  # this program's imports, possibly not persisted yet
                return f"same bytes as episode {self.known.hashes[sha256]} of an earlier import"
            elsewhere = await folder._stored_elsewhere(sha256)
            if elsewhere is not None:
                return elsewhere
        content = (item.bucket, item.size, item.etag)
        if content in self.seen_etag:
            return f"same size and ETag as {self.seen_etag[content]} in this run"
        earlier = self.manifest.same_content(item)
        if earlier is not None:
            url, episode_id = earlier
            usable = [a for a in self.known.assets.get(episode_id, []) if a.status != AssetStatus.FAILED]
            if usable:  # the episode and a working asset are still there
                return f"same size and ETag as {url} (episode {episode_id}) of an earlier run"
        return None
