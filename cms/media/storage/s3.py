"""S3 / MinIO backend (boto3, path-style addressing). boto3 is blocking, so every call runs in a thread."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cms.media.storage._io import CHUNK_SIZE, Meter, b64, check_range, drain, normalize_sha256, run_blocking
from cms.media.storage.base import (
    Area,
    ChecksumMismatch,
    ObjectInfo,
    ObjectMissing,
    Storage,
    WriteResult,
    validate_key,
    validate_prefix,
)
from cms.media.storage.s3_direct import DirectUploadsMixin
from cms.media.storage.s3_util import (
    COPY_OBJECT_LIMIT,
    COPY_PART_SIZE,
    MiB,
    abort_quietly,
    copy_object,
    create_upload,
    error_code,
    hash_object,
    is_missing,
)

# How long a call may wait before S3 (or MinIO) counts as not answering. Each request gets CONNECT_TIMEOUT to connect
# and `read_timeout` (CMS_S3_READ_TIMEOUT_SECONDS) between bytes of the answer, and ATTEMPTS tries in all: an S3 that
# accepts connections and never answers fails a call in about ATTEMPTS x (connect + read) seconds (a 503 for a
# request), instead of botocore's 60 s read timeout times its retries.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
ATTEMPTS = 2
# Server-side copies (CopyObject up to 5 GiB, UploadPartCopy of 1 GiB parts) answer only when the copy is done:
# minutes for big objects on some servers. They run in jobs, never while a client waits.
COPY_READ_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class SourceObject:
    """An object of a bucket outside our three areas (an import's source), as a listing describes it."""

    bucket: str
    key: str  # any S3 key: never used as one of our keys
    size: int
    etag: str  # no quotes; pins the version copied (CopySourceIfMatch)
    checksum_algorithms: tuple[str, ...]  # e.g. ("SHA256",) when S3 keeps one for the object


class S3Storage(DirectUploadsMixin, Storage):
    supports_presigned = True
    part_size = 8 * MiB  # multipart threshold and part size for streamed writes; one part is buffered at a time
    multipart_copy_threshold = COPY_OBJECT_LIMIT
    copy_part_size = COPY_PART_SIZE

    def __init__(
        self,
        endpoint_url: str | None,
        buckets: Mapping[Area, str],
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        create_buckets: bool = False,
        *,
        public_endpoint_url: str | None = None,
        read_timeout: float = READ_TIMEOUT,
        ping_timeout: float = 1.0,
    ) -> None:
        """`read_timeout`: see READ_TIMEOUT; `ping_timeout`: connect and read timeout of `ping` (readiness), one
        attempt, so the thread /readyz leaves behind when S3 hangs ends about when the check gives up."""
        missing = [area.value for area in Area if area not in buckets]
        if missing:
            raise ValueError(f"S3Storage needs a bucket for every area; missing {missing}")
        self.buckets = {Area(area): name for area, name in buckets.items()}
        self.region = region
        # None credentials fall through to boto3's standard chain (AWS_* variables, profiles, instance roles).
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        base = Config(
            s3={"addressing_style": "path"},  # MinIO and other S3-compatible servers need path-style
            signature_version="s3v4",
            # We send SHA256 checksums ourselves; boto3's automatic CRC32 trips older S3-compatible servers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # An unreachable or silent endpoint fails in seconds (the request becomes a 503), not minutes.
        config = base.merge(
            Config(
                max_pool_connections=32,
                retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=read_timeout,
            )
        )
        self._client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._copy_client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=config.merge(Config(read_timeout=max(read_timeout, COPY_READ_TIMEOUT))),
        )
        self._ping_client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=base.merge(
                Config(
                    max_pool_connections=1,
                    retries={"mode": "standard", "total_max_attempts": 1},
                    connect_timeout=ping_timeout,
                    read_timeout=ping_timeout,
                )
            ),
        )
        # Presigned URLs must name the host browsers reach, which may differ from the internal endpoint.
        self._presigner = (
            session.client("s3", endpoint_url=public_endpoint_url, config=config)
            if public_endpoint_url
            else self._client
        )
        if create_buckets:  # blocking; meant for startup and tests
            for name in self.buckets.values():
                self._create_bucket(name)

    def _create_bucket(self, name: str) -> None:
        extra: dict[str, Any] = {}
        if self.region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(Bucket=name, **extra)
        except ClientError as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _loc(self, area: Area, key: str) -> tuple[str, str]:
        return self.buckets[Area(area)], validate_key(key)

    async def ping(self) -> None:
        """HEAD each area's bucket: reachable, credentials accepted, bucket there."""
        for name in dict.fromkeys(self.buckets.values()):
            await run_blocking(self._ping_client.head_bucket, Bucket=name)

    async def close(self) -> None:
        self._client.close()
        self._copy_client.close()
        self._ping_client.close()
        if self._presigner is not self._client:
            self._presigner.close()

    # --- writes -------------------------------------------------------------------------------------------

    async def write(
        self,
        area: Area,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        max_size: int | None = None,
    ) -> WriteResult:
        bucket, key = self._loc(area, key)
        result, _ = await self._upload(bucket, key, chunks, content_type, max_size, if_absent=False)
        return result

    async def write_if_absent(
        self,
        area: Area,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        max_size: int | None = None,
    ) -> tuple[WriteResult, bool]:
        bucket, key = self._loc(area, key)
        if await self._head(bucket, key) is not None:  # skip the upload; If-None-Match still guards the race
            return await drain(key, chunks, max_size), True
        return await self._upload(bucket, key, chunks, content_type, max_size, if_absent=True)

    def _part_limit(self, parts: int) -> int:
        # S3 allows 10,000 parts: grow the part size every 1,000 parts so huge streams still fit (~440 GB).
        return self.part_size * (1 + parts // 1000)

    async def _upload(
        self,
        bucket: str,
        key: str,
        chunks: AsyncIterable[bytes],
        content_type: str | None,
        max_size: int | None,
        *,
        if_absent: bool,
    ) -> tuple[WriteResult, bool]:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        condition: dict[str, Any] = {"IfNoneMatch": "*"} if if_absent else {}
        meter, buf = Meter(max_size), bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                meter.feed(chunk)
                buf += chunk
                if len(buf) >= self._part_limit(len(parts)):
                    if upload_id is None:
                        upload_id = await create_upload(
                            self._client, Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", **extra
                        )
                    parts.append(await run_blocking(self._put_part, bucket, key, upload_id, len(parts) + 1, bytes(buf)))
                    buf.clear()
            result = meter.result(key)
            try:
                if upload_id is None:  # small object: one request, checksum verified by the server
                    body = bytes(buf)
                    await run_blocking(
                        self._client.put_object,
                        Bucket=bucket,
                        Key=key,
                        Body=body,
                        ChecksumSHA256=b64(meter.digest),
                        **extra,
                        **condition,
                    )
                else:
                    if buf:
                        parts.append(
                            await run_blocking(self._put_part, bucket, key, upload_id, len(parts) + 1, bytes(buf))
                        )
                    await run_blocking(
                        self._client.complete_multipart_upload,
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                        **condition,
                    )
                    upload_id = None  # completed: nothing left to abort
            except ClientError as exc:
                if if_absent and error_code(exc) == "PreconditionFailed":
                    return result, True  # someone else stored it meanwhile; masters are never overwritten
                raise
            return result, False
        finally:
            if upload_id is not None:  # error, ObjectTooLarge or cancellation: leave no pending upload behind
                await run_blocking(abort_quietly, self._client, bucket, key, upload_id)

    def _put_part(self, bucket: str, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        checksum = b64(hashlib.sha256(data).digest())  # per-part SHA256, checked by S3 on arrival
        response = self._client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, ChecksumSHA256=checksum
        )
        return {"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum}

    # --- reads --------------------------------------------------------------------------------------------

    async def read(self, area: Area, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        check_range(start, end)
        bucket, key = self._loc(area, key)
        if end is not None and end == start:  # S3 cannot express an empty range; answer it with HEAD
            if await self._head(bucket, key) is None:
                raise ObjectMissing(f"no object {area}/{key}")
            return
        extra: dict[str, Any] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = await run_blocking(self._client.get_object, Bucket=bucket, Key=key, **extra)
        except ClientError as exc:
            if is_missing(exc):
                raise ObjectMissing(f"no object {area}/{key}") from None
            if error_code(exc) == "InvalidRange":  # start at or past the end: no bytes, like a slice
                return
            raise
        body = response["Body"]
        try:
            while data := await run_blocking(body.read, CHUNK_SIZE):
                yield data
        finally:
            body.close()

    async def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return await run_blocking(self._client.head_object, Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    async def stat(self, area: Area, key: str) -> ObjectInfo | None:
        bucket, key = self._loc(area, key)
        head = await self._head(bucket, key)
        if head is None:
            return None
        return ObjectInfo(key, head["ContentLength"], head["ETag"].strip('"'), head["LastModified"])

    async def delete(self, area: Area, key: str) -> None:
        bucket, key = self._loc(area, key)
        await run_blocking(self._client.delete_object, Bucket=bucket, Key=key)

    async def _pages(self, operation: str, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        pages = iter(self._client.get_paginator(operation).paginate(**kwargs))
        while (page := await run_blocking(next, pages, None)) is not None:
            yield page

    async def list(self, area: Area, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        validate_prefix(prefix)
        async for page in self._pages("list_objects_v2", Bucket=self.buckets[Area(area)], Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"], item["Size"], item["ETag"].strip('"'), item["LastModified"])

    # --- objects of other buckets (imports in place) -----------------------------------------------------------
    # The source bucket is reached with this storage's client: the same endpoint and credentials.

    async def list_source(self, bucket: str, prefix: str = "") -> AsyncIterator[SourceObject]:
        """Every object of `bucket` whose key starts with `prefix`, in key order, page by page (1,000 a request)."""
        async for page in self._pages("list_objects_v2", Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield SourceObject(
                    bucket,
                    item["Key"],
                    item["Size"],
                    item["ETag"].strip('"'),
                    tuple(item.get("ChecksumAlgorithm", ())),
                )

    async def source_head(self, source: SourceObject, length: int) -> bytes:
        """The first `length` bytes of that version of the object (a ranged GET): enough to sniff its type."""
        response = await run_blocking(
            self._client.get_object,
            Bucket=source.bucket,
            Key=source.key,
            Range=f"bytes=0-{max(length, 1) - 1}",
            IfMatch=f'"{source.etag}"',
        )
        body = response["Body"]
        try:
            return bytes(await run_blocking(body.read))
        finally:
            body.close()

    async def source_sha256(self, source: SourceObject) -> str | None:
        """The object's sha256 (hex) when S3 keeps a full-object SHA256 checksum for it (one HEAD), else None: a
        multipart upload's composite checksum ("...-N") is a hash of part hashes, not of the bytes."""
        if "SHA256" not in source.checksum_algorithms:
            return None
        head = await run_blocking(
            self._client.head_object,
            Bucket=source.bucket,
            Key=source.key,
            IfMatch=f'"{source.etag}"',
            ChecksumMode="ENABLED",
        )
        reported = head.get("ChecksumSHA256")
        if not reported or "-" in reported or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None
        try:
            return base64.b64decode(reported, validate=True).hex()
        except ValueError:
            return None

    async def copy_in(self, source: SourceObject, area: Area, dest_key: str) -> ObjectInfo:
        """Server-side copy of that version of `source` into `area` (CopyObject, or UploadPartCopy part by part
        above 5 GiB): no byte passes through this process. Returns the copy's metadata."""
        bucket, dest_key = self._loc(area, dest_key)
        etag = f'"{source.etag}"'
        await copy_object(self, source.bucket, source.key, etag, source.size, bucket, dest_key, None)
        landed = await self._head(bucket, dest_key)
        if landed is None or landed["ContentLength"] != source.size:
            raise RuntimeError(f"copy of s3://{source.bucket}/{source.key} to {area}/{dest_key} did not land intact")
        return ObjectInfo(dest_key, landed["ContentLength"], landed["ETag"].strip('"'), landed["LastModified"])

    # --- promote and cleanup ------------------------------------------------------------------------------

    async def promote(
        self, src_area: Area, src_key: str, dst_area: Area, dst_key: str, *, expected_sha256: str | None
    ) -> WriteResult:
        (src_bucket, src_key), (dst_bucket, dst_key) = self._loc(src_area, src_key), self._loc(dst_area, dst_key)
        if (src_bucket, src_key) == (dst_bucket, dst_key):
            raise ValueError("promote needs distinct source and destination")
        expected = normalize_sha256(expected_sha256)
        head = await self._head(src_bucket, src_key)
        if head is None:
            raise ObjectMissing(f"no object {src_area}/{src_key}")
        etag = head["ETag"]  # pins the version: the hash and the copy below refer to the same bytes
        digest, size = await hash_object(self._client, src_bucket, src_key, etag)
        actual = digest.hex()
        if expected is not None and actual != expected:
            raise ChecksumMismatch(expected, actual)
        if await self._head(dst_bucket, dst_key) is None:  # content-addressed: an existing copy is the same
            await copy_object(self, src_bucket, src_key, etag, size, dst_bucket, dst_key, digest)
            landed = await self._head(dst_bucket, dst_key)
            if landed is None or landed["ContentLength"] != size:
                raise RuntimeError(f"copy to {dst_area}/{dst_key} did not land intact")
        await run_blocking(self._client.delete_object, Bucket=src_bucket, Key=src_key)
        return WriteResult(key=dst_key, size=size, sha256=actual)

    async def cleanup_staging(self, older_than: timedelta) -> int:
        cutoff = datetime.now(UTC) - older_than
        bucket, removed = self.buckets[Area.STAGING], 0
        async for page in self._pages("list_objects_v2", Bucket=bucket):
            old = [{"Key": item["Key"]} for item in page.get("Contents", []) if item["LastModified"] < cutoff]
            if old:  # a page holds at most 1,000 keys, the DeleteObjects limit
                await run_blocking(self._client.delete_objects, Bucket=bucket, Delete={"Objects": old, "Quiet": True})
                removed += len(old)
        async for page in self._pages("list_multipart_uploads", Bucket=bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:  # abandoned client uploads still cost storage
                    await run_blocking(abort_quietly, self._client, bucket, upload["Key"], upload["UploadId"])
                    removed += 1
        return removed
