"""The claim check: a completed upload is verified, probed and moved from staging into content-addressed masters.

Safe to run twice: a finished asset is left alone, and a run that died after the move finds the master and
finishes the bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from cms.content.models import Program
from cms.core import outbox
from cms.core.outbox import Event
from cms.media.models import Asset, AssetKind, AssetStatus, Upload
from cms.media.probe import DocumentLimits, ProbeFailed, probe_document, probe_file, settle_kind
from cms.media.sniff import Sniffed, sniff_file
from cms.media.storage import Area, Storage, master_key

log = logging.getLogger("cms.media.intake")
PROBE_TIMEOUT_SECONDS = 120


class IntakeRefused(Exception):
    """The file itself is unacceptable; retrying cannot help. The message is shown on the asset."""


@contextlib.asynccontextmanager
async def local_file(
    storage: Storage, area: Area, key: str, *, known_sha256: str | None = None
) -> AsyncIterator[tuple[Path, str]]:
    """A local path to the object and its sha256: the file itself on local storage, a temporary copy otherwise.
    `known_sha256` (hashed by us while receiving) spares a second read of a local file."""
    path = storage.local_path(area, key)
    if path is not None:
        # A conditional, not `or`: with `or`, mypy types to_thread's result from the left operand (str | None).
        yield path, known_sha256 if known_sha256 else await asyncio.to_thread(_sha256_of, path)
        return
    with tempfile.NamedTemporaryFile(prefix="cms-intake-", suffix=".bin") as tmp:
        digest = hashlib.sha256()
        async for chunk in storage.read(area, key):
            digest.update(chunk)
            await asyncio.to_thread(tmp.write, chunk)
        await asyncio.to_thread(tmp.flush)
        yield Path(tmp.name), digest.hexdigest()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


async def _inspect(
    path: Path, allowed_kinds: list[str], document_limits: DocumentLimits
) -> tuple[AssetKind, str, dict[str, Any]]:
    found = await sniff_file(path)
    if found is None:
        raise IntakeRefused("the file's content is not an accepted video, audio, image or PDF")
    kind = await asyncio.to_thread(settle_kind, path, found.kind)
    if kind != found.kind:  # sound in a video container
        found = Sniffed(kind, found.mime.replace("video/", "audio/", 1))
    if found.kind.value not in allowed_kinds:
        raise IntakeRefused(f"{found.kind.value.lower()} files are not accepted here")
    if found.kind == AssetKind.DOCUMENT:  # in a child process: PDFium never parses an upload inside the worker
        probing = probe_document(path, document_limits)
    else:
        probing = asyncio.to_thread(probe_file, path, found.kind)
    try:
        probe = await asyncio.wait_for(probing, PROBE_TIMEOUT_SECONDS)
    except ProbeFailed as exc:
        raise IntakeRefused(str(exc)) from exc
    except TimeoutError as exc:
        raise IntakeRefused("the file took too long to read; it may be damaged") from exc
    return found.kind, found.mime, probe


async def persist_asset(
    *, storage: Storage, asset_id: int, upload_id: str, allowed_kinds: list[str], document_limits: DocumentLimits
) -> None:
    asset = await Asset.get_or_none(id=asset_id)
    upload = await Upload.get_or_none(id=upload_id)
    if asset is None or upload is None or asset.status == AssetStatus.READY or asset.stage not in (None, "persist"):
        return  # deleted meanwhile, or past this step; a FAILED asset is tried again (an admin's retryJob)
    await Asset.filter(id=asset.id).update(stage="persist", progress=0)
    if await storage.stat(Area.STAGING, upload.staging_key) is None:
        if asset.sha256 and await storage.stat(Area.MASTERS, master_key(asset.sha256)):
            await _mark_persisted(asset, upload)  # the move happened; only the bookkeeping was lost
            return
        raise IntakeRefused("the uploaded file is no longer in staging (expired before it was processed)")
    try:
        staged = local_file(storage, Area.STAGING, upload.staging_key, known_sha256=upload.received_sha256)
        async with staged as (path, sha256):
            kind, mime, probe = await _inspect(path, allowed_kinds, document_limits)
            size = path.stat().st_size
    except IntakeRefused:
        await storage.delete(Area.STAGING, upload.staging_key)
        raise
    if upload.declared_sha256 and upload.declared_sha256 != sha256:
        await storage.delete(Area.STAGING, upload.staging_key)
        raise IntakeRefused("the uploaded bytes do not match the declared sha256")
    # Record the hash first: if we die after the move, the next run finds the master by it.
    asset.sha256, asset.size, asset.kind, asset.content_type, asset.probe = sha256, size, kind, mime, probe
    await asset.save(update_fields=["sha256", "size", "kind", "content_type", "probe", "updated_at"])
    await storage.promote(Area.STAGING, upload.staging_key, Area.MASTERS, master_key(sha256), expected_sha256=sha256)
    await _mark_persisted(asset, upload)


async def _mark_persisted(asset: Asset, upload: Upload) -> None:
    """The master is stored; every kind now waits for its renditions (event "asset.persisted"): documents too, for
    their preview, thumbnails and text."""
    async with in_transaction():
        # Only from the "persist" stage: a repeated run after success must not queue the renditions twice.
        updated = await Asset.filter(
            id=asset.id, status__in=[AssetStatus.PROCESSING, AssetStatus.FAILED], stage="persist"
        ).update(status=AssetStatus.PROCESSING, failure_reason=None, stage="queued", progress=0)
        if updated and upload.cover_for_program_id:
            await Program.filter(id=upload.cover_for_program_id).update(cover_asset_id=asset.id)
        if updated:
            await outbox.record(Event.ASSET_PERSISTED, asset_id=asset.id)


async def mark_failed(*, asset_id: int, reason: str) -> None:
    """A person-readable reason on the asset; the job row keeps the technical detail."""
    async with in_transaction():
        updated = await Asset.filter(id=asset_id, status__in=[AssetStatus.UPLOADING, AssetStatus.PROCESSING]).update(
            status=AssetStatus.FAILED, failure_reason=reason[:1000], stage=None
        )
        if updated:
            await outbox.record(Event.ASSET_FAILED, asset_id=asset_id)
