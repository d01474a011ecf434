"""Job state transitions. Every change is a guarded UPDATE, so a stale worker can never undo a newer state."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tortoise import fields
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cms.auth.permissions import Role, allowed, require
from cms.auth.principal import Principal
from cms.core.errors import Conflict, Invalid, NotFound
from cms.core.outbox import current_context
from cms.core.pagination import Ordering, Page, paginate
from cms.core.settings import Settings
from jobs.store.models import Job, JobStatus

_ORDER = Ordering("CREATED_AT_DESC", "created_at", descending=True)
MAX_ERROR_CHARS = 4000
# The Settings default (CMS_JOB_MAX_ATTEMPTS); callers with settings pass theirs.
DEFAULT_MAX_ATTEMPTS: int = Settings.model_fields["job_max_attempts"].default
KIND_MAX = cast("fields.CharField[str]", Job._meta.fields_map["kind"]).max_length
DEDUPE_KEY_MAX = cast("fields.CharField[str]", Job._meta.fields_map["dedupe_key"]).max_length


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """Seconds before retry n: 2, 4, 8 ... capped at 5 minutes."""
    return timedelta(seconds=min(2**attempts, 300))


@dataclass(frozen=True)
class NewJob:
    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    asset_id: int | None = None
    # Trace context and request id of the cause (the outbox event's); None: the job's span is a root.
    context: dict[str, str] | None = None


async def create_jobs(jobs: list[NewJob], *, max_attempts: int) -> None:
    """Insert jobs, skipping any whose dedupe key exists (relaying the same event twice adds nothing)."""
    for job in jobs:
        await _insert(
            job.kind, _json(job.payload), job.dedupe_key, max_attempts, asset_id=job.asset_id, context=job.context
        )


# The columns of a new job row, and what a new QUEUED job holds in them (`new` names its kind, payload, dedupe_key,
# max_attempts, asset_id and run_after).
_NEW_JOB_COLUMNS = (
    "kind, payload, dedupe_key, status, attempts, max_attempts, asset_id, run_after, context, created_at, updated_at"
)
_NEW_JOB_VALUES = (
    "new.kind, new.payload, new.dedupe_key, 'QUEUED', 0, new.max_attempts, new.asset_id, new.run_after, new.context,"
    " now(), now()"
)


async def _insert(
    kind: str,
    payload: str,
    dedupe_key: str,
    max_attempts: int,
    *,
    asset_id: int | None = None,
    run_after: datetime | None = None,
    context: dict[str, str] | None = None,
) -> None:
    """A QUEUED job row, unless one with `dedupe_key` exists (whatever its state)."""
    await Job._meta.db.execute_query(
        f"INSERT INTO job ({_NEW_JOB_COLUMNS}) SELECT {_NEW_JOB_VALUES} FROM (VALUES ($1, $2::jsonb, $3, $4::int,"
        " $5::bigint, $6::timestamptz, $7::jsonb)) AS new (kind, payload, dedupe_key, max_attempts, asset_id,"
        " run_after, context) ON CONFLICT (dedupe_key) DO NOTHING",
        [kind, payload, dedupe_key, max_attempts, asset_id, run_after, None if context is None else _json(context)],
    )


async def insert_selected(rows: str, params: list[Any]) -> int:
    """Queue a job for each row of the query `rows` (columns kind, payload as jsonb, dedupe_key, max_attempts) whose
    dedupe key no job has yet, in one statement; returns how many were created. NOT EXISTS spares the insert (and a
    sequence number) for keys seen before; ON CONFLICT settles a race with another insert of the same key.
    Used by scans, which no request caused: the jobs carry no context (their spans are roots)."""
    sql = (
        f"INSERT INTO job ({_NEW_JOB_COLUMNS})"
        f" SELECT {_NEW_JOB_VALUES} FROM (SELECT r.*, NULL::bigint AS asset_id, NULL::timestamptz AS run_after,"
        f" NULL::jsonb AS context FROM ({rows}) AS r) AS new"
        " WHERE NOT EXISTS (SELECT 1 FROM job j WHERE j.dedupe_key = new.dedupe_key)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
    )
    return len(await Job._meta.db.execute_query_dict(sql, params))


def _json(value: dict[str, Any], *, allow_nan: bool = True) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=allow_nan)


class PermanentFailure(Exception):
    """Raise from a job function when retrying cannot help (the input itself is bad): the job is dead-lettered
    at once, with the message as its last error. Any other exception is retried with backoff."""


async def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Queue a job of `kind` (a core kind such as "ingest_poll", or one a plugin registered with cms_job_kinds).

    The job goes through the job table like every job: leases, retries with backoff, dead letter, `retryJob`.
    `payload` is passed to the job function as keyword arguments: JSON values only (ids and primitives).
    With a `dedupe_key`, a job with that key already queued, running or finished (even dead) is returned instead
    of a new one, so enqueueing twice is safe. `run_after` (UTC when naive) delays the first run.
    Called inside the caller's transaction, the job exists only if that transaction commits.
    A kind no worker knows is dead-lettered when it comes up, with "no handler for job kind" as its error.
    The caller's trace context and request id go with the job (a job enqueued by a job continues its trace).
    """
    payload = {} if payload is None else payload
    problems: dict[str, str] = {}
    if not isinstance(kind, str) or not kind.strip() or len(kind) > KIND_MAX:
        problems["kind"] = f"must be a name of 1 to {KIND_MAX} characters"
    if dedupe_key is not None and (
        not isinstance(dedupe_key, str) or not dedupe_key or len(dedupe_key) > DEDUPE_KEY_MAX
    ):
        problems["dedupeKey"] = f"must be a string of 1 to {DEDUPE_KEY_MAX} characters"
    if max_attempts < 1:
        problems["maxAttempts"] = "must be at least 1"
    encoded = None
    if not isinstance(payload, dict) or not all(isinstance(k, str) for k in payload):
        problems["payload"] = "must be a JSON object with string keys"
    else:
        try:
            encoded = _json(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            problems["payload"] = f"must hold JSON values only ({exc})"
    if problems:
        raise Invalid(problems)
    assert encoded is not None  # encoded whenever there are no problems
    if run_after is not None and run_after.tzinfo is None:
        run_after = run_after.replace(tzinfo=UTC)
    key = dedupe_key or f"enqueue:{uuid.uuid4().hex}"
    await _insert(kind, encoded, key, max_attempts, run_after=run_after, context=current_context())
    return await Job.get(dedupe_key=key)


async def due_for_enqueue(*, requeue_after: timedelta, limit: int = 200) -> list[Job]:
    """Queued, due jobs never handed to Redis, or handed over so long ago that Redis may have lost them."""
    now = _now()
    due = Q(run_after__isnull=True) | Q(run_after__lte=now)
    unsent = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after)
    return await Job.filter(Q(status=JobStatus.QUEUED) & due & unsent).order_by("id").limit(limit)


