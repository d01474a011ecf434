"""Relay and sweeper: outbox events become job rows; due job rows are handed to Redis; lost ones come back.

Runs as a background task in every worker. Several dispatchers may run at once: the outbox is read with
FOR UPDATE SKIP LOCKED and job creation is idempotent, and running a job twice is prevented by `claim`.
Media jobs (JobKind.media) go to the media queue (CMS_MEDIA_QUEUE_NAME), every other job to the main queue, so
GPU workers consuming the media queue run transcodes and nothing else; with one queue for both nothing differs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from opentelemetry.instrumentation.utils import suppress_instrumentation
from tortoise.transactions import in_transaction

from cms.core.outbox import OutboxEvent
from jobs import metrics
from jobs.kinds import ASSET_JOBS, EVENT_JOBS, KINDS, MEDIA_JOBS
from jobs.runner import JobDeps
from jobs.store import service as jobstore
from jobs.store.models import JobStatus
from jobs.store.service import NewJob

log = logging.getLogger("cms.jobs.dispatcher")
RUN_JOB = "run_job"


async def relay_outbox(*, max_attempts: int, batch: int = 200) -> int:
    """Turn unrelayed outbox events into job rows, in one transaction per batch; returns events relayed."""
    async with in_transaction() as conn:
        events = (
            await OutboxEvent.filter(relayed_at__isnull=True)
            .order_by("id")
            .limit(batch)
            .select_for_update(skip_locked=True)
            .using_db(conn)
        )
        if not events:
            return 0
        jobs = [
            NewJob(
                kind=kind,
                payload={**event.payload, "event": event.kind},
                dedupe_key=f"event:{event.id}:{kind}",
                asset_id=event.payload.get("asset_id") if kind in ASSET_JOBS else None,
                context=event.context,  # the job's span continues the request's trace
            )
            for event in events
            for kind in EVENT_JOBS.get(event.kind, ())
        ]
        await jobstore.create_jobs(jobs, max_attempts=max_attempts)
        await conn.execute_query(
            "UPDATE outbox_event SET relayed_at = now() WHERE id = ANY($1::bigint[])", [[e.id for e in events]]
        )
    return len(events)


def queue_for(kind: str, *, queue_name: str, media_queue_name: str | None) -> str:
    """The queue a job of `kind` is handed to."""
    return media_queue_name if media_queue_name and kind in MEDIA_JOBS else queue_name


async def enqueue_due(
    redis: ArqRedis, *, requeue_after: timedelta, queue_name: str, media_queue_name: str | None = None
) -> int:
    """Hand due jobs to their queue: those never sent, and those sent longer than `requeue_after` ago that are no
    longer waiting in Redis (Redis lost them, or a worker took one and died before claiming it). Returns jobs sent."""
    sent = 0
    for job in await jobstore.due_for_enqueue(requeue_after=requeue_after):
        queue = queue_for(job.kind, queue_name=queue_name, media_queue_name=media_queue_name)
        # One arq id per attempt (a claim counts an attempt): a job still waiting in the queue is never added twice,
        # however long a backlog waits (re-sending it would multiply the queue under load), while a retry or a job
        # taken back from a lost worker goes out under a new id. arq's keys are global to a Redis: the creation time
        # keeps ids apart across databases sharing one (a job id alone repeats after a database is reset).
        arq_id = f"cms-job:{job.id}.{int(job.created_at.timestamp() * 1_000_000)}:{job.attempts}"
        if await redis.zscore(queue, arq_id) is not None:
            await jobstore.mark_enqueued(job.id)  # still waiting its turn: look again after requeue_after
            continue
        if await redis.exists(in_progress_key_prefix + arq_id):
            continue  # a worker is taking it right now: its claim decides, PostgreSQL tells the next round
        # What is left of an earlier hand-over of this attempt (its result, kept a minute, after a run that found
        # nothing to do; an admin's retry starting the attempts again) would make arq refuse the id.
        await redis.delete(job_key_prefix + arq_id, result_key_prefix + arq_id)
        await redis.enqueue_job(RUN_JOB, job.id, _job_id=arq_id, _queue_name=queue)
        await jobstore.mark_enqueued(job.id)
        sent += 1
    return sent


async def dispatch_once(
    redis: ArqRedis,
    *,
    max_attempts: int,
    requeue_after: timedelta,
    queue_name: str,
    media_queue_name: str | None = None,
    deps: JobDeps | None = None,
) -> None:
    while await relay_outbox(max_attempts=max_attempts):
        pass
    for job in await jobstore.reclaim_expired_leases():
        log.warning("job %s (%s) lost its worker; now %s", job.id, job.kind, job.status.value)
        dead = job.status == JobStatus.DEAD
        metrics.job_finished(job.kind, metrics.DEAD if dead else metrics.RETRY)  # that attempt's outcome
        kind = KINDS.get(job.kind)
        if dead and deps is not None and kind is not None and kind.on_dead is not None:
            await kind.on_dead(deps, job.payload, job.last_error or "worker lost")  # as the runner does
    await enqueue_due(redis, requeue_after=requeue_after, queue_name=queue_name, media_queue_name=media_queue_name)


async def run_dispatcher(
    redis: ArqRedis,
    *,
    max_attempts: int,
    requeue_after: timedelta,
    queue_name: str,
    poll_seconds: float,
    media_queue_name: str | None = None,
    deps: JobDeps | None = None,
) -> None:
    """Loop until cancelled; errors (database or Redis briefly down) are logged and retried next round.

    Rounds run without SQL and Redis spans: with tracing on, a poll every CMS_JOB_POLL_SECONDS would be a steady
    stream of root traces. The trace context a job continues is data (copied from the outbox row onto the job row),
    which suppression does not touch."""
    while True:
        try:
            with suppress_instrumentation():
                await dispatch_once(
                    redis,
                    max_attempts=max_attempts,
                    requeue_after=requeue_after,
                    queue_name=queue_name,
                    media_queue_name=media_queue_name,
                    deps=deps,
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep dispatching whatever one round hit
            log.exception("dispatch round failed; retrying")
        await asyncio.sleep(poll_seconds)
