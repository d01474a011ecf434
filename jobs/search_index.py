"""index_content: bring one program or episode's search documents in line with PostgreSQL (search/sync.py)."""

from __future__ import annotations

from typing import Any

from jobs.runner import JobDeps
from search.sync import sync_item


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    if deps.search is None:
        return
    noun, _, verb = payload["event"].partition(".")
    # Creating a program cannot change episodes (it has none yet); everything else may.
    await sync_item(deps.search, noun, int(payload["id"]), created=verb == "create")