async def mark_enqueued(job_id: int) -> None:
    await Job.filter(id=job_id, status=JobStatus.QUEUED).update(enqueued_at=_now())


async def claim(job_id: int, *, lease: timedelta) -> Job | None:
    """Take a queued job for running; None when it is not runnable (done, dead, running elsewhere, or not due)."""
    now = _now()
    async with in_transaction():
        job = await Job.filter(id=job_id).select_for_update().first()
        if job is None or job.status != JobStatus.QUEUED or (job.run_after and job.run_after > now):
            return None
        job.status, job.attempts, job.lease_expires_at = JobStatus.RUNNING, job.attempts + 1, now + lease
        await job.save(update_fields=["status", "attempts", "lease_expires_at", "updated_at"])
        return job


async def extend_lease(job: Job, *, lease: timedelta) -> bool:
    """Heartbeat; False when the job is no longer ours (the sweeper took it back)."""
    updated = await Job.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts).update(
        lease_expires_at=_now() + lease
    )
    return updated == 1


async def succeed(job: Job) -> bool:
    updated = await Job.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.SUCCEEDED, finished_at=_now(), lease_expires_at=None, last_error=None
    )
    return updated == 1


async def fail(job: Job, error: str, *, retryable: bool = True) -> JobStatus:
    """Record the error; the job is queued again with backoff, or dead-lettered after its last attempt."""
    dead = not retryable or job.attempts >= job.max_attempts
    status = JobStatus.DEAD if dead else JobStatus.QUEUED
    await Job.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=status,
        last_error=error[:MAX_ERROR_CHARS],
        lease_expires_at=None,
        enqueued_at=None,
        run_after=None if dead else _now() + backoff(job.attempts),
        finished_at=_now() if dead else None,
    )
    return status


