"""Managed ingest sources in the worker: runs (`ingest_run`), the schedule, and publishing once media is ready.

A run asks the source's plugin to discover items, then per item (keyed by the source and the item's external id):
a new one gets an `ingest_item` job (the draft episode and its media through the normal intake), a changed one
updates its episode, an unchanged one is skipped; episodes whose items upstream no longer lists are reported, not
deleted. At most one run of a source is alive at a time (cms.ingest.runs); every step is idempotent, so a run cut
short by a crash is simply run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from cms.content import episodes
from cms.content.models import Episode
from cms.content.visibility import now
from cms.core.errors import DomainError
from cms.core.outbox import Event
from cms.ingest import publishing, registry, runs
from cms.ingest.actors import source_actor
from cms.ingest.models import Source, SourceRun
from cms.media.models import AssetStatus
from jobs import metrics
from jobs.ingest import ITEM, external_id_of, item_key, sources_of
from jobs.runner import JobDeps, JobKind
from jobs.store import service as jobstore
from jobs.store.models import Job, JobStatus

log = logging.getLogger("cms.jobs.ingest")

RUN = "ingest_run"
PUBLISH = "ingest_publish"
BEAT_EVERY = timedelta(seconds=30)
SCAN_EVERY = timedelta(seconds=15)  # how late a scheduled run may start, at most (plus a dispatch)
_WAITING = (AssetStatus.UPLOADING, AssetStatus.PROCESSING)


async def run_source(deps: JobDeps, payload: dict[str, Any]) -> None:
    """One run of the source `payload["id"]` (an editor's runSource, or its schedule)."""
    trigger = "manual" if payload.get("event") == Event.SOURCE_RUN else str(payload.get("trigger", "schedule"))
    # A run in progress (RunInProgress) fails this attempt: the job is retried with backoff, and takes over once
    # that run finished or its worker stopped beating (a crash mid-run).
    started = await runs.start(int(payload["id"]), trigger=trigger)
    if started is None:
        log.info("source %s is gone; nothing to run", payload["id"])
        return
    source, run = started
    tally = runs.Tally()
    async with _heartbeat(run):
        try:
            state = await _discover_and_sort(deps, source, tally)
        except Exception as exc:  # noqa: BLE001 - the run's outcome is recorded; the schedule tries again
            log.warning("source %s (%s) run %s failed: %s", source.id, source.kind, run.id, exc, exc_info=True)
            _count(source, tally)
            await runs.fail(run, tally, _reason(exc))
            return
    _count(source, tally)
    await runs.finish(run, tally, state=state)
    log.info("source %s run %s: %s", source.id, run.id, tally)


def _count(source: Source, tally: runs.Tally) -> None:
    """The items a run sorted, by the source's plugin kind (never its id: one series per kind and outcome)."""
    outcomes = {"new": tally.created, "updated": tally.updated, "unchanged": tally.skipped, "failed": tally.failed}
    metrics.ingest_items(source.kind, outcomes)


async def _discover_and_sort(deps: JobDeps, source: Source, tally: runs.Tally) -> dict[str, Any] | None:
    plugin = sources_of(deps).get(source.kind)
    if plugin is None:
        raise RuntimeError(f"the {source.kind!r} ingest source is not installed in this worker")
    config = {**source.config, **source.secrets}
    state = dict(source.state) if registry.takes_state(plugin) else None
    if state is not None:
        found = await registry.call(plugin.discover, config, state=state)
    else:
        found = await registry.call(plugin.discover, config)
    if found is None:  # not modified since the last run: nothing to sort, and nothing is gone
        return state
    seen: set[str] = set()
    actor = await source_actor(source.kind)
    for item in found:
        tally.found += 1
        external_id = external_id_of(item)
        if external_id is None:
            tally.failed += 1
            tally.problem(str(item.get("external_id", "?")) if isinstance(item, dict) else "?", "no usable external_id")
            continue
        if external_id in seen:
            tally.skipped += 1
            continue
        seen.add(external_id)
        try:
            await _sort(deps, source, actor, external_id, dict(item), tally)
        except DomainError as exc:  # this item's text or payload is unusable: the others still come in
            tally.failed += 1
            tally.problem(external_id, exc.message)
    if not getattr(plugin, "incremental", False):  # a source listing only what is new cannot tell what is gone
        await _report_gone(source, seen, tally)
    return state


async def _sort(
    deps: JobDeps, source: Source, actor: Any, external_id: str, item: dict[str, Any], tally: runs.Tally
) -> None:
    episode = await Episode.get_or_none(source=source.provenance, external_id=external_id)
    if episode is None:
        key = item_key(source.provenance, external_id)
        earlier = await Job.get_or_none(dedupe_key=key)
        if earlier is None:
            await jobstore.enqueue(
                ITEM,
                {"source": source.provenance, "kind": source.kind, "program_id": source.program_id, "item": item},
                dedupe_key=key,  # a run racing this one finds this job: the item is not brought in twice
                max_attempts=deps.settings.job_max_attempts,
            )
            tally.created += 1
        elif earlier.status == JobStatus.DEAD:
            tally.failed += 1
            tally.problem(
                external_id, f"could not be brought in: {earlier.last_error or 'failed'} (retryJob retries it)"
            )
        else:
            tally.skipped += 1  # an earlier run's item job is still bringing it in
    elif await episodes.refresh_from_source(actor=actor, episode=episode, item=item):
        tally.updated += 1
    else:
        tally.skipped += 1


async def _report_gone(source: Source, seen: set[str], tally: runs.Tally) -> None:
    gone = await (
        Episode.filter(source=source.provenance)
        .exclude(external_id__in=list(seen))
        .order_by("-created_at")
        .values_list("external_id", flat=True)
    )
    tally.gone = len(gone)
    for external_id in gone:
        tally.problem(str(external_id), "no longer listed upstream (the episode is kept)")


@contextlib.asynccontextmanager
async def _heartbeat(run: SourceRun) -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            await asyncio.sleep(BEAT_EVERY.total_seconds())
            await runs.beat(run)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def publish_when_ready(deps: JobDeps, payload: dict[str, Any]) -> None:
    """`ingest_publish`: the rules are cms.ingest.publishing's."""
    await publishing.publish_when_ready(payload.get("asset_id"))


async def schedule_due() -> int:
    """Queue a run for each scheduled source whose time has come (one job per source and slot)."""
    claimed = await runs.due_sources(now())
    for source_id, slot in claimed:
        await jobstore.enqueue(
            RUN, {"id": source_id, "trigger": "schedule"}, dedupe_key=f"source-run:{source_id}:{slot.isoformat()}"
        )
    return len(claimed)


RUN_KIND = JobKind(name=RUN, run=run_source, timeout=timedelta(hours=1), triggers=(Event.SOURCE_RUN,))
PUBLISH_KIND = JobKind(
    name=PUBLISH, run=publish_when_ready, timeout=timedelta(minutes=5), triggers=(Event.ASSET_READY,)
)
