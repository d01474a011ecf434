"""Every job kind the worker runs."""

from __future__ import annotations

from datetime import timedelta

from jobs import persist
from jobs.runner import JobKind

KINDS: dict[str, JobKind] = {
    "persist_asset": JobKind(run=persist.run, on_dead=persist.on_dead, timeout=timedelta(hours=2)),
}
