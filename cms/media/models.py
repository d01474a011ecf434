"""Media assets: uploaded or ingested files attached to an episode (or used as a program cover)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


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
    episode = fields.ForeignKeyField("models.Episode", related_name="assets", null=True, on_delete=fields.SET_NULL)
    kind = fields.CharEnumField(AssetKind, max_length=12)
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=120)
    size = fields.BigIntField(null=True)
    sha256 = fields.CharField(max_length=64, null=True, db_index=True)
    status = fields.CharEnumField(AssetStatus, max_length=12, default=AssetStatus.UPLOADING)
    failure_reason = fields.TextField(null=True)
    # Probe results (duration, width, height, rotation, codecs, bitrate, channels).
    probe = fields.JSONField(default=dict)
    created_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "asset"
