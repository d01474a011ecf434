"""The relay's routing is derived from the job kinds' declarations: check the flow it gives, and that a typo in a
declaration fails at import time instead of routing nothing."""

from __future__ import annotations

import pytest

from cms.core.outbox import Event
from jobs.kinds import ASSET_JOBS, EVENT_JOBS, KINDS
from jobs.runner import JobKind


async def _noop(deps: object, payload: object) -> None:
    return None


def test_media_intake_chain_and_content_events_route_to_their_jobs() -> None:
    assert EVENT_JOBS[Event.ASSET_UPLOADED] == ("persist_asset",)
    assert EVENT_JOBS[Event.ASSET_PERSISTED] == ("process_asset",)
    # A ready document brings its text to its episode's search document.
    assert EVENT_JOBS[Event.ASSET_READY] == ("notify_plugins", "ingest_publish", "index_content")
    assert EVENT_JOBS[Event.SOURCE_RUN] == ("ingest_run",)
    for noun in ("program", "episode"):
        for verb in ("create", "update", "delete"):
            assert EVENT_JOBS[Event(f"{noun}.{verb}")] == ("index_content",)
        for verb in ("publish", "unpublish"):
            assert EVENT_JOBS[Event(f"{noun}.{verb}")] == ("notify_plugins", "index_content")
    assert Event.ASSET_FAILED not in EVENT_JOBS and Event.UPLOAD_CREATE not in EVENT_JOBS
    assert ASSET_JOBS == {"persist_asset", "process_asset"}
    assert all(name in KINDS for names in EVENT_JOBS.values() for name in names)


def test_a_trigger_that_is_not_an_event_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="asset.uploadd"):
        JobKind(name="typo", run=_noop, triggers=("asset.uploadd",))  # type: ignore[arg-type]  # the typo under test
    assert JobKind(name="ok", run=_noop, triggers=("asset.uploaded",)).triggers == (Event.ASSET_UPLOADED,)  # type: ignore[arg-type]
