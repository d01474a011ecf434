"""Every job kind the worker runs."""

from __future__ import annotations

from datetime import timedelta

from jobs import announce, ingest, persist, plugin_events, process, search_index
from jobs.runner import JobKind
from search.service import INDEX_JOB

KINDS: dict[str, JobKind] = {
    "persist_asset": JobKind(run=persist.run, on_dead=persist.on_dead, timeout=timedelta(hours=2)),
    # The child process has its own time limit (CMS_TRANSCODE_TIMEOUT_SECONDS); this one only backstops it.
    "process_asset": JobKind(run=process.run, on_dead=process.on_dead, timeout=timedelta(hours=6)),
    "notify_plugins": JobKind(run=plugin_events.run, timeout=timedelta(minutes=5)),
    announce.KIND: announce.LIVE_KIND,  # cms_content_published when a publication goes live
    ingest.POLL: ingest.POLL_KIND,  # plugin ingest sources (cms_ingest_sources): discover items...
    ingest.ITEM: ingest.ITEM_KIND,  # ...and bring each one in as a draft episode with its media
    INDEX_JOB: JobKind(run=search_index.run, timeout=timedelta(minutes=30)),
}
