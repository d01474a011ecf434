"""Uploads: createUpload hands out where to send the bytes; completeUpload checks they arrived and starts the
claim check (persist job) through the outbox, in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from cms.audit import service as audit
from cms.audit.service import record_change
from cms.auth.permissions import Role, require
from cms.auth.principal import Principal
from cms.content.models import Episode, Program
from cms.core import metrics, outbox
from cms.core.errors import Conflict, Invalid, NotFound, TooLarge, UnsupportedMedia
from cms.core.outbox import Event
from cms.core.settings import Settings
from cms.media.models import Asset, AssetKind, AssetStatus, Upload, UploadMethod, UploadStatus
from cms.media.sniff import SNIFF_BYTES, kind_from_declared_type, sniff
from cms.media.storage import Area, ObjectTooLarge, Storage
from cms.users.actors import Actor, require_actor

FILENAME_MAX = 255


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    size: int
    content_type: str | None = None
    episode_id: int | None = None
    cover_for_program_id: int | None = None
    sha256: str | None = None
    method: UploadMethod | None = None


@dataclass
class UploadTicket:
    """Everything a client needs to send the bytes."""

    upload: Upload
    asset: Asset
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    part_size: int | None = None
    part_urls: list[tuple[int, str]] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def clean_filename(problems: dict[str, str], name: str) -> str:
    """Filenames are labels, never paths: refuse separators, NUL, control characters and dot names."""
    name = name.strip()
    if not name:
        problems["filename"] = "must not be empty"
    elif len(name) > FILENAME_MAX:
        problems["filename"] = f"must be at most {FILENAME_MAX} characters"
    elif any(c in name for c in "/\\") or name in (".", "..") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems["filename"] = "must be a plain file name (no path separators, NUL or control characters)"
    return name


def _choose_method(request: UploadRequest, storage: Storage, settings: Settings) -> UploadMethod:
    if not getattr(storage, "supports_presigned", False):
        return UploadMethod.DIRECT
    if request.method is not None:
        return request.method
    return UploadMethod.MULTIPART if request.size > settings.multipart_threshold_bytes else UploadMethod.PRESIGNED_POST


async def _validate(request: UploadRequest, settings: Settings) -> tuple[str, AssetKind]:
    problems: dict[str, str] = {}
    filename = clean_filename(problems, request.filename)
    if request.size <= 0:
        problems["size"] = "must be at least 1 byte"
    elif request.size > settings.upload_max_bytes:
        problems["size"] = f"must be at most {settings.upload_max_bytes} bytes"
    if request.sha256 is not None and (
        len(request.sha256) != 64 or not all(c in "0123456789abcdef" for c in request.sha256)
    ):
        problems["sha256"] = "must be 64 lower-case hex digits"
    if (request.episode_id is None) == (request.cover_for_program_id is None):
        problems["episodeId"] = "give exactly one of episodeId or programId (for a cover image)"
    elif request.episode_id is not None and not await Episode.exists(id=request.episode_id):
        problems["episodeId"] = "no such episode"
    elif request.cover_for_program_id is not None and not await Program.exists(id=request.cover_for_program_id):
        problems["programId"] = "no such program"
    kind = AssetKind.IMAGE if request.cover_for_program_id else kind_from_declared_type(request.content_type)
    if kind.value not in settings.upload_allowed_kinds and not problems:
        problems["contentType"] = f"{kind.value.lower()} uploads are not accepted here"
    if problems:
        raise Invalid(problems)
    return filename, kind


async def create_upload(
    *, actor: Actor | None, storage: Storage, settings: Settings, request: UploadRequest, direct_url: str
) -> UploadTicket:
    """`direct_url` is where the API receives streamed bytes ('{id}' is replaced with the upload id)."""
    actor = require_actor(actor, Role.EDITOR)
    filename, kind = await _validate(request, settings)
    method = _choose_method(request, storage, settings)
    upload_id = uuid.uuid4()
    staging_key = f"uploads/{upload_id}"
    expires_in = settings.upload_expiry_seconds
    ticket_extra: dict[str, Any] = {}
    multipart_id = None
    if method == UploadMethod.PRESIGNED_POST:
        post = await storage.presigned_post(
            staging_key, max_size=request.size, content_type=None, expires_in=expires_in
        )
        ticket_extra = {"url": post["url"], "fields": post["fields"]}
    elif method == UploadMethod.MULTIPART:
        multipart_id = await storage.create_multipart(staging_key, content_type=None)
        ticket_extra = {"part_size": settings.multipart_part_bytes}
    else:
        ticket_extra = {"url": direct_url.replace("{id}", str(upload_id))}
    async with in_transaction():
        asset = await Asset.create(
            kind=kind,
            filename=filename,
            content_type=request.content_type or "application/octet-stream",
            size=request.size,
            episode_id=request.episode_id,
            created_by=actor.user,
            probe={},
        )
        upload = await Upload.create(
            id=upload_id,
            asset=asset,
            created_by=actor.user,
            method=method,
            staging_key=staging_key,
            declared_size=request.size,
            declared_sha256=request.sha256,
            multipart_upload_id=multipart_id,
            cover_for_program_id=request.cover_for_program_id,
            expires_at=_now() + timedelta(seconds=expires_in),
        )
        await record_change(
            actor=actor, event=Event.UPLOAD_CREATE, entity=asset, before=None, after=audit.snapshot(asset)
        )
    ticket = UploadTicket(upload=upload, asset=asset, **ticket_extra)
    if method == UploadMethod.MULTIPART:
        ticket.part_urls = await part_urls(
            storage=storage, upload=upload, part_size=settings.multipart_part_bytes, expires_in=expires_in
        )
    return ticket


async def part_urls(*, storage: Storage, upload: Upload, part_size: int, expires_in: int) -> list[tuple[int, str]]:
    assert upload.multipart_upload_id is not None  # multipart uploads always have one
    count = -(-upload.declared_size // part_size)
    return [
        (n, await storage.presign_part(upload.staging_key, upload.multipart_upload_id, n, expires_in=expires_in))
        for n in range(1, count + 1)
    ]


async def _owned(principal: Principal | None, upload_id: uuid.UUID) -> Upload:
    upload = await Upload.get_or_none(id=upload_id)
    if upload is None:
        raise NotFound("upload not found")
    require(principal, Role.EDITOR)
    return upload


async def missing_parts(
    *, principal: Principal | None, storage: Storage, settings: Settings, upload_id: uuid.UUID
) -> tuple[Upload, list[tuple[int, str]]]:
    """For resuming a multipart upload: presigned URLs for the parts the bucket does not have yet."""
    upload = await _owned(principal, upload_id)
    if upload.method != UploadMethod.MULTIPART or upload.status != UploadStatus.PENDING:
        raise Invalid({"id": "only pending multipart uploads have parts to resume"})
    assert upload.multipart_upload_id is not None  # multipart uploads always have one
    have = {number for number, _etag, _size in await storage.list_parts(upload.staging_key, upload.multipart_upload_id)}
    urls = await part_urls(
        storage=storage,
        upload=upload,
        part_size=settings.multipart_part_bytes,
        expires_in=settings.upload_expiry_seconds,
    )
    return upload, [(n, url) for n, url in urls if n not in have]


async def _sniffed_stream(chunks: AsyncIterable[bytes], allowed: list[str]) -> AsyncIterator[bytes]:
    """Pass bytes through, refusing the upload before anything is stored if its first bytes are not accepted."""
    head = b""
    iterator = chunks.__aiter__()
    async for chunk in iterator:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    found = sniff(head)
    if found is None or found.kind.value not in allowed:
        raise UnsupportedMedia("the file's content is not an accepted video, audio, image or PDF")
    yield head
    async for chunk in iterator:
        yield chunk


async def receive_direct(
    *,
    principal: Principal | None,
    storage: Storage,
    settings: Settings,
    upload_id: uuid.UUID,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
) -> Upload:
    upload = await _owned(principal, upload_id)
    if upload.method != UploadMethod.DIRECT:
        raise Invalid({"id": "this upload goes straight to the bucket, not through the API"})
    if upload.status != UploadStatus.PENDING or upload.expires_at < _now():
        raise Conflict("this upload no longer accepts data", field="id")
    if content_length is not None and content_length > upload.declared_size:
        raise TooLarge(f"declared {upload.declared_size} bytes, request has {content_length}")
    try:
        result = await storage.write(
            Area.STAGING,
            upload.staging_key,
            _sniffed_stream(chunks, settings.upload_allowed_kinds),
            max_size=upload.declared_size,
        )
    except ObjectTooLarge as exc:
        metrics.UPLOAD_ABORTS.labels(reason="rejected").inc()
        raise TooLarge(f"more than the declared {upload.declared_size} bytes were sent") from exc
    except UnsupportedMedia:
        metrics.UPLOAD_ABORTS.labels(reason="rejected").inc()
        raise
    except BaseException:  # the client went away mid-body, storage failed, the request was cancelled
        metrics.UPLOAD_ABORTS.labels(reason="failed").inc()
        raise
    if result.size != upload.declared_size:
        metrics.UPLOAD_ABORTS.labels(reason="rejected").inc()
        await storage.delete(Area.STAGING, upload.staging_key)
        raise Invalid({"body": f"received {result.size} bytes, expected {upload.declared_size}"})
    updated = await Upload.filter(id=upload.id, status=UploadStatus.PENDING).update(
        status=UploadStatus.RECEIVED, received_sha256=result.sha256
    )
    if not updated:
        raise Conflict("this upload no longer accepts data", field="id")
    metrics.UPLOAD_BYTES.labels(method="direct").inc(result.size)  # once: a repeated PUT is refused above
    await upload.refresh_from_db()
    return upload


async def _verify_bucket_object(storage: Storage, upload: Upload) -> int:
    """Check the bytes in the bucket; complete a multipart upload. The number of parts (0: one POSTed object)."""
    parts: list[tuple[int, str, int]] = []
    if upload.method == UploadMethod.MULTIPART:
        assert upload.multipart_upload_id is not None  # multipart uploads always have one
        parts = sorted(await storage.list_parts(upload.staging_key, upload.multipart_upload_id))
        if not parts:
            raise Invalid({"id": "no data has been uploaded yet"})
        if [p[0] for p in parts] != list(range(1, len(parts) + 1)) or sum(p[2] for p in parts) != upload.declared_size:
            raise Invalid({"id": "parts are missing: upload the remaining parts (see missingParts) and complete again"})
        await storage.complete_multipart(
            upload.staging_key, upload.multipart_upload_id, [(n, etag) for n, etag, _ in parts]
        )
    info = await storage.stat(Area.STAGING, upload.staging_key)
    if info is None:
        raise Invalid({"id": "no data has been uploaded yet"})
    if info.size != upload.declared_size:
        await storage.delete(Area.STAGING, upload.staging_key)
        raise Invalid({"id": f"uploaded {info.size} bytes but declared {upload.declared_size}; start a new upload"})
    return len(parts)


async def complete_upload(*, actor: Actor | None, storage: Storage, id: uuid.UUID) -> Asset:
    actor = require_actor(actor, Role.EDITOR)
    upload = await _owned(actor.principal, id)
    if upload.status == UploadStatus.COMPLETED:
        raise Conflict("this upload is already completed", field="id")
    if upload.status == UploadStatus.EXPIRED or upload.expires_at < _now():
        raise Conflict("this upload has expired; start a new one", field="id")
    if upload.method == UploadMethod.DIRECT:
        if upload.status != UploadStatus.RECEIVED:
            raise Invalid({"id": "no data has been uploaded yet"})
        if upload.declared_sha256 and upload.declared_sha256 != upload.received_sha256:
            await storage.delete(Area.STAGING, upload.staging_key)
            await Upload.filter(id=upload.id).update(status=UploadStatus.PENDING, received_sha256=None)
            raise Invalid({"id": "the received bytes do not match the declared sha256; upload again"})
    parts = None if upload.method == UploadMethod.DIRECT else await _verify_bucket_object(storage, upload)
    async with in_transaction():
        done = await Upload.filter(id=upload.id, status__in=[UploadStatus.PENDING, UploadStatus.RECEIVED]).update(
            status=UploadStatus.COMPLETED, completed_at=_now()
        )
        if not done:
            raise Conflict("this upload is already completed", field="id")
        asset = await Asset.get(id=upload.asset_id)
        before = audit.snapshot(asset)
        asset.status = AssetStatus.PROCESSING
        await asset.save(update_fields=["status", "updated_at"])
        await outbox.record(Event.ASSET_UPLOADED, asset_id=asset.id, upload_id=str(upload.id))
        await record_change(
            actor=actor, event=Event.UPLOAD_COMPLETE, entity=asset, before=before, after=audit.snapshot(asset)
        )
    if parts is not None:  # bytes that went straight to the bucket; direct ones were counted as they arrived
        metrics.UPLOAD_BYTES.labels(method=upload.method.value.lower()).inc(upload.declared_size)
        metrics.UPLOAD_PARTS.inc(parts)
    return asset


async def expire_uploads(*, storage: Storage, grace: timedelta = timedelta(0)) -> int:
    """Uploads never completed in time: mark them EXPIRED, fail their assets, drop staged bytes and parts."""
    expired = await Upload.filter(
        status__in=[UploadStatus.PENDING, UploadStatus.RECEIVED], expires_at__lt=_now() - grace
    )
    for upload in expired:
        if upload.multipart_upload_id:
            await storage.abort_multipart(upload.staging_key, upload.multipart_upload_id)
        await storage.delete(Area.STAGING, upload.staging_key)
        async with in_transaction():
            changed = await Upload.filter(
                id=upload.id, status__in=[UploadStatus.PENDING, UploadStatus.RECEIVED]
            ).update(status=UploadStatus.EXPIRED)
            if changed:
                metrics.UPLOAD_ABORTS.labels(reason="expired").inc()
                await Asset.filter(id=upload.asset_id, status=AssetStatus.UPLOADING).update(
                    status=AssetStatus.FAILED, failure_reason="the upload was not completed before it expired"
                )
    return len(expired)
