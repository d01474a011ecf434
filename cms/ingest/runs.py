"""A source's runs: started at most one at a time, kept alive by a heartbeat, finished with what they found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from cms.content.visibility import now
from cms.ingest.models import RunStatus, Source, SourceRun
from cms.ingest.sources import HEARTBEAT_STALE

PROBLEMS_KEPT = 200  # per run: the first ones are enough to act on


@dataclass
class Tally:
    """What a run did with the items it found."""

    found: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    def problem(self, external_id: str, reason: str) -> None:
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append({"external_id": external_id, "reason": reason[:500]})


class RunInProgress(Exception):
    """Another run of the source is alive: this one waits (its job is retried later)."""


async def start(source_id: int, *, trigger: str) -> tuple[Source, SourceRun] | None:
    """A new RUNNING run of the source, or None when the source is gone; RunInProgress while another run is alive.
    A run whose worker stopped beating is marked FAILED first, so a crash never blocks the source for good."""
    async with in_transaction():
        source = await Source.select_for_update().get_or_none(id=source_id)
        if source is None:
            return None
        cutoff = now() - HEARTBEAT_STALE
        stale = SourceRun.filter(source_id=source_id, status=RunStatus.RUNNING)
        if await stale.filter(heartbeat_at__gte=cutoff).exists():
            raise RunInProgress(f"a run of source {source_id} is in progress")
        await stale.update(status=RunStatus.FAILED, finished_at=now(), error="the worker running it stopped")
        run = await SourceRun.create(source=source, trigger=trigger)
    return source, run


async def beat(run: SourceRun) -> None:
    await SourceRun.filter(id=run.id, status=RunStatus.RUNNING).update(heartbeat_at=now())


async def finish(run: SourceRun, tally: Tally, *, state: dict[str, Any] | None) -> None:
    async with in_transaction():
        await SourceRun.filter(id=run.id).update(
            status=RunStatus.SUCCEEDED,
            finished_at=now(),
            found=tally.found,
            created=tally.created,
            updated=tally.updated,
            skipped=tally.skipped,
            failed=tally.failed,
            gone=tally.gone,
            problems=tally.problems,
        )
        if state is not None:
            await Source.filter(id=run.source_id).update(state=state)


async def fail(run: SourceRun, tally: Tally, error: str) -> None:
    await SourceRun.filter(id=run.id).update(
        status=RunStatus.FAILED,
        finished_at=now(),
        found=tally.found,
        created=tally.created,
        updated=tally.updated,
        skipped=tally.skipped,
        failed=tally.failed,
        problems=tally.problems,
        error=error[:2000],
    )


async def due_sources(at: datetime) -> list[tuple[int, datetime]]:
    """Claim the enabled, scheduled sources whose time has come: (id, the run time it was due at), each moved on
    to its next run in the same transaction, so two workers never claim one slot."""
    claimed = []
    async with in_transaction() as conn:
        due = (
            await Source.filter(enabled=True, schedule_minutes__isnull=False, next_run_at__lte=at)
            .select_for_update(skip_locked=True)
            .using_db(conn)
        )
        for source in due:
            assert source.next_run_at is not None and source.schedule_minutes is not None  # the filter says so
            claimed.append((source.id, source.next_run_at))
            every = timedelta(minutes=source.schedule_minutes)
            upcoming = source.next_run_at + every
            source.next_run_at = upcoming if upcoming > at else at + every  # after downtime: one run, not a backlog
            await source.save(using_db=conn, update_fields=["next_run_at"])
    return claimed
