"""The job table: PostgreSQL is the source of truth for job state; Redis only carries job ids."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    DEAD = "DEAD"


class Job(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=80)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # One job per (event, kind): relaying an event twice creates nothing new.
    dedupe_key = fields.CharField(max_length=200, unique=True)
    status = fields.CharEnumField(JobStatus, max_length=12, default=JobStatus.QUEUED)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=5)
    run_after = fields.DatetimeField(null=True)
    enqueued_at = fields.DatetimeField(null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    asset_id = fields.BigIntField(null=True)
    # The trace context and request id of what caused the job (cms.core.outbox.current_context); the runner makes
    # the job's span a child of that trace and binds the request id to the job's log lines. None: a root span.
    context: fields.JSONField[dict[str, str] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job"
        indexes = [Index(fields=("status", "run_after")), Index(fields=("asset_id",))]
