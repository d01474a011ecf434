"""The PostgreSQL backend's bounded counts (search.postgres.backend.counts): exact up to its limit, estimated from a uniform sample
beyond, with the hits and their order exact either way. Small limits stand in for the real 10,000 so that a corpus
of a few thousand items crosses them; which items fall in a sample is a hash of their key, so runs repeat exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from search.backend import SearchFilter
from search.postgres.backend import PostgresSearch
from tests.support.search_docs import clear_postgres, doc, find, keys

CATEGORIES = ("news", "music", "sport", "travel")
CONCERTS = 2_400  # "concert" in every one; categories in turn
LECTURES = 120


@pytest.fixture
async def corpus(live_server) -> AsyncIterator[None]:
    await clear_postgres()
    await PostgresSearch().upsert(
        [
            *(doc(i, f"Concert {i}", "strings and brass", category=CATEGORIES[i % 4]) for i in range(1, CONCERTS + 1)),
            *(doc(10_000 + i, f"Lecture {i}", "history", category="talks") for i in range(LECTURES)),
        ]
    )
    yield
    await clear_postgres()


def _close(estimate: int, true: int, within: float) -> bool:
    return abs(estimate - true) <= within * true


async def test_past_the_limit_counts_are_estimated_and_flagged(corpus):
    small = PostgresSearch(exact_limit=200, sample_budget=400)
    page = await find(small, "concert", first=10)
    assert not page.exact_counts
    assert page.total > 200 and _close(page.total, CONCERTS, 0.25), page.total
    categories = {f.value: f.count for f in page.facets["category"]}
    assert set(categories) == set(CATEGORIES)
    assert all(_close(count, CONCERTS // 4, 0.5) for count in categories.values()), categories
    assert all(f.count % 16 == 0 for f in page.facets["category"])  # a 1/16 sample, scaled up
    assert [(f.value, f.count) for f in page.facets["language"]] == [("en", page.total)]

    exact = await find(PostgresSearch(), "concert", first=10)  # the default limit counts these exactly
    assert exact.exact_counts and exact.total == CONCERTS
    assert {f.value: f.count for f in exact.facets["category"]} == {c: CONCERTS // 4 for c in CATEGORIES}
    assert keys(page) == keys(exact) and page.has_next  # the hits never depend on how they were counted


async def test_under_the_limit_counts_stay_exact(corpus):
    small = PostgresSearch(exact_limit=200, sample_budget=400)
    page = await find(small, "lecture")
    assert page.exact_counts and page.total == LECTURES
    assert [(f.value, f.count) for f in page.facets["category"]] == [("talks", LECTURES)]
    filtered = await find(small, "", filter=SearchFilter(categories=("talks",)))  # an empty query with a filter
    assert filtered.exact_counts and filtered.total == LECTURES


async def test_an_empty_query_with_filters_is_estimated_through_the_same_sample(corpus):
    small = PostgresSearch(exact_limit=200, sample_budget=400)
    page = await find(small, "", filter=SearchFilter(categories=("music",)), first=5)
    assert not page.exact_counts and _close(page.total, CONCERTS // 4, 0.3), page.total
    assert [f.value for f in page.facets["category"]] == ["music"]
    everything = await find(small, "", first=5)
    assert not everything.exact_counts and _close(everything.total, CONCERTS + LECTURES, 0.25)
    assert keys(everything) == keys(await find(PostgresSearch(), "", first=5))


async def test_the_probe_goes_coarser_when_its_sample_overflows(corpus):
    tiny = PostgresSearch(exact_limit=20, sample_budget=40)  # 1/16 of 2,400 is ~150 > 40: the 1/64 or 1/256 sample
    page = await find(tiny, "concert", first=3)
    assert not page.exact_counts and _close(page.total, CONCERTS, 0.5), page.total
    assert all(f.count % 64 == 0 for f in page.facets["category"])
