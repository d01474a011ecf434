"""The OpenSearch backend's index lifecycle against a real node (the run's own, or OPENSEARCH_URL): the first write
creates a versioned index behind the alias, and a rebuild loads a new one and swaps the alias while searches keep
answering.
Each test works under an alias of its own and removes every index it made."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from opensearchpy import AsyncOpenSearch

from search.backend import DocKind, SearchDocument, SearchQuery
from search.opensearch.backend import OpenSearchSearch
from search.opensearch.mapping import MAPPING_VERSION, index_version

pytestmark = pytest.mark.opensearch

NOW = datetime.now(UTC)


def doc(id: int, title: str = "documentary", language: str | None = "en", **changes) -> SearchDocument:
    values = dict(
        kind=DocKind.PROGRAM,
        id=id,
        title=title,
        description="",
        tags=(),
        category=None,
        language=language,
        program_id=id,
        program_title=title,
        public_from=NOW - timedelta(days=1),
        date=NOW - timedelta(minutes=id),
        updated_at=NOW,
    )
    values.update(changes)
    return SearchDocument(**values)


@pytest.fixture
async def admin(opensearch_url: str) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(hosts=[opensearch_url])
    yield client
    await client.close()


@pytest.fixture
async def alias(admin: AsyncOpenSearch) -> AsyncIterator[str]:
    name = f"cms-test-{uuid.uuid4().hex[:12]}"
    yield name
    for index in await admin.indices.get(index=f"{name}*"):  # by name: wildcard deletes may be disabled
        await admin.indices.delete(index=index, ignore=404)


@pytest.fixture
async def backend(alias: str, opensearch_url: str) -> AsyncIterator[OpenSearchSearch]:
    backend = OpenSearchSearch(url=opensearch_url, index=alias)
    yield backend
    await backend.close()


async def aliased(admin: AsyncOpenSearch, alias: str) -> list[str]:
    return sorted(await admin.indices.get_alias(name=alias))


async def ids(backend: OpenSearchSearch, text: str, **options) -> list[int]:
    page = await backend.search(SearchQuery(text=text, now=datetime.now(UTC), **options))
    return [hit.id for hit in page.hits]


async def test_first_upsert_creates_a_versioned_index_behind_the_alias(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    assert not await admin.indices.exists_alias(name=alias)
    assert await backend.count() == 0 and await ids(backend, "documentary") == []
    await backend.delete(DocKind.PROGRAM, [1])  # nothing to delete: no index is made for it
    assert await admin.indices.get(index=f"{alias}*") == {}

    await backend.upsert([doc(1), doc(2)])
    await backend.upsert([doc(1)])  # idempotent

    (index,) = await aliased(admin, alias)
    assert index_version(alias, index) == MAPPING_VERSION
    mapping = (await admin.indices.get_mapping(index=index))[index]["mappings"]
    assert mapping["_meta"]["mapping_version"] == MAPPING_VERSION
    assert await backend.count() == 2
    assert sorted(await ids(backend, "documen")) == [1, 2]  # prefix
    assert sorted(await ids(backend, "documentray")) == [1, 2]  # one transposition


async def test_rebuild_swaps_the_alias_while_searches_keep_answering(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    await backend.upsert([doc(i, "old programme") for i in range(1, 6)])
    (old,) = await aliased(admin, alias)
    answers: list[int] = []
    failures: list[BaseException] = []
    loaded = asyncio.Event()

    async def keep_searching() -> None:
        while not loaded.is_set():
            try:
                page = await backend.search(SearchQuery(text="", now=datetime.now(UTC)))
                answers.append(page.total)
            except Exception as error:  # noqa: BLE001 - the test reports any failure
                failures.append(error)
            await asyncio.sleep(0.01)

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        for start in range(100, 400, 100):
            yield [doc(i, "new programme") for i in range(start, start + 100)]
            await asyncio.sleep(0.2)  # searches run meanwhile; they must still see the old, complete index

    searcher = asyncio.create_task(keep_searching())
    progress: list[int] = []
    try:
        written = await backend.rebuild(batches(), progress=progress.append)
        for _ in range(5):
            answers.append((await backend.search(SearchQuery(text="", now=datetime.now(UTC)))).total)
    finally:
        loaded.set()
        await searcher
    assert written == 300 and progress == [100, 100, 100]
    assert not failures
    assert set(answers) <= {5, 300} and answers[0] == 5 and answers[-1] == 300  # never a partial index
    (new,) = await aliased(admin, alias)
    assert new != old and index_version(alias, new) == MAPPING_VERSION
    assert not await admin.indices.exists(index=old)
    settings = (await admin.indices.get_settings(index=new))[new]["settings"]["index"]
    assert settings["refresh_interval"] == "1s" and settings["auto_expand_replicas"] == "0-1"
    assert await backend.count() == 300
    assert await ids(backend, "old") == []


async def test_failed_rebuild_leaves_the_old_index_serving(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    await backend.upsert([doc(1)])
    (old,) = await aliased(admin, alias)

    async def broken() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [doc(2)]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await backend.rebuild(broken())
    assert await aliased(admin, alias) == [old]
    assert sorted(await admin.indices.get(index=f"{alias}-*")) == [old]
    assert await backend.count() == 1


async def test_languages_and_scripts(backend: OpenSearchSearch) -> None:
    await backend.upsert(
        [
            doc(1, "کتاب‌های ایرانی", language="fa-IR"),  # Persian yeh and ZWNJ
            doc(2, "running documentaries", language="en"),
            doc(3, "Café <b>Müller</b>", language="de"),
        ]
    )
    assert await ids(backend, "كتاب") == [1]  # Arabic kaf finds Persian keheh, in the word before the ZWNJ
    assert await ids(backend, "ایرانی") == [1]
    assert await ids(backend, "ايراني") == [1]  # Arabic yeh
    assert await ids(backend, "run documentary") == [2]  # English stemming
    assert await ids(backend, "cafe muller") == [3]  # ASCII folding
    page = await backend.search(SearchQuery(text="muller", now=datetime.now(UTC)))
    highlighted = page.hits[0].highlights["title"]  # whole title, source text HTML-escaped around the marks
    assert (
        "<mark>Müller</mark>" in highlighted and highlighted.startswith("Café &lt;b&gt;") and "<b>" not in highlighted
    )
    assert await ids(backend, "cafe -muller") == []
    assert sorted(await ids(backend, "running OR café")) == [2, 3]
    for hostile in ("title:x AND (y OR", "\x00' OR 1=1; --", "a" * 10_000, "*:* ~2 /.*/", '"""'):
        await backend.search(SearchQuery(text=hostile, now=datetime.now(UTC)))


