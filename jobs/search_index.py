"""index_content: bring one program or episode's search documents in line with PostgreSQL.

The job reads the current rows rather than trusting the event, so running it twice, late or out of order
converges on the same index. Jobs touching the same program are serialised with an advisory lock: a job that
read older rows can never write after one that read newer rows.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from cms import events
from cms.content.models import Episode
from jobs.runner import JobDeps
from search import documents
from search.backend import DocKind, SearchBackend


_LOCK_NAMESPACE = 0x5EA4C4  # first key of pg_advisory_xact_lock(int, int): keeps clear of other lock users


async def _sync_program(backend: SearchBackend, program_id: int, *, with_episodes: bool) -> None:
    found = await documents.program_documents(program_id)
    if found is None:
        # Deleting a program deletes its episodes; each has its own episode.delete event and job.
        await backend.delete(DocKind.PROGRAM, [program_id])
        return
    await backend.upsert(found)
    if with_episodes:  # their visibility, category, tags and program title follow the program
        async for batch in documents.episode_documents_of_program(program_id):
            await backend.upsert(batch)


async def _sync_episode(backend: SearchBackend, episode_id: int) -> None:
    found = await documents.episode_document_by_id(episode_id)
    if found is None:
        await backend.delete(DocKind.EPISODE, [episode_id])
    else:
        await backend.upsert([found])


async def _program_of_episode(episode_id: int) -> int | None:
    rows = await Episode.filter(id=episode_id).values_list("program_id", flat=True)
    return rows[0] if rows else None


async def run(deps: JobDeps, payload: dict[str, Any]) -> None:
    if deps.search is None:
        return
    noun, _, verb = payload["event"].partition(".")
    item_id = int(payload["id"])
    async with in_transaction() as conn:
        lock_on = item_id if noun == "program" else (await _program_of_episode(item_id) or 0)
        await conn.execute_query("SELECT pg_advisory_xact_lock($1, $2)", [_LOCK_NAMESPACE, lock_on % 2**31])
        if noun == "program":
            # Creating a program cannot change episodes (it has none yet); everything else may.
            await _sync_program(deps.search, item_id, with_episodes=verb != "create")
        else:
            await _sync_episode(deps.search, item_id)
        await events.notify("search.indexed")  # cached public search answers are stale now
