"""Programs, episodes and time-coded comments."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.contrib.postgres.indexes import GinIndex
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from cms.media.models import Asset
    from cms.users.models import User


class PublishStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class Program(Model):
    id = fields.BigIntField(primary_key=True)
    title = fields.CharField(max_length=300)
    slug = fields.CharField(max_length=120, unique=True)
    description = fields.TextField(default="")
    category = fields.CharField(max_length=80, null=True)
    language = fields.CharField(max_length=35, null=True)
    tags = ArrayField("text", default=list)
    status = fields.CharEnumField(PublishStatus, max_length=12, default=PublishStatus.DRAFT)
    publish_at = fields.DatetimeField(null=True)
    # Points at an Asset; a plain column because Tortoise cannot order the program<->asset FK cycle.
    # The foreign key (ON DELETE SET NULL) is added by the initial migration.
    cover_asset_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "program"
        indexes = [
            Index(fields=("status", "publish_at")),
            Index(fields=("created_at", "id")),
            GinIndex(fields=("tags",)),
        ]


class Episode(Model):
    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="episodes", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=300)
    slug = fields.CharField(max_length=120)
    season = fields.IntField(null=True)
    number = fields.IntField(null=True)
    description = fields.TextField(default="")
    metadata: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(PublishStatus, max_length=12, default=PublishStatus.DRAFT)
    publish_at = fields.DatetimeField(null=True)
    # Provenance for ingest: where the episode came from and its id there.
    source = fields.CharField(max_length=40, null=True)
    external_id = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Foreign-key columns Tortoise sets at run time; annotations only, for the type checker.
    program_id: int

    class Meta:
        table = "episode"
        unique_together = (("program", "slug"), ("source", "external_id"))
        indexes = [
            Index(fields=("program_id", "season", "number")),
            Index(fields=("status", "publish_at")),
            Index(fields=("created_at", "id")),
        ]


class Comment(Model):
    id = fields.BigIntField(primary_key=True)
    episode: fields.ForeignKeyNullableRelation[Episode] = fields.ForeignKeyField(
        "models.Episode", related_name="comments", null=True, on_delete=fields.CASCADE
    )
    asset: fields.ForeignKeyNullableRelation[Asset] = fields.ForeignKeyField(
        "models.Asset", related_name="comments", null=True, on_delete=fields.CASCADE
    )
    parent: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="replies", null=True, on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="comments", on_delete=fields.RESTRICT
    )
    body = fields.TextField()
    timecode = fields.FloatField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Foreign-key columns Tortoise sets at run time; annotations only, for the type checker.
    episode_id: int | None
    asset_id: int | None
    parent_id: int | None
    author_id: int
    resolved_by_id: int | None

    class Meta:
        table = "comment"
        indexes = [Index(fields=("episode_id", "created_at")), Index(fields=("asset_id", "created_at"))]
