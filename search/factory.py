"""Which backend a process uses: OpenSearch when OPENSEARCH_URL is set, else PostgreSQL full-text search."""

from __future__ import annotations

from cms.core.settings import Settings
from search.backend import SearchBackend


def open_search_backend(settings: Settings) -> SearchBackend:
    """Cheap: clients connect lazily. The PostgreSQL backend uses the process's open database."""
    if settings.opensearch_url:
        from search.opensearch.backend import OpenSearchSearch

        return OpenSearchSearch(url=settings.opensearch_url, index=settings.search_index)
    from search.postgres.backend import PostgresSearch

    return PostgresSearch()
