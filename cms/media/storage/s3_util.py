"""Small S3 helpers: error classification, quiet aborts, and a verified server-side copy."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from botocore.exceptions import ClientError

from cms.media.storage._io import b64, run_blocking, run_undoable
from cms.media.storage.base import ChecksumMismatch

MiB = 1 << 20
GiB = 1 << 30
COPY_OBJECT_LIMIT = 5 * GiB  # CopyObject's maximum; larger objects are copied part by part
COPY_PART_SIZE = 1 * GiB  # UploadPartCopy allows up to 5 GiB per part
_HASH_CHUNK = 8 * MiB

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_missing(exc: ClientError) -> bool:
    return error_code(exc) in _MISSING


def abort_quietly(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort a multipart upload; one that is already gone (completed or aborted) is fine."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchUpload", "404"):
            raise


async def create_upload(client: Any, **params: Any) -> str:
    """CreateMultipartUpload; if the caller is cancelled meanwhile, the new upload is aborted, not leaked."""
    created = await run_undoable(
        functools.partial(client.create_multipart_upload, **params),
        lambda response: abort_quietly(client, params["Bucket"], params["Key"], response["UploadId"]),
    )
    return str(created["UploadId"])


async def hash_object(client: Any, bucket: str, key: str, etag: str) -> tuple[bytes, int]:
    """Stream the exact version `etag` through sha256; returns (digest, size)."""
    response = await run_blocking(client.get_object, Bucket=bucket, Key=key, IfMatch=etag)
    body, hasher = response["Body"], hashlib.sha256()

    def step() -> int:  # read and hash in the thread: hashlib releases the GIL on big buffers
        data = body.read(_HASH_CHUNK)
        hasher.update(data)
        return len(data)

    size = 0
    try:
        while read := await run_blocking(step):
            size += read
    finally:
        body.close()
    return hasher.digest(), size


async def copy_object(
    storage: Any,
    src_bucket: str,
    src_key: str,
    etag: str,
    size: int,
    dst_bucket: str,
    dst_key: str,
    digest: bytes | None,
) -> None:
    """Server-side copy of the exact version `etag` (no bytes through us), asking S3 for a SHA256 of the copy.

    A copy that S3 reports with a different full-object SHA256 than `digest` is deleted and refused; with no
    `digest` (an import that did not hash the source: the persist job hashes the copy) nothing is compared.
    """
    client = storage._copy_client  # its read timeout allows for a copy the server answers only when done
    source = {"Bucket": src_bucket, "Key": src_key}
    if size <= storage.multipart_copy_threshold:
        response = await run_blocking(
            client.copy_object,
            Bucket=dst_bucket,
            Key=dst_key,
            CopySource=source,
            CopySourceIfMatch=etag,
            ChecksumAlgorithm="SHA256",
        )
        reported = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
        # "-N" marks a composite checksum, not comparable with a full-object one.
        if digest is not None and reported and "-" not in reported and reported != b64(digest):
            await run_blocking(client.delete_object, Bucket=dst_bucket, Key=dst_key)
            raise ChecksumMismatch(b64(digest), reported)
        return
    upload_id = await create_upload(client, Bucket=dst_bucket, Key=dst_key)
    try:
        parts = []
        for number, first in enumerate(range(0, size, storage.copy_part_size), start=1):
            last = min(first + storage.copy_part_size, size) - 1
            response = await run_blocking(
                client.upload_part_copy,
                Bucket=dst_bucket,
                Key=dst_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceIfMatch=etag,
                CopySourceRange=f"bytes={first}-{last}",
            )
            parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
        await run_blocking(
            client.complete_multipart_upload,
            Bucket=dst_bucket,
            Key=dst_key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
    except BaseException:
        await run_blocking(abort_quietly, client, dst_bucket, dst_key, upload_id)
        raise
