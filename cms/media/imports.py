"""Files that arrive by other ways than an upload (ingest, imports): staged, then the same claim check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from cms.audit import service as audit
from cms.audit.service import record_change
from cms.auth.permissions import Role
from cms.content.models import Episode
from cms.core import outbox
from cms.core.errors import Invalid, TooLarge
from cms.core.outbox import Event
from cms.media.models import Asset, AssetKind, AssetStatus, Upload, UploadMethod, UploadStatus
from cms.media.sniff import Sniffed, sniff_file
from cms.media.storage import Area, ObjectTooLarge, Storage, file_chunks
from cms.media.uploads import clean_filename
from cms.users.actors import Actor, require_actor

if TYPE_CHECKING:  # boto3 is imported only where S3 is configured
    from cms.media.storage.s3 import S3Storage, SourceObject


async def create_asset_from_file(
    *,
    actor: Actor | None,
    storage: Storage,
    path: Path,
    episode_id: int,
    filename: str | None = None,
    max_size: int | None = None,
) -> Asset:
    """Make an episode's asset from a local file, as a completed upload would: the bytes go to staging, and the
    asset (PROCESSING), a completed upload record and the `asset.uploaded` event are written in one transaction,
    so the worker persists and processes it like any upload (and refuses it the same way, with a reason on the
    asset). The file itself is left where it is. `max_size`: refuse larger files (CMS_UPLOAD_MAX_BYTES)."""
    actor = require_actor(actor, Role.EDITOR)
    problems: dict[str, str] = {}
    name = clean_filename(problems, filename or path.name)
    if not path.is_file():
        problems["path"] = "is not a file"
    if not await Episode.exists(id=episode_id):
        problems["episodeId"] = "no such episode"
    if problems:
        raise Invalid(problems)
    found = await sniff_file(path)  # a first guess; the persist job decides
    upload_id = uuid.uuid4()
    staging_key = f"uploads/{upload_id}"
    try:
        written = await storage.write(Area.STAGING, staging_key, file_chunks(path), max_size=max_size)
    except ObjectTooLarge as exc:
        raise TooLarge(f"the file is larger than {max_size} bytes") from exc
    return await _record_staged(
        actor=actor,
        storage=storage,
        upload_id=upload_id,
        staging_key=staging_key,
        filename=name,
        found=found,
        size=written.size,
        sha256=written.sha256,
        episode_id=episode_id,
    )


async def create_asset_from_staged_copy(
    *,
    actor: Actor | None,
    storage: S3Storage,
    source: SourceObject,
    episode_id: int,
    filename: str,
    found: Sniffed | None,
) -> Asset:
    """Make an episode's asset from an object of another bucket (`cms import s3://...`) without its bytes passing
    through this process: a server-side copy of that version (its ETag) into staging, then the same records as
    `create_asset_from_file` in one transaction. Nobody hashed the bytes, so the upload's `received_sha256` stays
    None: the persist job hashes the staged copy, as it does for any upload on S3, and promotes it to the master
    of that hash (bytes stored already give the same master). `found`: what the object's first bytes looked like
    (the persist job decides). The source object is left as it is."""
    actor = require_actor(actor, Role.EDITOR)
    problems: dict[str, str] = {}
    name = clean_filename(problems, filename)
    if not await Episode.exists(id=episode_id):
        problems["episodeId"] = "no such episode"
    if problems:
        raise Invalid(problems)
    upload_id = uuid.uuid4()
    staging_key = f"uploads/{upload_id}"
    try:
        copied = await storage.copy_in(source, Area.STAGING, staging_key)
    except BaseException:  # a failed (or cancelled) part copy may still have left an object; staging expires too
        await storage.delete(Area.STAGING, staging_key)
        raise
    return await _record_staged(
        actor=actor,
        storage=storage,
        upload_id=upload_id,
        staging_key=staging_key,
        filename=name,
        found=found,
        size=copied.size,
        sha256=None,
        episode_id=episode_id,
    )


async def _record_staged(
    *,
    actor: Actor,
    storage: Storage,
    upload_id: uuid.UUID,
    staging_key: str,
    filename: str,
    found: Sniffed | None,
    size: int,
    sha256: str | None,
    episode_id: int,
) -> Asset:
    """The bytes are in staging under `staging_key`: write the asset (PROCESSING), a completed upload and the
    `asset.uploaded` event in one transaction, as `completeUpload` does, so the worker takes it from there. When
    that fails nothing is recorded, and the staged object is removed rather than left for the staging cleanup."""
    now = datetime.now(UTC)
    try:
        async with in_transaction():
            asset = await Asset.create(
                kind=found.kind if found else AssetKind.DOCUMENT,
                filename=filename,
                content_type=found.mime if found else "application/octet-stream",
                size=size,
                episode_id=episode_id,
                created_by=actor.user,
                probe={},
                status=AssetStatus.PROCESSING,
            )
            await Upload.create(
                id=upload_id,
                asset=asset,
                created_by=actor.user,
                method=UploadMethod.DIRECT,
                status=UploadStatus.COMPLETED,
                staging_key=staging_key,
                declared_size=size,
                received_sha256=sha256,
                expires_at=now,
                completed_at=now,
            )
            await outbox.record(Event.ASSET_UPLOADED, asset_id=asset.id, upload_id=str(upload_id))
            await record_change(
                actor=actor, event=Event.ASSET_IMPORT, entity=asset, before=None, after=audit.snapshot(asset)
            )
    except Exception:
        await storage.delete(Area.STAGING, staging_key)
        raise
    return asset
