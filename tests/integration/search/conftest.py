"""One behavioural suite for every search backend: `search_backend` runs each test against PostgreSQL full-text
search and against OpenSearch (the run's own node, or the cluster at OPENSEARCH_URL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from search.backend import SearchBackend
from search.opensearch.backend import OpenSearchSearch
from search.postgres.backend import PostgresSearch
from tests.support.search_docs import clear_postgres

BACKENDS = ["postgres", "opensearch"]


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        # The run's database with every migration applied, and Tortoise initialised on it.
        request.getfixturevalue("live_server")
    return request.param


@pytest.fixture
async def search_backend(backend_name: str, request: pytest.FixtureRequest) -> AsyncIterator[SearchBackend]:
    if backend_name == "postgres":
        await clear_postgres()
        backend = PostgresSearch()
        yield backend
        await backend.close()
        await clear_postgres()
        return

    url = request.getfixturevalue("opensearch_url")
    alias = f"cms-test-{uuid.uuid4().hex[:12]}"
    backend = OpenSearchSearch(url=url, index=alias)
    try:
        yield backend
    finally:
        await backend.close()
        await _drop_opensearch_indices(url, alias)


async def _drop_opensearch_indices(url: str, alias: str) -> None:
    """Every index the test created: the alias's name and anything built behind it (`<alias>*`)."""
    from opensearchpy import AsyncOpenSearch

    client = AsyncOpenSearch(hosts=[url])
    try:
        await client.indices.delete(index=f"{alias}*", ignore_unavailable=True, allow_no_indices=True)
    finally:
        await client.close()
