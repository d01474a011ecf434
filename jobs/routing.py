"""Which jobs an outbox event causes. The relay creates one job per (event, job kind)."""

from __future__ import annotations

from search.service import INDEX_EVENTS, INDEX_JOB

_REACTIONS: dict[str, tuple[str, ...]] = {
    "asset.uploaded": ("persist_asset",),
    "asset.persisted": ("process_asset",),
    # Plugin reactions (cms.hookspecs): run after the change committed, at least once.
    "program.publish": ("notify_plugins",),
    "episode.publish": ("notify_plugins",),
    "program.unpublish": ("notify_plugins",),
    "episode.unpublish": ("notify_plugins",),
    "asset.ready": ("notify_plugins",),
    "comment.add": ("notify_plugins",),
}
# Search freshness: every content change also re-indexes the item from PostgreSQL (jobs/search_index.py).
EVENT_JOBS: dict[str, tuple[str, ...]] = {
    event: (*_REACTIONS.get(event, ()), *((INDEX_JOB,) if event in INDEX_EVENTS else ()))
    for event in (*_REACTIONS, *INDEX_EVENTS)
}

# Jobs that work on an asset: listed on `Asset.jobs` (plugin notifications about an asset are not).
ASSET_JOBS = frozenset({"persist_asset", "process_asset"})
