"""Audit trail: one row per mutation, written in the mutation's own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from cms.users.models import User


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_subject = fields.CharField(max_length=255, null=True)
    action = fields.CharField(max_length=60)
    entity_type = fields.CharField(max_length=40)
    entity_id = fields.BigIntField()
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField(auto_now_add=True)
    # Foreign-key column Tortoise sets at run time; an annotation only, for the type checker.
    actor_id: int | None

    class Meta:
        table = "audit_entry"
        indexes = [Index(fields=("entity_type", "entity_id")), Index(fields=("at", "id"))]
