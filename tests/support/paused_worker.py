"""`cms worker`, with a pause injected into the persist job (or a source's run) so that a test can SIGKILL it at a
known point (process_asset, the job persisting queues, runs unpaused).

    CMS_TEST_PAUSE_AT=start|after_promote CMS_TEST_PAUSE_FILE=/tmp/x python -m tests.support.paused_worker

At the pause point the worker writes the point's name to CMS_TEST_PAUSE_FILE and waits (its lease heartbeat
keeps running, as in a long job). Everything else is the real CLI, worker, runner and intake code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from cms import cli
from cms.media import intake
from jobs import assets, source_runs
from jobs.kinds import KINDS
from jobs.runner import JobDeps

POINTS = ("start", "after_promote", "ingest_run")


async def _pause(point: str) -> None:
    Path(os.environ["CMS_TEST_PAUSE_FILE"]).write_text(point)
    await asyncio.sleep(3600)


def install(point: str) -> None:
    if point == "start":  # claimed (RUNNING, attempt 1), nothing done yet

        async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
            await _pause(point)
            await assets.persist(deps, payload)

        KINDS["persist_asset"] = dataclasses.replace(KINDS["persist_asset"], run=run)
    elif point == "after_promote":  # the master is written and staging dropped; not yet marked persisted
        mark_persisted = intake._mark_persisted

        async def paused_mark_persisted(*args: Any, **kwargs: Any) -> None:
            await _pause(point)
            await mark_persisted(*args, **kwargs)

        intake._mark_persisted = paused_mark_persisted
    elif point == "ingest_run":  # a source's run has sorted its first item (one item job queued), not the rest
        sort = source_runs._sort
        calls = 0

        async def paused_sort(*args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                await _pause(point)
            await sort(*args, **kwargs)

        source_runs._sort = paused_sort  # type: ignore[assignment]
    else:
        raise SystemExit(f"CMS_TEST_PAUSE_AT must be one of {POINTS}")


if __name__ == "__main__":
    install(os.environ["CMS_TEST_PAUSE_AT"])
    sys.exit(cli.main(["worker"]))
