"""Bring one program or episode's search documents in line with PostgreSQL (the `index_content` job's work).

It reads the current rows rather than trusting an event, so running it twice, late or out of order converges on
the same index. Syncs touching the same program are serialised with an advisory lock: a sync that read older rows
can never write after one that read newer rows.
"""

from __future__ import annotations

from typing import cast

from tortoise.transactions import in_transaction

from cms.content.models import Episode
from cms.core import outbox
from search import documents
from search.backend import DocKind, SearchBackend

_LOCK_NAMESPACE = 0x5EA4C4  # first key of pg_advisory_xact_lock(int, int): keeps clear of other lock users


async def sync_item(backend: SearchBackend, kind: str, item_id: int, *, created: bool = False) -> None:
    """Upsert or delete the documents of program or episode `item_id` (`kind`: "program" or "episode") as its rows
    are now; a program's episodes follow it unless it was just `created` (then it has none). Listeners are told
    (`search.indexed`) when the transaction commits."""
    async with in_transaction() as conn:
        lock_on = item_id if kind == "program" else (await _program_of_episode(item_id) or 0)
        await conn.execute_query("SELECT pg_advisory_xact_lock($1, $2)", [_LOCK_NAMESPACE, lock_on % 2**31])
        if kind == "program":
            await _sync_program(backend, item_id, with_episodes=not created)
        else:
            await _sync_episode(backend, item_id)
        await outbox.notify("search.indexed")  # cached public search answers are stale now


async def sync_document_asset(backend: SearchBackend, asset_id: int) -> None:
    """A document asset became ready: its text is now part of its episode's document, so that episode is synced
    (nothing happens for other kinds of asset, or a document attached to no episode)."""
    episode_id = await documents.episode_of_document(asset_id)
    if episode_id is not None:
        await sync_item(backend, "episode", episode_id)


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
    # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
    rows = cast("list[int]", await Episode.filter(id=episode_id).values_list("program_id", flat=True))
    return rows[0] if rows else None