async def reclaim_expired_leases() -> list[Job]:
    """Jobs whose worker vanished: queue them again, or dead-letter them when attempts are used up."""
    now = _now()
    reclaimed: list[Job] = []
    async with in_transaction():
        for job in await Job.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).select_for_update(
            skip_locked=True
        ):
            dead = job.attempts >= job.max_attempts
            job.status = JobStatus.DEAD if dead else JobStatus.QUEUED
            job.last_error = "worker lost: lease expired before the job finished"
            job.lease_expires_at, job.enqueued_at, job.run_after = None, None, None
            job.finished_at = now if dead else None
            await job.save()
            reclaimed.append(job)
    return reclaimed


async def retry_job(*, principal: Principal | None, id: int) -> Job:
    """Admins give a dead job a fresh set of attempts."""
    require(principal, Role.ADMIN)
    job = await Job.get_or_none(id=id)
    if job is None:
        raise NotFound("job not found")
    if job.status != JobStatus.DEAD:
        raise Conflict(f"only dead jobs can be retried; this one is {job.status.value}", field="id")
    await Job.filter(id=id, status=JobStatus.DEAD).update(
        status=JobStatus.QUEUED, attempts=0, enqueued_at=None, run_after=None, finished_at=None
    )
    await job.refresh_from_db()
    return job


async def list_jobs(
    *, principal: Principal | None, status: JobStatus | None, first: int | None, after: str | None
) -> Page[Job]:
    require(principal, Role.ADMIN)
    query = Job.all() if status is None else Job.filter(status=status)
    return await paginate(query, ordering=_ORDER, first=first, after=after)


async def pending(kind: str) -> tuple[int, datetime | None]:
    """How many jobs of a kind are queued or running, and when the oldest of them was created."""
    query = Job.filter(kind=kind, status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
    # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
    oldest = cast("list[datetime]", await query.order_by("created_at").limit(1).values_list("created_at", flat=True))
    return await query.count(), (oldest[0] if oldest else None)


@dataclass(frozen=True)
class ReadyKind:
    kind: str
    ready: int  # QUEUED and due
    oldest_ready_at: datetime | None  # when the longest-waiting of them became due (None: none waits)
    running: int = 0  # RUNNING: held by a worker now


async def ready_by_kind() -> list[ReadyKind]:
    """Jobs waiting for a worker (QUEUED, due now) and jobs running, by kind, for the queue gauges: one query on the
    (status, run_after) index. A job became due at its run_after (a retry's backoff, a delayed start), or when
    it was created."""
    rows = await Job._meta.db.execute_query_dict(
        "SELECT kind, count(*) FILTER (WHERE status = 'QUEUED') AS ready,"
        " count(*) FILTER (WHERE status = 'RUNNING') AS running,"
        " min(coalesce(run_after, created_at)) FILTER (WHERE status = 'QUEUED') AS oldest FROM job"
        " WHERE status = 'RUNNING' OR (status = 'QUEUED' AND (run_after IS NULL OR run_after <= now()))"
        " GROUP BY kind"
    )
    return [ReadyKind(row["kind"], int(row["ready"]), row["oldest"], int(row["running"])) for row in rows]


async def dead(kind: str) -> int:
    """How many jobs of a kind gave up (dead-lettered)."""
    return await Job.filter(kind=kind, status=JobStatus.DEAD).count()


async def jobs_for_assets(*, asset_ids: list[int]) -> dict[int, list[Job]]:
    grouped: dict[int, list[Job]] = {}
    for job in await Job.filter(asset_id__in=asset_ids).order_by("id"):
        grouped.setdefault(job.asset_id, []).append(job)
    return grouped


async def get_job(*, principal: Principal | None, id: int) -> Job | None:
    if not allowed(principal, Role.EDITOR):
        return None
    return await Job.get_or_none(id=id)