async def test_writes_while_a_rebuild_loads_reach_the_new_index_and_stale_copies_lose(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    """A writer (an index job) during a rebuild writes to the loading index too; versions decide what survives."""
    await backend.upsert([doc(1, "old tundra"), doc(2, "old taiga")])
    edited = doc(2, "edited taiga", updated_at=NOW + timedelta(seconds=5))

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [doc(1, "old tundra")]  # read from PostgreSQL before the writer's edits
        (loading,) = await admin.indices.get_alias(name=f"{alias}-rebuilding")
        assert loading not in await aliased(admin, alias)  # not live yet
        await backend.upsert([edited, doc(3, "new steppe")])
        await backend.delete(DocKind.PROGRAM, [1])
        yield [doc(1, "old tundra"), doc(2, "old taiga")]  # stale copies of what the writer changed

    assert await backend.rebuild(batches()) == 3
    assert not await admin.indices.exists_alias(name=f"{alias}-rebuilding")
    assert await ids(backend, "tundra") == []  # deleted meanwhile: its tombstone refused the stale copy
    assert await ids(backend, "edited") == [2] and await ids(backend, "old") == []
    assert await ids(backend, "steppe") == [3]


async def test_upsert_recreates_a_vanished_alias_once(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    await backend.upsert([doc(1)])
    (first,) = await aliased(admin, alias)
    await admin.indices.delete(index=first)  # an operator removed it behind the backend's back
    await backend.upsert([doc(2)])
    (second,) = await aliased(admin, alias)
    assert second != first and await backend.count() == 1


async def test_processes_racing_to_create_the_first_index_end_with_one(
    opensearch_url: str, admin: AsyncOpenSearch, alias: str
) -> None:
    racers = [OpenSearchSearch(url=opensearch_url, index=alias) for _ in range(4)]
    try:
        await asyncio.gather(*(racer.upsert([doc(i)]) for i, racer in enumerate(racers, start=1)))
    finally:
        for racer in racers:
            await racer.close()
    assert len(await aliased(admin, alias)) == 1
    assert list(await admin.indices.get(index=f"{alias}*")) == await aliased(admin, alias)  # no stray index
    await admin.indices.refresh(index=alias)
    assert (await admin.count(index=alias))["count"] == 4


async def test_an_index_of_an_older_mapping_version_is_used_with_a_warning(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    older = f"{alias}-v{MAPPING_VERSION - 1}-20250101000000000000"
    await admin.indices.create(index=older, body={"aliases": {alias: {"is_write_index": True}}})
    await backend.upsert([doc(1)])
    assert await aliased(admin, alias) == [older] and await backend.count() == 1
    assert "run `cms reindex`" in caplog.text


async def test_first_rebuild_replaces_an_index_squatting_the_alias_name(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    await admin.index(index=alias, id="x", body={"title": "auto-created"}, refresh=True)  # a write with no alias
    await backend.rebuild(batches_of([doc(1)]))
    (index,) = await aliased(admin, alias)
    assert index != alias and await backend.count() == 1


async def test_writes_without_refresh_show_after_the_next_one(
    opensearch_url: str, admin: AsyncOpenSearch, alias: str
) -> None:
    quiet = OpenSearchSearch(url=opensearch_url, index=alias, refresh=False)
    try:
        await quiet.upsert([doc(1)])
        await admin.indices.refresh(index=alias)
        assert await ids(quiet, "documentary") == [1]
    finally:
        await quiet.close()


async def batches_of(*groups: Sequence[SearchDocument]) -> AsyncIterator[Sequence[SearchDocument]]:
    for group in groups:
        yield group


async def test_a_rebuild_replaces_one_that_died_while_loading(
    backend: OpenSearchSearch, admin: AsyncOpenSearch, alias: str
) -> None:
    """A rebuild killed mid-load leaves its index under `-rebuilding`: writes go on, and the next rebuild drops it."""
    await backend.upsert([doc(1)])
    orphan = f"{alias}-v{MAPPING_VERSION}-20250101000000000000"
    await admin.indices.create(index=orphan, body={"aliases": {f"{alias}-rebuilding": {}}})
    await backend.upsert([doc(2)])  # still fine: written to the orphan too, harmlessly
    assert await backend.rebuild(batches_of([doc(1), doc(2), doc(3)])) == 3
    assert not await admin.indices.exists(index=orphan)
    assert not await admin.indices.exists_alias(name=f"{alias}-rebuilding")
    await backend.upsert([doc(4)])
    assert await backend.count() == 4
