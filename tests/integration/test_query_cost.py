"""A document costing more than CMS_QUERY_COST_LIMIT is refused before it runs: not validated, no SQL."""

from __future__ import annotations

from cms.api.schema import MAX_COST

NESTED = """query($outer: Int, $inner: Int) {
  programs(first: $outer) { edges { node { id episodes(first: $inner) { edges { node { id title } } } } } }
}"""


def fan_out(levels: int = 6, fan: int = 8) -> str:
    """8 fragments at each of 6 levels, each spreading all 8 of the next: the issue's 1.9 s document."""
    fragments = []
    for i in range(levels):
        spreads = " ".join(f"...A{i + 1}_{k}" for k in range(fan)) if i < levels - 1 else "id title"
        fragments += [f"fragment A{i}_{k} on Episode {{ assets {{ episode {{ {spreads} }} }} }}" for k in range(fan)]
    return (
        '{ episode(id: "RXBpc29kZTox") { '
        + " ".join(f"...A0_{k}" for k in range(fan))
        + " } }\n"
        + "\n".join(fragments)
    )


def assert_too_costly(response) -> dict:
    assert response.status_code < 500, response.text
    body = response.json()
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", error
    assert error["extensions"]["limit"] == MAX_COST and error["extensions"]["cost"] > MAX_COST
    assert error["message"].startswith(f"query cost {error['extensions']['cost']} is over the limit of {MAX_COST}")
    return error


async def test_fragment_fan_out_is_refused_before_it_runs(api, count_queries):
    token = api.token("editor")  # signed in: nothing may even look the user up
    with count_queries() as counter:
        response = await api.client.post(
            "/graphql", json={"query": fan_out()}, headers={"authorization": f"Bearer {token}"}
        )
    assert_too_costly(response)
    assert counter.statements == []


async def test_cost_follows_the_variables(api, count_queries):
    no_cache = {"cache-control": "no-cache"}
    with count_queries() as counter:
        response = await api.client.post(
            "/graphql", headers=no_cache, json={"query": NESTED, "variables": {"outer": 100, "inner": 100}}
        )
    assert_too_costly(response)
    assert counter.statements == []

    # The same document with small pages runs (and reaches the database).
    with count_queries() as counter:
        response = await api.client.post(
            "/graphql", headers=no_cache, json={"query": NESTED, "variables": {"outer": 5, "inner": 5}}
        )
    assert response.status_code == 200 and not response.json().get("errors"), response.text
    assert counter.statements


async def test_default_page_sizes_count_when_first_is_absent(api):
    # 3 nested connections at the default page size (20): 20 x 20 x 20 x 3 > the limit.
    query = "{ programs { edges { node { episodes { edges { node { program { episodes { edges { node { id } } } } } } } } } } }"
    assert_too_costly(await api.post(query, role="viewer"))
    small = query.replace("programs {", "programs(first: 2) {").replace("episodes {", "episodes(first: 2) {")
    assert not (await api.gql(small, role="viewer")).get("errors")


async def test_get_requests_are_costed_too(api):
    response = await api.client.get("/graphql", params={"query": fan_out(levels=5)})
    assert_too_costly(response)
