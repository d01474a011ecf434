"""Media assets: uploaded or ingested files attached to an episode (or used as a program cover)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from cms.content.models import Episode
    from cms.users.models import User


class AssetKind(StrEnum):
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    IMAGE = "IMAGE"
    DOCUMENT = "DOCUMENT"


class AssetStatus(StrEnum):
    UPLOADING = "UPLOADING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


class Asset(Model):
    id = fields.BigIntField(primary_key=True)
    episode: fields.ForeignKeyNullableRelation[Episode] = fields.ForeignKeyField(
        "models.Episode", related_name="assets", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(AssetKind, max_length=12)
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=120)
    size = fields.BigIntField(null=True)
    sha256 = fields.CharField(max_length=64, null=True, db_index=True)
    status = fields.CharEnumField(AssetStatus, max_length=12, default=AssetStatus.UPLOADING)
    failure_reason = fields.TextField(null=True)
    # Probe results (duration, width, height, rotation, codecs, bitrate, channels).
    probe: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # Processing progress, written by the running job at most a few times a second.
    progress = fields.FloatField(default=0)
    stage = fields.CharField(max_length=40, null=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Foreign-key columns Tortoise sets at run time; annotations only, for the type checker.
    episode_id: int | None
    created_by_id: int | None
    # Reverse relations Tortoise adds at run time.
    renditions: fields.ReverseRelation[Rendition]
    extracted_text: fields.BackwardOneToOneRelation[AssetText]

    class Meta:
        table = "asset"
        indexes = [Index(fields=("episode_id", "created_at"))]


class UploadMethod(StrEnum):
    DIRECT = "DIRECT"  # streamed through the API
    PRESIGNED_POST = "PRESIGNED_POST"  # one form POST straight to the staging bucket
    MULTIPART = "MULTIPART"  # presigned part URLs, resumable, for large files


class UploadStatus(StrEnum):
    PENDING = "PENDING"
    RECEIVED = "RECEIVED"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"


class Upload(Model):
    id = fields.UUIDField(primary_key=True)
    asset: fields.ForeignKeyRelation[Asset] = fields.ForeignKeyField(
        "models.Asset", related_name="uploads", on_delete=fields.CASCADE
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    method = fields.CharEnumField(UploadMethod, max_length=16)
    status = fields.CharEnumField(UploadStatus, max_length=12, default=UploadStatus.PENDING)
    staging_key = fields.CharField(max_length=200)
    declared_size = fields.BigIntField()
    declared_sha256 = fields.CharField(max_length=64, null=True)
    received_sha256 = fields.CharField(max_length=64, null=True)
    multipart_upload_id = fields.CharField(max_length=1024, null=True)
    cover_for_program_id = fields.BigIntField(null=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    completed_at = fields.DatetimeField(null=True)
    # Foreign-key columns Tortoise sets at run time; annotations only, for the type checker.
    asset_id: int
    created_by_id: int | None

    class Meta:
        table = "upload"


class RenditionKind(StrEnum):
    HLS_MASTER = "HLS_MASTER"
    HLS_VARIANT = "HLS_VARIANT"
    POSTER = "POSTER"
    THUMBNAILS = "THUMBNAILS"
    STORYBOARD = "STORYBOARD"
    IMAGE = "IMAGE"


class RenditionStatus(StrEnum):
    READY = "READY"
    FAILED = "FAILED"


class Rendition(Model):
    """One derived output in previews storage; rebuilt from the master whenever the ladder changes."""

    id = fields.BigIntField(primary_key=True)
    asset: fields.ForeignKeyRelation[Asset] = fields.ForeignKeyField(
        "models.Asset", related_name="renditions", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(RenditionKind, max_length=16)
    name = fields.CharField(max_length=40)
    status = fields.CharEnumField(RenditionStatus, max_length=8)
    key = fields.CharField(max_length=300, null=True)  # the main file (playlist, image, VTT) in previews
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    bitrate = fields.BigIntField(null=True)  # measured average, bits/s
    peak_bitrate = fields.BigIntField(null=True)
    codecs = fields.CharField(max_length=80, null=True)
    frame_rate = fields.FloatField(null=True)
    size = fields.BigIntField(null=True)  # bytes of every file of the rendition
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Foreign-key column Tortoise sets at run time; an annotation only, for the type checker.
    asset_id: int

    class Meta:
        table = "rendition"
        unique_together = (("asset", "kind", "name"),)


class AssetText(Model):
    """Text extracted from a document asset (a PDF's pages), which the search indexer reads.

    Up to CMS_DOCUMENT_MAX_TEXT_BYTES, written when the asset is processed. A table of its own, so that loading assets
    (on every page of the API) never drags up to a megabyte of text along; it goes with its asset."""

    id = fields.BigIntField(primary_key=True)
    asset: fields.OneToOneRelation[Asset] = fields.OneToOneField(
        "models.Asset", related_name="extracted_text", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    pages = fields.IntField()  # pages the text was read from (fewer than the document's when the cap cut it short)
    truncated = fields.BooleanField(default=False)  # the byte cap cut it short
    updated_at = fields.DatetimeField(auto_now=True)
    # Foreign-key column Tortoise sets at run time; an annotation only, for the type checker.
    asset_id: int

    class Meta:
        table = "asset_text"
