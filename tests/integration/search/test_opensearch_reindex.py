"""`cms reindex` on OpenSearch under load: the rebuild and alias swap run while anonymous searches keep asking and
editors rename, add and delete episodes through GraphQL, whose index jobs run on a worker pointed at OpenSearch.
No search may fail, and no edit made during the rebuild may be lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from opensearchpy import AsyncOpenSearch

from cms.api.ids import from_global_id
from search.backend import DocKind, SearchFilter, SearchQuery
from search.opensearch.backend import OpenSearchSearch
from search.reindex import reindex
from tests.support.api import operation
from tests.support.jobs import drain

pytestmark = pytest.mark.opensearch

EPISODES_ONLY = SearchFilter(kinds=(DocKind.EPISODE,))
EPISODES = 40
BATCH = 5  # the rebuild reads PostgreSQL in 9 batches (40 episodes and their program), so edits land in between


async def _create(api, name: str, input: dict) -> str:
    created = await api.data(operation(name), {"input": input}, role="editor")
    return next(iter(created.values()))["id"]


async def _publish(api, name: str, id: str) -> None:
    await api.data(operation(name), {"id": id}, role="editor")


def _int_id(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


async def test_reindex_under_searches_and_edits_loses_nothing(api, settings, opensearch_url):
    alias = f"cms-test-{uuid.uuid4().hex[:12]}"
    on_opensearch = settings.model_copy(update={"opensearch_url": opensearch_url, "search_index": alias})
    program = await _create(api, "CreateProgram", {"title": "Lighthouse keepers", "language": "en"})
    await _publish(api, "PublishProgram", program)
    episodes = []
    for n in range(EPISODES):
        episode = await _create(api, "CreateEpisode", {"programId": program, "title": f"Lighthouse log {n}"})
        await _publish(api, "PublishEpisode", episode)
        episodes.append(episode)
    await drain(on_opensearch)  # the index jobs fill OpenSearch

    backend = OpenSearchSearch(url=opensearch_url, index=alias)
    renamed, deleted = episodes[:5], episodes[-5:]
    added: list[str] = []
    answers: list[int] = []
    failures: list[BaseException] = []
    rebuilt = asyncio.Event()

    async def keep_searching() -> None:
        while not rebuilt.is_set():
            try:
                page = await backend.search(SearchQuery(text="lighthouse", now=datetime.now(UTC)))
                answers.append(page.total)
            except Exception as error:  # noqa: BLE001 - every failure is reported below
                failures.append(error)
            await asyncio.sleep(0.02)

    async def edit() -> None:
        """An editor's session while the rebuild loads; its jobs run on a worker that writes to OpenSearch."""
        for episode in renamed:
            updated = await api.data(
                operation("UpdateEpisode"), {"id": episode, "input": {"title": "Foghorn diary"}}, role="editor"
            )
            assert updated["updateEpisode"]["__typename"] == "Episode", updated
        for episode in deleted:
            gone = await api.data(operation("DeleteEpisode"), {"id": episode}, role="editor")
            assert gone["deleteEpisode"]["__typename"] == "Deleted", gone
        for n in range(3):
            added.append(await _create(api, "CreateEpisode", {"programId": program, "title": f"Beacon night {n}"}))
            await _publish(api, "PublishEpisode", added[-1])
        await drain(on_opensearch)

    class EditedWhileLoading(OpenSearchSearch):
        async def rebuild(self, batches, progress=None):
            async def interleaved():
                n = 0
                async for batch in batches:
                    yield batch
                    n += 1
                    if n == 2:  # the loading index exists and is half full: edit now
                        await edit()
                    await asyncio.sleep(0.05)

            return await super().rebuild(interleaved(), progress)

    searcher = asyncio.create_task(keep_searching())
    rebuilder = EditedWhileLoading(url=opensearch_url, index=alias)
    try:
        result = await reindex(rebuilder, batch=BATCH)
    finally:
        rebuilt.set()
        await searcher
        await rebuilder.close()
    await drain(on_opensearch)

    assert not failures, failures[:3]
    assert len(answers) > 10 and all(total > 0 for total in answers)  # searches answered all along, never empty
    assert result.documents >= EPISODES - len(deleted)
    now = datetime.now(UTC)

    async def found(text: str) -> set[int]:
        page = await backend.search(SearchQuery(text=text, now=now, first=100, filter=EPISODES_ONLY))
        return {hit.id for hit in page.hits}

    try:
        assert await found("foghorn") == {_int_id(e) for e in renamed}
        assert await found("beacon") == {_int_id(e) for e in added}
        assert await found("log") == {_int_id(e) for e in episodes[5:-5]}  # the renamed and the deleted are gone
        assert await backend.count() == 1 + EPISODES - len(deleted) + len(added)
    finally:
        await backend.close()
        admin = AsyncOpenSearch(hosts=[opensearch_url])
        try:
            await admin.indices.delete(index=f"{alias}*", ignore_unavailable=True, allow_no_indices=True)
        finally:
            await admin.close()
