"""Every core job kind (each declared beside its job) and the relay's routing, derived from those declarations."""

from __future__ import annotations

from cms.core.outbox import Event
from jobs import announce, assets, ingest, plugins, search_index, source_runs
from jobs.runner import JobKind

CORE_KINDS: tuple[JobKind, ...] = (
    assets.PERSIST,
    assets.PROCESS,
    plugins.KIND,  # the plugins' reaction hooks
    announce.LIVE_KIND,  # cms_content_published when a publication goes live
    ingest.POLL_KIND,  # plugin ingest sources (cms_ingest_sources): discover items...
    ingest.ITEM_KIND,  # ...and bring each one in as a draft episode with its media
    source_runs.RUN_KIND,  # a managed source's run (runSource, or its schedule)
    source_runs.PUBLISH_KIND,  # autoPublish: an ingested episode goes live once its media is ready
    search_index.KIND,  # search freshness: every content change re-indexes the item from PostgreSQL
)
KINDS: dict[str, JobKind] = {kind.name: kind for kind in CORE_KINDS}
assert len(KINDS) == len(CORE_KINDS), "two job kinds share a name"

# Which jobs an outbox event causes: the relay creates one job per (event, job kind).
# Keyed by Event, a StrEnum: the outbox row's kind (a str) finds its entry.
EVENT_JOBS: dict[str, tuple[str, ...]] = {
    event: names for event in Event if (names := tuple(k.name for k in CORE_KINDS if event in k.triggers))
}
# Jobs that work on an asset: listed on `Asset.jobs` (plugin notifications about an asset are not).
ASSET_JOBS = frozenset(kind.name for kind in CORE_KINDS if kind.about_asset)
# Media (GPU) work: handed to the media queue (CMS_MEDIA_QUEUE_NAME).
MEDIA_JOBS = frozenset(kind.name for kind in CORE_KINDS if kind.media)
