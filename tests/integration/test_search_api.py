"""Search as clients use it: GraphQL over HTTP with real tokens, the index kept fresh by the real job worker."""

from __future__ import annotations

import asyncio
from datetime import UTC

from tests.support.api import operation
from tests.support.jobs import database_url, drain
from tests.support.processes import child_env, run_cms, sleep_past

SEARCH = operation("Search")
STATUS = operation("SearchStatus")


async def _program(api, title: str, *, publish: bool = True, **fields) -> str:
    created = await api.data(operation("CreateProgram"), {"input": {"title": title, **fields}}, role="editor")
    program_id = created["createProgram"]["id"]
    if publish:
        await api.data(operation("PublishProgram"), {"id": program_id}, role="editor")
    return program_id


async def _episode(api, program_id: str, title: str, *, publish: bool = True, **fields) -> str:
    created = await api.data(
        operation("CreateEpisode"), {"input": {"programId": program_id, "title": title, **fields}}, role="editor"
    )
    episode_id = created["createEpisode"]["id"]
    if publish:
        await api.data(operation("PublishEpisode"), {"id": episode_id}, role="editor")
    return episode_id


async def _search(api, query: str, *, role: str | None = None, **variables) -> dict:
    return (await api.data(SEARCH, {"query": query, **variables}, role=role))["search"]


def _titles(found: dict) -> list[str]:
    return [edge["node"]["title"] for edge in found["edges"]]


async def test_published_content_becomes_searchable_through_the_index_jobs(api, settings):
    program = await _program(
        api,
        "Night Trains of Europe",
        description="A documentary about sleeper trains",
        category="travel",
        language="en",
        tags=["rail"],
    )
    await _episode(api, program, "The Caledonian Sleeper", description="From London to the Highlands by night")
    await _episode(api, program, "Draft about ferries", publish=False)
    assert (await _search(api, "sleeper"))["totalCount"] == 0, "nothing is indexed before the jobs ran"

    await drain(settings)
    found = await _search(api, "sleeper")
    assert sorted(_titles(found)) == ["Night Trains of Europe", "The Caledonian Sleeper"]
    assert found["totalCount"] == 2 and found["exactCounts"] is True
    highlighted = [edge["highlights"] for edge in found["edges"]]
    assert any("<mark>" in (h["title"] or "") + (h["description"] or "") for h in highlighted)
    assert found["facets"]["categories"] == [{"value": "travel", "count": 2}]
    assert found["facets"]["programs"] == [{"program": {"id": program, "title": "Night Trains of Europe"}, "count": 2}]

    assert (await _search(api, "ferries"))["totalCount"] == 0, "a draft never reaches the public"
    drafts = await _search(api, "ferries", role="editor", filter={"includeDrafts": True})
    assert _titles(drafts) == ["Draft about ferries"]


async def test_unpublish_and_delete_leave_the_results(api, settings):
    program = await _program(api, "Persian Poetry Hour", language="fa")
    episode = await _episode(api, program, "شعر حافظ در تهران")
    await drain(settings)
    assert _titles(await _search(api, "تهران")) == ["شعر حافظ در تهران"]

    await api.data(operation("UnpublishEpisode"), {"id": episode}, role="editor")
    # Before the index job runs, the API itself drops the now-unpublished hit: a lagging index leaks nothing.
    assert _titles(await _search(api, "تهران")) == []
    await drain(settings)
    assert (await _search(api, "تهران"))["totalCount"] == 0

    await api.data(operation("PublishEpisode"), {"id": episode}, role="editor")
    await drain(settings)
    assert (await _search(api, "حافظ"))["totalCount"] == 1
    await api.data(operation("DeleteProgram"), {"id": program}, role="editor")
    await drain(settings)
    assert (await _search(api, "حافظ", role="editor", filter={"includeDrafts": True}))["totalCount"] == 0
    assert (await _search(api, "poetry", role="editor", filter={"includeDrafts": True}))["totalCount"] == 0


