"""Queries built to exhaust the server are refused at validation; unexpected errors reach clients masked."""

from __future__ import annotations

from tortoise import Tortoise

from cms.api.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from graphql import get_introspection_query
from tests.support.api import operation


def nested_episodes_query(depth: int) -> str:
    """episodes > edges > node > program > episodes > ... until `depth` fields deep, ending in `id`. One episode
    per page, so the query's cost (cms/api/cost.py) stays small and only its depth is at stake."""
    cycle = ["episodes(first: 1)", "edges", "node", "program"]
    names = [cycle[i % len(cycle)] for i in range(depth - 1)]
    leaf = "id" if names[-1] in ("node", "program") else "__typename"
    return "{ " + " { ".join(names) + " { " + leaf + " }" + " }" * len(names)


def assert_refused(response, *words: str) -> None:
    assert response.status_code != 500 and response.status_code < 500, response.text
    body = response.json()
    assert body.get("data") is None, body
    assert body["errors"], body
    message = " ".join(e["message"] for e in body["errors"]).lower()
    assert any(word in message for word in words), message


async def test_depth_50_query_is_refused(api):
    query = nested_episodes_query(50)
    assert query.count("{") == query.count("}")
    response = await api.post(query, role="editor")
    assert_refused(response, "depth")


async def test_depth_just_over_the_limit_is_refused_and_at_the_limit_runs(api):
    # The limiter counts the root field as depth 0: MAX_DEPTH + 1 fields deep is the most allowed.
    assert_refused(await api.post(nested_episodes_query(MAX_DEPTH + 2)), "depth")
    response = await api.post(nested_episodes_query(MAX_DEPTH + 1))
    assert response.status_code == 200 and not response.json().get("errors"), response.text


async def test_depth_hidden_in_fragments_is_refused(api):
    fragments = "\n".join(
        f"fragment F{i} on Episode {{ program {{ episodes(first: 1) {{ edges {{ node {{ ...F{i + 1} }} }} }} }} }}"
        for i in range(12)
    )
    query = "{ episodes(first: 1) { edges { node { ...F0 } } } }\n" + fragments + "\nfragment F12 on Episode { id }"
    assert_refused(await api.post(query), "depth")


async def test_1000_aliases_are_refused(api):
    query = "{ " + " ".join(f"a{i}: programs {{ totalCount }}" for i in range(1000)) + " }"
    assert_refused(await api.post(query, role="editor"), "aliases", "tokens")


async def test_aliases_just_over_the_limit_are_refused(api):
    over = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }"
    assert_refused(await api.post(over), "aliases")
    at_limit = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES)) + " }"
    response = await api.post(at_limit)
    assert response.status_code == 200 and len(response.json()["data"]) == MAX_ALIASES


async def test_huge_token_count_is_refused(api):
    query = "{ " + " ".join(["__typename"] * (MAX_TOKENS * 5)) + " }"
    assert_refused(await api.post(query), "tokens")


async def test_huge_token_count_over_get_is_refused(api):
    query = "{ " + " ".join(["__typename"] * (MAX_TOKENS + 10)) + " }"
    response = await api.client.get("/graphql", params={"query": query})
    assert_refused(response, "tokens")


async def test_introspection_still_works(api):
    response = await api.post(get_introspection_query(descriptions=True))
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "Program", "Episode", "Node", "PublishStatus"} <= names


async def test_shipped_operations_fit_the_limits(api):
    # The feed that clients run must never trip the limits meant for abuse.
    body = await api.gql(operation("EpisodeFeed"), {"first": 100})
    assert not body.get("errors"), body


async def test_unexpected_error_is_masked_with_the_request_id(api):
    created = await api.data('mutation { createProgram(input: {title: "Legacy"}) { __typename } }', role="editor")
    assert created["createProgram"]["__typename"] == "Program"
    # A row another tool wrote with a status this version does not know: loading it fails unexpectedly.
    await Tortoise.get_connection("default").execute_query("UPDATE program SET status = 'LEGACY_STATE'")

    response = await api.post("{ programs { edges { node { title status } } } }", role="editor")
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "correlationId": request_id}
    assert request_id in error["message"]
    assert (
        "LEGACY_STATE" not in response.text and "Traceback" not in response.text and "ValueError" not in response.text
    )

    # A sane correlation id from the caller (a proxy, say) is kept and quoted back.
    token = api.token("editor")
    response = await api.client.post(
        "/graphql",
        json={"query": "{ programs { edges { node { status } } } }"},
        headers={"authorization": f"Bearer {token}", "x-request-id": "edge-7f3a.42"},
    )
    assert response.headers["x-request-id"] == "edge-7f3a.42"
    assert response.json()["errors"][0]["extensions"]["correlationId"] == "edge-7f3a.42"

    # An insane one is replaced, never echoed.
    response = await api.client.post(
        "/graphql",
        json={"query": "{ programs { edges { node { status } } } }"},
        headers={"authorization": f"Bearer {token}", "x-request-id": "<script>" + "x" * 100},
    )
    replaced = response.headers["x-request-id"]
    assert "<script>" not in replaced and "<script>" not in response.text
    assert response.json()["errors"][0]["extensions"]["correlationId"] == replaced
