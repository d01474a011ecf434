"""Object storage for media: staging -> masters -> previews, on local disk or S3/MinIO."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cms.media.storage._io import file_chunks, run_blocking, run_undoable
from cms.media.storage.base import (
    Area,
    ChecksumMismatch,
    ObjectInfo,
    ObjectMissing,
    ObjectTooLarge,
    PresignedPost,
    Storage,
    StorageError,
    StorageKeyInvalid,
    WriteResult,
    master_key,
    validate_key,
)
from cms.media.storage.local import LocalStorage

if TYPE_CHECKING:
    from cms.core.settings import Settings


def open_storage(
    *,
    data_dir: Path,
    s3_endpoint_url: str | None,
    buckets: Mapping[Area, str],
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    region: str = "us-east-1",
    public_endpoint_url: str | None = None,
    read_timeout: float | None = None,
    ping_timeout: float = 1.0,
) -> Storage:
    """S3 when an endpoint is configured, else local storage under `data_dir / "storage"`."""
    if s3_endpoint_url is None:
        return LocalStorage(Path(data_dir) / "storage")
    from cms.media.storage.s3 import READ_TIMEOUT, S3Storage  # boto3 is imported only when S3 is configured

    return S3Storage(
        s3_endpoint_url,
        buckets,
        region=region,
        access_key=aws_access_key_id,
        secret_key=aws_secret_access_key,
        public_endpoint_url=public_endpoint_url,
        read_timeout=read_timeout or READ_TIMEOUT,
        ping_timeout=ping_timeout,
    )


def open_storage_from_settings(settings: Settings) -> Storage:
    """The app's storage as configured (S3_* and AWS_* variables; unset endpoint: local under CMS_DATA_DIR)."""
    return open_storage(
        data_dir=settings.data_dir,
        s3_endpoint_url=settings.s3_endpoint_url,
        buckets={
            Area.STAGING: settings.s3_bucket_staging,
            Area.MASTERS: settings.s3_bucket_masters,
            Area.PREVIEWS: settings.s3_bucket_previews,
        },
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region=settings.aws_region,
        public_endpoint_url=settings.s3_public_endpoint_url,
        read_timeout=settings.s3_read_timeout_seconds,
        ping_timeout=settings.ready_timeout_seconds,
    )


__all__ = [
    "Area",
    "ChecksumMismatch",
    "LocalStorage",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectTooLarge",
    "PresignedPost",
    "Storage",
    "StorageError",
    "StorageKeyInvalid",
    "WriteResult",
    "file_chunks",
    "master_key",
    "open_storage",
    "open_storage_from_settings",
    "run_blocking",
    "run_undoable",
    "validate_key",
]
