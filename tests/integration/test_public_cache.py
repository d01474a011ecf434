"""The anonymous response cache never serves stale content: mutations, out-of-band changes and schedules."""

from __future__ import annotations

import asyncio
import hashlib
import json
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


# --- persisted queries by GET: headers for HTTP caches (CDNs, browsers) ----------------------------------------------


async def _persisted_get(api, headers: dict | None = None, name: str = "Programs", variables: dict | None = None):
    """GET /graphql with the hash of a trusted document and no query, as Apollo Client sends a persisted query."""
    document = operation(name)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}
    params = {
        "operationName": name,
        "variables": json.dumps({"first": 50} if variables is None else variables),
        "extensions": json.dumps(extensions),
    }
    return await api.client.get("/graphql", params=params, headers=headers or {})


def _max_age(response) -> int:
    control = response.headers["cache-control"]
    assert control.startswith("public, max-age="), control
    return int(control.removeprefix("public, max-age="))


async def test_persisted_get_is_fit_for_a_cdn(api):
    await _published_program(api, "On The Edge")
    first = await _persisted_get(api)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["programs"]["edges"][0]["node"]["title"] == "On The Edge"
    assert 0 < _max_age(first) <= 300  # the suite's cache keeps answers 300 s
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong
    assert {v.strip() for v in first.headers["vary"].split(",")} >= {"Authorization", "Accept"}

    again = await _persisted_get(api)
    assert again.headers["x-cache"] == "HIT" and again.headers["etag"] == etag and again.content == first.content
    assert _max_age(again) <= _max_age(first)

    # Revalidation: 304 without a body, from the cache (nothing runs), with the same validators.
    revalidated = await _persisted_get(api, {"if-none-match": etag})
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["etag"] == etag and revalidated.headers["x-cache"] == "HIT"
    assert _max_age(revalidated) <= 300
    listed = await _persisted_get(api, {"if-none-match": f'"other", W/{etag}'})  # weak comparison, as RFC 9110 says
    assert listed.status_code == 304
    assert (await _persisted_get(api, {"if-none-match": '"other"'})).status_code == 200

    # The other media type is another representation: another ETag.
    spec = await _persisted_get(api, {"accept": "application/graphql-response+json"})
    assert spec.status_code == 200 and spec.headers["etag"] != etag


async def test_persisted_get_for_a_signed_in_caller_is_private(api):
    await _published_program(api, "Mine Alone")
    token = api.token("viewer")
    for _ in range(2):
        response = await _persisted_get(api, {"authorization": f"Bearer {token}"})
        assert response.status_code == 200 and response.json()["data"]["programs"]["edges"]
        assert response.headers["cache-control"] == "private, no-store"
        assert "etag" not in response.headers and response.headers.get("x-cache") is None


async def test_persisted_get_with_errors_is_not_stored(api):
    response = await _persisted_get(api, name="Program", variables={"id": "not-an-id"})
    assert response.status_code == 200 and response.json()["errors"]
    assert response.headers["cache-control"] == "no-store" and "etag" not in response.headers


async def test_persisted_get_etag_follows_edits_and_unpublishing(api):
    pid = await _published_program(api, "Version One")
    first = await _persisted_get(api)
    etag = first.headers["etag"]
    await api.data(operation("UpdateProgram"), {"id": pid, "input": {"title": "Version Two"}}, role="editor")
    edited = await _persisted_get(api, {"if-none-match": etag})
    assert edited.status_code == 200 and edited.headers["etag"] != etag
    assert edited.json()["data"]["programs"]["edges"][0]["node"]["title"] == "Version Two"
    await api.data(operation("UnpublishProgram"), {"id": pid}, role="editor")
    gone = await _persisted_get(api, {"if-none-match": edited.headers["etag"]})
    assert gone.status_code == 200 and gone.json()["data"]["programs"]["edges"] == []
    assert gone.headers["etag"] not in (etag, edited.headers["etag"])


async def test_persisted_get_max_age_stops_at_the_next_scheduled_publish(api):
    await _published_program(api, "Out Now")
    created = await api.data(operation("CreateProgram"), {"input": {"title": "Later"}}, role="editor")
    at = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    await api.data(operation("PublishProgram"), {"id": created["createProgram"]["id"], "at": at}, role="editor")
    first = await _persisted_get(api)
    assert [e["node"]["title"] for e in first.json()["data"]["programs"]["edges"]] == ["Out Now"]
    assert 0 < _max_age(first) <= 30
    hit = await _persisted_get(api)
    assert hit.headers["x-cache"] == "HIT" and _max_age(hit) <= 30
