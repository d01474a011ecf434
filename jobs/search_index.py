"""index_content: bring one program or episode's search documents in line with PostgreSQL (search/sync.py), and
how far the index lags behind the content changes not yet applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cms.content.visibility import now
from cms.core import outbox
from cms.core.outbox import Event
from jobs.runner import JobDeps, JobKind
from jobs.store import service as jobstore
from search.sync import sync_document_asset, sync_item

# Content events that change what the index holds.
INDEX_EVENTS = tuple(
    Event(f"{noun}.{verb}")
    for noun in ("program", "episode")
    for verb in ("create", "update", "delete", "publish", "unpublish")
)
# Asset events that change an episode's document: a ready PDF brings its text (the episode's attachments). Every
# asset's readiness makes a job; for anything but a document attached to an episode it reads one row and stops.
ASSET_INDEX_EVENTS = (Event.ASSET_READY,)


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    if deps.search is None:
        return
    if payload["event"] in ASSET_INDEX_EVENTS:
        await sync_document_asset(deps.search, int(payload["asset_id"]))
        return
    noun, _, verb = payload["event"].partition(".")
    # Creating a program cannot change episodes (it has none yet); everything else may.
    await sync_item(deps.search, noun, int(payload["id"]), created=verb == "create")


KIND = JobKind(name="index_content", run=run, timeout=timedelta(minutes=30), triggers=INDEX_EVENTS + ASSET_INDEX_EVENTS)


@dataclass(frozen=True)
class IndexLag:
    pending_changes: int  # content changes recorded but not yet applied to the index
    lag_seconds: float  # age of the oldest of those; 0 when the index is current
    failed_jobs: int  # index jobs that gave up (dead-lettered): retry them from `jobs`


async def index_lag() -> IndexLag:
    """From the outbox (changes not relayed yet) and the job table (index jobs queued, running or dead)."""
    unrelayed, oldest_event = await outbox.unrelayed(KIND.triggers)
    pending, oldest_job = await jobstore.pending(KIND.name)
    oldest = [at for at in (oldest_event, oldest_job) if at is not None]
    lag = (now() - min(oldest)).total_seconds() if oldest else 0.0
    return IndexLag(
        pending_changes=unrelayed + pending, lag_seconds=max(lag, 0.0), failed_jobs=await jobstore.dead(KIND.name)
    )
