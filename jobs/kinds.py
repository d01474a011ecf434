"""Every job kind the worker runs."""

from __future__ import annotations

from datetime import timedelta

from jobs import persist, plugin_events, process
from jobs.runner import JobKind

KINDS: dict[str, JobKind] = {
    "persist_asset": JobKind(run=persist.run, on_dead=persist.on_dead, timeout=timedelta(hours=2)),
    # The child process has its own time limit (CMS_TRANSCODE_TIMEOUT_SECONDS); this one only backstops it.
    "process_asset": JobKind(run=process.run, on_dead=process.on_dead, timeout=timedelta(hours=6)),
    "notify_plugins": JobKind(run=plugin_events.run, timeout=timedelta(minutes=5)),
}
