"""Ingest sources editors manage (a feed, a channel, ...) and the record of each of their runs."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from cms.content.models import Program


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Source(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=40)  # the plugin's ingest source (cms_ingest_sources), e.g. "rss"
    name = fields.CharField(max_length=200)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="sources", on_delete=fields.CASCADE
    )
    config: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)  # checked by the plugin
    # Config fields the plugin declares secret (API keys, bot tokens): stored apart, never shown again.
    secrets: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # What the plugin keeps between runs (ETag, Last-Modified, a cursor): opaque to the CMS.
    state: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    schedule_minutes = fields.IntField(null=True)  # None: run only when asked (runSource)
    enabled = fields.BooleanField(default=True)
    auto_publish = fields.BooleanField(default=False)
    next_run_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    program_id: int

    class Meta:
        table = "ingest_source"
        indexes = [Index(fields=("enabled", "next_run_at"))]

    @property
    def provenance(self) -> str:
        """What its episodes' `source` column says: one key space per source, so two feeds may share GUIDs."""
        return f"source:{self.id}"


class SourceRun(Model):
    id = fields.BigIntField(primary_key=True)
    source: fields.ForeignKeyRelation[Source] = fields.ForeignKeyField(
        "models.Source", related_name="runs", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(RunStatus, max_length=12, default=RunStatus.RUNNING)
    trigger = fields.CharField(max_length=20)  # "schedule" | "manual"
    started_at = fields.DatetimeField(auto_now_add=True)
    heartbeat_at = fields.DatetimeField(auto_now_add=True)  # a RUNNING run whose heartbeat stopped lost its worker
    finished_at = fields.DatetimeField(null=True)
    found = fields.IntField(default=0)
    created = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    gone = fields.IntField(default=0)  # items this source brought in earlier that upstream no longer lists
    # [{"external_id": ..., "reason": ...}] for failed items, then gone ones; the first few hundred.
    problems: fields.JSONField[list[dict[str, str]]] = fields.JSONField(default=list)
    error = fields.TextField(null=True)  # why the run as a whole failed
    source_id: int

    class Meta:
        table = "ingest_source_run"
        indexes = [Index(fields=("source_id", "started_at"))]
