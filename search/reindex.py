"""`cms reindex`: rebuild the whole search index from PostgreSQL while searches keep answering."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q

from cms.content.models import Episode, Program
from cms.core import outbox
from cms.core.outbox import Event
from search import documents
from search.backend import DocKind, SearchBackend, SearchDocument


@dataclass(frozen=True)
class ReindexResult:
    documents: int
    seconds: float
    caught_up: int  # documents changed or deleted while the rebuild ran, written again or removed after it

    @property
    def per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


async def changed_since(since: datetime) -> list[SearchDocument]:
    """Documents of rows changed after `since`: index jobs that ran during the rebuild wrote to the old index.
    A changed program changes its episodes' documents too, and so does a document's text its episode's."""
    changed_programs = Program.filter(updated_at__gte=since)
    found = await documents.program_documents_where(changed_programs)
    program_ids = [doc.id for doc in found]
    episodes = Q(updated_at__gte=since)
    if program_ids:
        episodes |= Q(program_id__in=program_ids)
    if with_text := await documents.episodes_with_text_since(since):
        episodes |= Q(id__in=with_text)
    found += await documents.episode_documents(Episode.filter(episodes))
    return found


async def deleted_since(since: datetime) -> dict[DocKind, list[int]]:
    """Ids of the programs and episodes deleted after `since` (their `*.delete` outbox events): a rebuild may have
    read them before they went, and their index jobs deleted them from the old index only."""
    found: dict[DocKind, list[int]] = {}
    for event, payload in await outbox.recorded_since(_DELETES, since):
        found.setdefault(_DELETES[event], []).append(int(payload["id"]))
    return found


_DELETES = {Event.PROGRAM_DELETE: DocKind.PROGRAM, Event.EPISODE_DELETE: DocKind.EPISODE}


async def reindex(
    backend: SearchBackend,
    *,
    on_total: Callable[[int], None] = lambda n: None,
    on_progress: Callable[[int], None] | None = None,
    batch: int = 1000,
) -> ReindexResult:
    """Rebuild, then catch up: rows changed while it ran are written again, rows deleted meanwhile removed."""
    started, clock = datetime.now(UTC), time.perf_counter()
    on_total(await documents.count_all())
    written = await backend.rebuild(documents.all_documents(batch=batch), on_progress)
    seconds = time.perf_counter() - clock
    late = await changed_since(started)
    if late:
        await backend.upsert(late)
    gone = await deleted_since(started)
    for kind, ids in gone.items():
        await backend.delete(kind, ids)
    await outbox.notify("search.indexed")
    return ReindexResult(
        documents=written, seconds=seconds, caught_up=len(late) + sum(len(ids) for ids in gone.values())
    )