async def test_unpublishing_a_program_hides_its_episodes(api, settings):
    program = await _program(api, "Harbour Stories")
    await _episode(api, program, "Lighthouse keepers")
    await drain(settings)
    assert (await _search(api, "lighthouse"))["totalCount"] == 1
    await api.data(operation("UnpublishProgram"), {"id": program}, role="editor")
    await drain(settings)
    assert (await _search(api, "lighthouse"))["totalCount"] == 0


async def test_scheduled_items_appear_when_their_time_comes(api, settings):
    program = await _program(api, "Tomorrow's Show")
    created = await api.data(
        operation("CreateEpisode"), {"input": {"programId": program, "title": "Eclipse special"}}, role="editor"
    )
    episode = created["createEpisode"]["id"]
    from datetime import datetime, timedelta

    soon = datetime.now(UTC) + timedelta(seconds=2)
    await api.data(operation("PublishEpisode"), {"id": episode, "at": soon.isoformat()}, role="editor")
    await drain(settings)
    assert (await _search(api, "eclipse"))["totalCount"] == 0
    await sleep_past(soon)
    assert _titles(await _search(api, "eclipse")) == ["Eclipse special"]


async def test_pagination_filters_and_date_order(api, settings):
    news = await _program(api, "Morning News", category="news", language="en")
    music = await _program(api, "Jazz Nights", category="music", language="en")
    for n in range(7):
        await _episode(api, news, f"Weather report {n}")
    await _episode(api, music, "Weather songs")
    await drain(settings)

    seen, after = [], None
    while True:
        page = await _search(api, "weather", first=3, after=after, orderBy="DATE")
        seen += _titles(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 8
    assert seen[0] == "Weather songs", "newest first"

    only_music = await _search(api, "weather", filter={"categories": ["music"]})
    assert _titles(only_music) == ["Weather songs"]
    by_program = await _search(api, "weather", filter={"programIds": [news], "kinds": ["EPISODE"]})
    assert by_program["totalCount"] == 7


async def test_bad_input_gets_clear_errors_and_hostile_text_an_answer(api, settings):
    await _program(api, "Anything")
    await drain(settings)
    for variables, code in (
        ({"first": 101}, "BAD_USER_INPUT"),
        ({"after": "not-a-cursor"}, "BAD_USER_INPUT"),
        ({"filter": {"programIds": ["garbage"]}}, "BAD_USER_INPUT"),
        ({"filter": {"includeDrafts": True}}, "FORBIDDEN"),
    ):
        body = await api.gql(SEARCH, {"query": "anything", **variables})
        assert body["errors"][0]["extensions"]["code"] == code, (variables, body)
    for text in ("'; DROP TABLE episode; --", "a" * 10_000, "!!! & | :* (((", "", '"unclosed', "\x00nul"):
        body = await api.gql(SEARCH, {"query": text})
        assert not body.get("errors"), (text[:40], body.get("errors"))


async def test_search_status_is_for_admins_and_shows_the_lag(api, settings):
    body = await api.gql(STATUS, role="editor")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await _program(api, "Lagging behind")
    before = (await api.data(STATUS, role="admin"))["searchStatus"]
    assert before["pendingChanges"] >= 1 and before["lagSeconds"] >= 0
    await drain(settings)
    after = (await api.data(STATUS, role="admin"))["searchStatus"]
    assert after == {**after, "pendingChanges": 0, "lagSeconds": 0.0, "failedJobs": 0, "documents": 1}


async def test_search_sql_does_not_grow_with_the_page(api, settings, count_queries):
    program = await _program(api, "Counting")
    for n in range(12):
        await _episode(api, program, f"Counted episode {n}")
    await drain(settings)
    counts = {}
    for size in (2, 12):
        with count_queries() as counter:
            response = await api.client.post(
                "/graphql",
                json={"query": SEARCH, "variables": {"query": "counted", "first": size}},
                headers={"cache-control": "no-cache"},
            )
        assert len(response.json()["data"]["search"]["edges"]) == size
        counts[size] = len(counter.statements)
    assert counts[2] == counts[12], counts


async def test_cms_reindex_rebuilds_the_index(api, settings, db_target):
    program = await _program(api, "Rebuilt from scratch")
    await _episode(api, program, "Second coming")
    await drain(settings)
    env = child_env({"DATABASE_URL": database_url(db_target), "CMS_DATA_DIR": str(settings.data_dir)})
    done = await asyncio.to_thread(run_cms, "reindex", "--quiet", env=env, timeout=300)  # fails unless it exits 0
    assert "indexed 2 documents" in done.stdout
    assert _titles(await _search(api, "coming")) == ["Second coming"]


async def test_reindex_catches_up_with_rows_changed_while_it_ran(api):
    """What `cms reindex` writes again after the rebuild: changed programs with all their episodes, changed episodes."""
    from datetime import datetime, timedelta

    from search.reindex import changed_since

    quiet = await _program(api, "Untouched")
    await _episode(api, quiet, "Old episode")
    since = datetime.now(UTC) + timedelta(milliseconds=1)
    await asyncio.sleep(0.01)
    touched = await _program(api, "Renamed meanwhile")
    await _episode(api, touched, "Its episode")
    await _episode(api, quiet, "New in the untouched program")
    found = {(doc.kind.value, doc.title) for doc in await changed_since(since)}
    assert found == {
        ("program", "Renamed meanwhile"),
        ("episode", "Its episode"),
        ("episode", "New in the untouched program"),
    }


async def test_reindex_removes_what_was_deleted_while_it_ran(api, settings):
    """A rebuild that read an episode before it was deleted does not bring it back into the index."""
    from datetime import datetime

    from cms.api.ids import from_global_id
    from search.backend import SearchQuery
    from search.postgres.backend import PostgresSearch
    from search.reindex import reindex

    program = await _program(api, "Harbour tales")
    kept = await _episode(api, program, "Harbour at dawn")
    doomed = await _episode(api, program, "Harbour at dusk")
    await drain(settings)

    class DeletingMidway(PostgresSearch):
        async def rebuild(self, batches, progress=None):
            async def read_then_delete():
                async for batch in batches:
                    yield batch
                deleted = await api.data(operation("DeleteEpisode"), {"id": doomed}, role="editor")
                assert deleted["deleteEpisode"]["__typename"] == "Deleted", deleted

            return await super().rebuild(read_then_delete(), progress)

    backend = DeletingMidway()
    result = await reindex(backend)
    assert result.documents == 3 and result.caught_up == 1
    page = await backend.search(SearchQuery(text="harbour", now=datetime.now(UTC), include_drafts=True))
    ids = {(hit.kind.value, hit.id) for hit in page.hits}
    assert ids == {("program", int(from_global_id(program)[1])), ("episode", int(from_global_id(kept)[1]))}
    assert page.total == 2  # the counts do not include a stale document either


async def test_a_title_match_comes_first_through_the_api(api, settings):
    program = await _program(api, "Coastal notes")
    await _episode(api, program, "Evening bulletin", description="harbour news: the harbour, and more harbour")
    await _episode(api, program, "Harbour lights", description="a quiet night")
    await drain(settings)
    found = await _search(api, "harbour")
    assert _titles(found) == ["Harbour lights", "Evening bulletin"]
    assert found["edges"][0]["score"] > found["edges"][1]["score"]


async def test_counts_past_ten_thousand_are_marked_as_estimates(api):
    """An index with 10,600 matching documents: the API says its counts are estimates (the documents stand for
    items PostgreSQL does not have, so the page itself comes back empty: hits are re-checked against the rows)."""
    from search.postgres.backend import PostgresSearch
    from tests.support.search_docs import PAST, doc

    await PostgresSearch().upsert(
        [doc(1_000_000 + i, f"Lantern {i}", category=("news", "music")[i % 2], date=PAST) for i in range(10_600)]
    )
    found = await _search(api, "lantern")
    assert found["exactCounts"] is False
    assert 10_000 < found["totalCount"] < 12_500, found["totalCount"]
    categories = {facet["value"]: facet["count"] for facet in found["facets"]["categories"]}
    assert set(categories) == {"news", "music"} and all(3_000 < n < 8_000 for n in categories.values()), categories
    assert found["edges"] == []
