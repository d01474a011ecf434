"""The static cost estimate (cms/api/cost.py) on the real schema, and the rate limiter's pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cms.api import cost
from cms.api.schema import MAX_COST, build_schema
from cms.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from cms.core.settings import Settings
from cms.http.ratelimit import Budget, Refusal, client_key, storage_uri
from graphql import get_introspection_query, parse

SCHEMA = build_schema()._schema
OPERATIONS = sorted((Path(__file__).resolve().parents[2] / "graphql" / "operations").glob("*.graphql"))


def cost_of(query: str, variables: dict | None = None, name: str | None = None) -> int:
    return cost.estimate(SCHEMA, parse(query), name, variables).cost


def test_fields_cost_one_and_typename_nothing():
    assert cost_of("{ __typename }") == 0
    assert cost_of("{ viewer { id displayName } }") == 3
    assert cost_of("{ episode(id: 1) { id program { id title } } }") == 5


def test_a_page_multiplies_its_list_children_only():
    # 1 (episodes) + 1 (totalCount) + 3 (pageInfo) + 50 x (edges + node + id)
    query = "{ episodes(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }"
    assert cost_of(query) == 1 + 1 + 3 + 50 * 3
    assert cost_of(query.replace("first: 50", "last: 7")) == 5 + 7 * 3


def test_page_size_from_variables_defaults_and_caps():
    query = "query($n: Int) { programs(first: $n) { edges { node { id } } } }"
    assert cost_of(query, {"n": 5}) == 1 + 5 * 3
    assert cost_of(query, {}) == 1 + DEFAULT_PAGE_SIZE * 3  # absent: the default page
    assert cost_of(query, {"n": None}) == 1 + DEFAULT_PAGE_SIZE * 3
    assert cost_of(query, {"n": 10_000}) == 1 + MAX_PAGE_SIZE * 3  # the API never returns more
    assert cost_of(query, {"n": 0}) == 1 + 1 * 3  # still counts the field's own work
    with_default = "query($n: Int = 4) { programs(first: $n) { edges { node { id } } } }"
    assert cost_of(with_default, {}) == 1 + 4 * 3
    assert cost_of("{ programs { edges { node { id } } } }") == 1 + DEFAULT_PAGE_SIZE * 3


def test_nested_pages_multiply():
    query = "{ programs(first: 10) { edges { node { episodes(first: 10) { edges { node { id } } } } } } }"
    assert cost_of(query) == 1 + 10 * (1 + 1 + (1 + 10 * 3))


def test_fragments_are_expanded_and_computed_once():
    query = """
      query { episodes(first: 2) { edges { node { ...E } } } }
      fragment E on Episode { id program { ...P } }
      fragment P on Program { id title }
    """
    assert cost_of(query) == 1 + 2 * (1 + 1 + (1 + (1 + 2)))  # episodes, edges, node, E: id + program + P

    # 8 fragments at each of 6 levels, each spreading all 8 of the next level: 8^6 expansions at the bottom.
    levels, fan = 6, 8
    fragments = []
    for i in range(levels):
        spreads = " ".join(f"...A{i + 1}_{k}" for k in range(fan)) if i < levels - 1 else "id"
        fragments += [f"fragment A{i}_{k} on Episode {{ assets {{ episode {{ {spreads} }} }} }}" for k in range(fan)]
    attack = "{ episode(id: 1) { " + " ".join(f"...A0_{k}" for k in range(fan)) + " } }\n" + "\n".join(fragments)
    calls = 0
    original = cost._Walker.selection_set

    def counting(self, *args):
        nonlocal calls
        calls += 1
        return original(self, *args)

    cost._Walker.selection_set = counting
    try:
        found = cost_of(attack)
    finally:
        cost._Walker.selection_set = original
    # level cost c(i) = 2 + 8 c(i+1) for the 8 fragments' assets + episode; bottom: 2 + 1 (id)
    expected = 3
    for _ in range(levels - 1):
        expected = 2 + fan * expected
    assert found == 1 + fan * expected
    assert found > MAX_COST
    assert calls < 10 * levels * fan  # each fragment walked once, not once per path


def test_root_fields_for_mutation_budgets():
    found = cost.estimate(
        SCHEMA,
        parse("""
      mutation { a: createProgram(input: {title: "a"}) { __typename } ...U __typename }
      fragment U on Mutation { createUpload(input: {filename: "x", size: 1}) { __typename } }
    """),
    )
    assert found.root_fields == ("createProgram", "createUpload")


def test_invalid_documents_are_estimated_without_failing():
    assert cost_of("{ nope { deeper } }") == 2  # unknown fields count 1 each
    cyclic = "{ episode(id: 1) { ...A } } fragment A on Episode { program { ...B } } fragment B on Program { ...A }"
    assert cost_of(cyclic) >= 2
    assert cost_of("query A { viewer { id } } query B { viewer { id } }") == 0  # which one? validation says


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_shipped_operations_are_far_below_the_cost_limit(path):
    """Every operation clients use, at the largest page the API serves, costs under a fifth of the limit."""
    document = parse(path.read_text())
    variables = {"first": MAX_PAGE_SIZE, "last": MAX_PAGE_SIZE}
    found = cost.estimate(SCHEMA, document, None, variables)
    assert 0 < found.cost <= MAX_COST // 5, (path.stem, found.cost)


def test_introspection_fits():
    assert cost_of(get_introspection_query(descriptions=True)) <= MAX_COST // 10


def test_client_keys_group_ipv6_by_64():
    assert client_key("203.0.113.7") == "ip:203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "ip:203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "ip:2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key(None) == "ip:unknown"


def test_refusal_message_and_headers():
    from limits import parse as parse_rate

    refusal = Refusal(Budget("mutations", "mutations", parse_rate("60/minute")), "user", 12, 0, 1)
    assert refusal.message == "rate limit exceeded: mutations per user (60 per minute); retry in 12 s"
    assert refusal.headers() == {
        "Retry-After": "12",
        "RateLimit-Limit": "60",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "12",
        "RateLimit-Policy": "60;w=60",
    }
    reads = Refusal(Budget("reads", "reads", parse_rate("5/2 second"), "query cost points"), "IP", 1, 2, 3)
    assert (
        reads.message == "rate limit exceeded: reads per IP (5 query cost points per 2 seconds; "
        "this request costs 3); retry in 1 s"
    )


def test_storage_uri_follows_the_app_redis(tmp_path):
    assert storage_uri(Settings(REDIS_URL="redis://h:6379/2", CMS_DATA_DIR=tmp_path)) == "async+redis://h:6379/2"
    assert storage_uri(Settings(REDIS_URL="rediss://h", CMS_DATA_DIR=tmp_path)) == "async+rediss://h"
    assert (
        storage_uri(Settings(REDIS_URL="unix:///run/r.sock", CMS_DATA_DIR=tmp_path)) == "async+redis+unix:///run/r.sock"
    )


def test_rate_settings_are_checked_at_start_up(tmp_path):
    with pytest.raises(ValueError, match="expected a rate"):
        Settings(CMS_RATE_MUTATIONS="many", CMS_DATA_DIR=tmp_path)
    with pytest.raises(ValueError, match="CMS_QUERY_COST_LIMIT"):
        Settings(CMS_RATE_READS="100/minute", CMS_DATA_DIR=tmp_path)
    assert Settings(CMS_RATE_READS="100/minute", CMS_QUERY_COST_LIMIT=100, CMS_DATA_DIR=tmp_path)
