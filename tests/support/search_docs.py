"""Search documents and queries for the backend tests (tests/integration/search): `doc` builds a SearchDocument
with sensible defaults around a fixed NOW, `find` searches at NOW, `keys` and `ids` read a page's hits;
`clear_postgres` empties the PostgreSQL backend's tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tortoise import Tortoise

from search.backend import DocKind, SearchBackend, SearchDocument, SearchPage, SearchQuery
from search.postgres.backend import TABLES

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(days=30)
EP, PR = DocKind.EPISODE, DocKind.PROGRAM


def doc(
    id: int,
    title: str,
    description: str = "",
    *,
    kind: DocKind = EP,
    tags: Sequence[str] = (),
    category: str | None = "news",
    language: str | None = "en",
    program_id: int = 100,
    program_title: str = "Daily",
    public_from: datetime | None = PAST,
    date: datetime | None = None,
    attachments: str = "",
) -> SearchDocument:
    date = date or NOW - timedelta(days=id)
    return SearchDocument(
        kind=kind,
        id=id,
        title=title,
        description=description,
        tags=tuple(tags),
        category=category,
        language=language,
        program_id=program_id,
        program_title=program_title,
        public_from=public_from,
        date=date,
        updated_at=date,
        attachments=attachments,
    )


async def find(backend: SearchBackend, text: str = "", **options) -> SearchPage:
    options.setdefault("now", NOW)
    options.setdefault("first", 50)
    return await backend.search(SearchQuery(text=text, **options))


def keys(page: SearchPage) -> list[tuple[str, int]]:
    return [(hit.kind.value, hit.id) for hit in page.hits]


def ids(page: SearchPage) -> list[int]:
    return [hit.id for hit in page.hits]


async def clear_postgres() -> None:
    """Empty every table the PostgreSQL backend writes (the schema stays)."""
    await Tortoise.get_connection("default").execute_script(f"TRUNCATE {', '.join(TABLES)}")
