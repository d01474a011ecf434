"""Which jobs an outbox event causes. The relay creates one job per (event, job kind)."""

from __future__ import annotations

EVENT_JOBS: dict[str, tuple[str, ...]] = {
    "asset.uploaded": ("persist_asset",),
    "asset.persisted": ("process_asset",),
}
