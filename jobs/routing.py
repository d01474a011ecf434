"""Which jobs an outbox event causes. The relay creates one job per (event, job kind)."""

from __future__ import annotations

EVENT_JOBS: dict[str, tuple[str, ...]] = {
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

# Jobs that work on an asset: listed on `Asset.jobs` (plugin notifications about an asset are not).
ASSET_JOBS = frozenset({"persist_asset", "process_asset"})
