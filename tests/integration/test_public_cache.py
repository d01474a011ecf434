"""The anonymous response cache never serves stale content: mutations, out-of-band changes and schedules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.api import operation

PROGRAMS = "{ programs(first: 50) { edges { node { id title } } } }"


async def _published_program(api, title: str) -> str:
    created = await api.data(operation("CreateProgram"), {"input": {"title": title}}, role="editor")
    pid = created["createProgram"]["id"]
    await api.data(operation("PublishProgram"), {"id": pid}, role="editor")
    return pid


async def _anonymous(api, query: str = PROGRAMS, variables: dict | None = None):
    response = await api.post(query, variables)
    assert response.status_code == 200, response.text
    return response


async def test_repeated_anonymous_query_is_served_from_cache(api):
    await _published_program(api, "Cached Show")
    first = await _anonymous(api)
    second = await _anonymous(api)
    assert first.headers.get("x-cache") is None and second.headers["x-cache"] == "HIT"
    assert first.json() == second.json()
    assert second.headers["x-request-id"] != first.headers["x-request-id"]


async def test_mutation_is_visible_to_the_next_anonymous_read(api):
    pid = await _published_program(api, "Before")
    await _anonymous(api)
    await _anonymous(api)  # cached now
    await api.data(operation("UpdateProgram"), {"id": pid, "input": {"title": "After"}}, role="editor")
    titles = [e["node"]["title"] for e in (await _anonymous(api)).json()["data"]["programs"]["edges"]]
    assert titles == ["After"]


async def test_signed_in_callers_and_errors_are_never_cached(api):
    await _published_program(api, "Private Reads")
    for _ in range(2):
        response = await api.post(PROGRAMS, role="viewer")
        assert response.headers.get("x-cache") is None
    for _ in range(2):
        response = await _anonymous(api, '{ program(id: "not-an-id") { id } }')
        assert response.headers.get("x-cache") is None and response.json()["errors"]


async def test_change_committed_elsewhere_reaches_the_cache(api, db_target):
    pid = await _published_program(api, "Old Title")
    await _anonymous(api)
    assert (await _anonymous(api)).headers["x-cache"] == "HIT"
    conn = await db_target.connect()  # another process's write, announced the way cms.core.outbox does
    try:
        async with conn.transaction():
            await conn.execute("UPDATE program SET title = 'Changed Elsewhere'")
            await conn.execute("SELECT pg_notify('cms_changes', 'test.change')")
    finally:
        await conn.close()
    for _ in range(100):
        titles = [e["node"]["title"] for e in (await _anonymous(api)).json()["data"]["programs"]["edges"]]
        if titles == ["Changed Elsewhere"]:
            break
        await asyncio.sleep(0.05)
    assert titles == ["Changed Elsewhere"], pid


async def test_scheduled_item_appears_on_time_despite_the_cache(api):
    await _published_program(api, "Already Out")
    created = await api.data(operation("CreateProgram"), {"input": {"title": "Coming Soon"}}, role="editor")
    at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    await api.data(operation("PublishProgram"), {"id": created["createProgram"]["id"], "at": at}, role="editor")
    titles: list[str] = []
    for _ in range(100):  # the session app caches for 300 s: only the schedule can end this entry early
        titles = sorted(e["node"]["title"] for e in (await _anonymous(api)).json()["data"]["programs"]["edges"])
        if "Coming Soon" in titles:
            break
        await asyncio.sleep(0.1)
    assert titles == ["Already Out", "Coming Soon"]


async def test_no_cache_request_is_computed_afresh(api):
    await _published_program(api, "Fresh")
    await _anonymous(api)
    response = await api.client.post("/graphql", json={"query": PROGRAMS}, headers={"cache-control": "no-cache"})
    assert response.status_code == 200 and response.headers.get("x-cache") is None
