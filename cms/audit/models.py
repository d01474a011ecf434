"""Audit trail: one row per mutation, written in the mutation's own transaction."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    actor = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    actor_subject = fields.CharField(max_length=255, null=True)
    action = fields.CharField(max_length=60)
    entity_type = fields.CharField(max_length=40)
    entity_id = fields.BigIntField()
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    request_id = fields.CharField(max_length=64, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        indexes = [Index(fields=("entity_type", "entity_id")), Index(fields=("at", "id"))]
