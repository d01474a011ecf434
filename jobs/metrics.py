"""Job, queue and pipeline metrics (prometheus_client's default registry; names are a contract: the Grafana dashboard
and the KEDA ScaledObject read them, docs/operations.md lists them).

Counters and histograms are updated where the work happens (the runner, the dispatcher's sweeper, the media and
ingest jobs). Gauges read from PostgreSQL (queue depth, outbox lag, search index lag) are refreshed by a loop in each
worker every few seconds, never per scrape, with cheap indexed queries. Every worker reports the same database-wide
values: aggregate them with max(), not sum(). No label names a user, an asset or a source id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import Counter, Gauge, Histogram

from cms.core import outbox
from jobs.store import service as jobstore

log = logging.getLogger("cms.jobs.metrics")

# Outcomes of one attempt: it succeeded, failed and will be retried, gave up (dead letter), or was not run because
# another worker holds it or it is no longer queued.
SUCCEEDED, RETRY, DEAD, SKIPPED = "succeeded", "retry", "dead", "skipped"
REFRESH_EVERY = timedelta(seconds=5)

JOBS = Counter("cms_jobs", "Job attempts by kind and outcome (succeeded, retry, dead, skipped).", ["kind", "outcome"])
JOB_DURATION = Histogram(
    "cms_job_duration_seconds",
    "Time one job attempt ran, whatever its outcome.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
JOB_RETRIES = Counter("cms_job_retries", "Failed attempts queued again with backoff.", ["kind"])
JOB_DEAD_LETTERS = Counter("cms_job_dead_letters", "Jobs that gave up (dead-lettered).", ["kind"])
QUEUE_DEPTH = Gauge("cms_queue_depth", "Jobs ready to run (QUEUED and due) by the queue they go to.", ["queue"])
QUEUE_RUNNING = Gauge(
    "cms_queue_running", "Jobs running now (held by a worker) by the queue they came from.", ["queue"]
)
QUEUE_OLDEST = Gauge(
    "cms_queue_oldest_ready_age_seconds", "How long the longest-waiting ready job of the queue has waited.", ["queue"]
)
OUTBOX_LAG = Gauge("cms_outbox_lag_seconds", "Age of the oldest outbox event not yet relayed (0 when none).")
OUTBOX_UNRELAYED = Gauge("cms_outbox_unrelayed", "Outbox events not yet relayed into jobs.")
SEARCH_INDEX_LAG = Gauge(
    "cms_search_index_lag_seconds",
    "How far the search index is behind content changes: age of the oldest change not yet indexed (0 when current).",
)
# Speed of one encode: seconds of media per second of work (1.0 = realtime), and frames encoded per second.
# `rung` is a ladder rung (1080p, 720p, ...) timed on its own encoder, or "ladder" for the whole pass (decode and
# every rung together, wall time); `encoder` is the FFmpeg encoder (libx264, h264_nvenc: CPU or GPU).
TRANSCODE_REALTIME = Histogram(
    "cms_transcode_realtime_factor",
    "Transcode speed as a multiple of realtime, by rung and encoder.",
    ["rung", "encoder"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
)
TRANSCODE_FPS = Histogram(
    "cms_transcode_fps",
    "Frames encoded per second, by rung and encoder.",
    ["rung", "encoder"],
    buckets=(5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200),
)
INGEST_ITEMS = Counter(
    "cms_ingest_items",
    "Ingest items by source kind (rss, youtube, telegram, ...) and outcome (new, updated, unchanged, failed when a "
    "run sorts them; imported when an item's episode and media were brought in).",
    ["source", "outcome"],
)


def job_finished(kind: str, outcome: str, seconds: float | None = None) -> None:
    """Count one attempt's outcome (and its duration, when it ran)."""
    JOBS.labels(kind, outcome).inc()
    if outcome == RETRY:
        JOB_RETRIES.labels(kind).inc()
    elif outcome == DEAD:
        JOB_DEAD_LETTERS.labels(kind).inc()
    if seconds is not None:
        JOB_DURATION.labels(kind).observe(seconds)


def transcode_speed(rung: str, encoder: str, *, media_seconds: float, frames: int, work_seconds: float) -> None:
    if work_seconds > 0 and media_seconds > 0:
        TRANSCODE_REALTIME.labels(rung, encoder).observe(media_seconds / work_seconds)
        if frames:
            TRANSCODE_FPS.labels(rung, encoder).observe(frames / work_seconds)


def ingest_items(source: str, counts: Mapping[str, int]) -> None:
    for outcome, count in counts.items():
        if count:
            INGEST_ITEMS.labels(source, outcome).inc(count)


def _age(at: datetime | None, now: datetime) -> float:
    return max((now - at).total_seconds(), 0.0) if at is not None else 0.0


async def refresh_gauges(*, main_queue: str, media_queue: str, media_kinds: Iterable[str]) -> None:
    """Read the database-backed gauges once: ready jobs by queue (a kind's queue as the dispatcher picks it),
    the outbox backlog and the search index lag."""
    media = frozenset(media_kinds)
    now = datetime.now(UTC)
    depth = {main_queue: 0, media_queue: 0}
    running = {main_queue: 0, media_queue: 0}
    oldest: dict[str, datetime | None] = {main_queue: None, media_queue: None}
    for ready in await jobstore.ready_by_kind():
        queue = media_queue if ready.kind in media else main_queue
        depth[queue] += ready.ready
        running[queue] += ready.running
        current, since = oldest[queue], ready.oldest_ready_at
        oldest[queue] = since if current is None else current if since is None else min(current, since)
    for queue, count in depth.items():
        QUEUE_DEPTH.labels(queue).set(count)
        QUEUE_RUNNING.labels(queue).set(running[queue])
        QUEUE_OLDEST.labels(queue).set(_age(oldest[queue], now))
    unrelayed, oldest_event = await outbox.backlog()
    OUTBOX_UNRELAYED.set(unrelayed)
    OUTBOX_LAG.set(_age(oldest_event, now))
    from jobs.search_index import index_lag  # here: job modules import the runner, which imports this module

    SEARCH_INDEX_LAG.set((await index_lag()).lag_seconds)


async def run_gauges(
    *, main_queue: str, media_queue: str, media_kinds: Iterable[str], every: timedelta = REFRESH_EVERY
) -> None:
    """Refresh the gauges until cancelled; a failed round (database away) keeps the last values and is logged.
    Rounds run without SQL spans: with tracing on, a poll every few seconds would be a steady stream of root traces."""
    kinds = frozenset(media_kinds)
    while True:
        try:
            with suppress_instrumentation():
                await refresh_gauges(main_queue=main_queue, media_queue=media_queue, media_kinds=kinds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - metrics must never stop the worker
            log.warning("refreshing job metrics failed: %s", exc)
        await asyncio.sleep(every.total_seconds())
