"""Announcing publications when they go live: `cms_content_published` once per publication, at its time.

A publication is (kind, id, publish_at). Its announcement is one `announce_live` job whose dedupe key is
`live:<kind>:<id>:<publish_at in UTC, to the microsecond>`, so it exists at most once whoever creates it:

- the publish event's `notify_plugins` job creates it (and runs it at once) when the item is already public,
  which is the immediate publish;
- a scan, run periodically in every worker, creates it for every item whose publish time has passed within
  `LOOKBACK` and that has none yet: scheduled publishes, and anything missed while no worker ran (catch-up).

Whichever comes first wins; the other finds the key taken. A publication withdrawn (unpublished) or moved
(rescheduled, which changes `publish_at` and so the key) before its time never gets a job for the old time, and
the job itself checks once more that its publication is still the item's current one before announcing.
Neither path can miss a publication: if the publish event's job found the item not public yet, the row was
committed before that, and every scan that starts after its publish time sees it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cms.content.models import Episode, Program
from cms.content.visibility import is_public
from jobs.runner import JobDeps, JobKind, run_job
from jobs.store import service as jobstore

log = logging.getLogger("cms.jobs.announce")

KIND = "announce_live"

LOOKBACK = timedelta(days=3)  # how far back a scan looks: catch-up after worker downtime up to this long
SCAN_EVERY = timedelta(seconds=5)  # how late a scheduled publication may be announced, at most (plus a dispatch)
_MODELS: dict[str, type[Program] | type[Episode]] = {"program": Program, "episode": Episode}
_PG_STAMP = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'  # the same text as stamp() below, made by PostgreSQL


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def live_key(kind: str, id: int, publish_at: datetime) -> str:
    return f"live:{kind}:{id}:{stamp(publish_at)}"


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    """The announce_live job: tell the plugins, if the publication is still the item's current one."""
    kind, item_id = payload["kind"], int(payload["id"])
    item = await _MODELS[kind].get_or_none(id=item_id)
    # A public item has a publish time.
    if item is None or not is_public(item) or stamp(cast(datetime, item.publish_at)) != payload["publish_at"]:
        log.info("%s %s: publication of %s withdrawn or moved; not announced", kind, item_id, payload["publish_at"])
        return
    if deps.plugins is not None:
        await deps.plugins.acall("cms_content_published", kind=kind, id=str(item_id))


LIVE_KIND = JobKind(name=KIND, run=run, timeout=timedelta(minutes=5))


async def announce_if_live(deps: JobDeps, *, kind: str, id: int) -> None:
    """For a publish event: when the item is public now, announce it (once, whoever else tries); when it is
    scheduled for later, leave it to the scan."""
    item = await _MODELS[kind].get_or_none(id=id)
    if item is None or not is_public(item):
        return
    assert item.publish_at is not None  # a public item has a publish time
    job = await jobstore.enqueue(
        KIND,
        {"kind": kind, "id": item.id, "publish_at": stamp(item.publish_at)},
        dedupe_key=live_key(kind, item.id, item.publish_at),
        max_attempts=deps.settings.job_max_attempts,
    )
    # Now rather than on a later dispatch round; claiming it makes this a no-op when it ran or runs elsewhere,
    # and a failure here is retried by the job machinery like any job's.
    await run_job(job.id, deps=deps, kinds={KIND: LIVE_KIND})


async def announce_due(*, max_attempts: int, lookback: timedelta = LOOKBACK) -> int:
    """One scan: an announce_live job for every publication whose time has come and that has none; returns how
    many were created. Safe to run in several workers at once (the dedupe key decides)."""
    created = 0
    for kind in _MODELS:
        # The jobs announce_if_live would create for these rows: the same payload and key (live_key), made by SQL.
        rows = f"""
            SELECT $1::text AS kind, jsonb_build_object('kind', $2::text, 'id', t.id, 'publish_at', t.stamp) AS payload,
                   'live:' || $2 || ':' || t.id || ':' || t.stamp AS dedupe_key, $3::int AS max_attempts
            FROM (
                SELECT id, to_char(publish_at AT TIME ZONE 'UTC', '{_PG_STAMP}') AS stamp FROM {kind}
                WHERE status = 'PUBLISHED' AND publish_at <= now() AND publish_at > now() - $4::interval
            ) t
        """
        # Already announced or being announced (by a scan or the publish event's job): the dedupe key decides.
        created += await jobstore.insert_selected(rows, [KIND, kind, max_attempts, lookback])
    if created:
        log.info("%d publications went live; announcing them", created)
    return created
