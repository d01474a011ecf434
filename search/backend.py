"""The contract every search backend keeps, and the values that cross it (no I/O here)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

MAX_QUERY_CHARS = 512  # longer queries are cut here (never refused): a 10 kB paste still gets an answer
FACET_FIELDS = ("category", "language", "program")
FACET_LIMIT = 20  # values counted per facet, most frequent first
MAX_PAGE = 1000  # hits per page a backend reads at most, whatever `first` says
MIN_PREFIX_CHARS = 3  # shorter unknown words are not expanded as prefixes ("d" would match half the index)
# Shorter words are not corrected: too few trigrams for a typo to be told from another word, too many neighbours
# ("teh" is one swap from "the").
MIN_FUZZY_CHARS = 4


class DocKind(StrEnum):
    PROGRAM = "program"
    EPISODE = "episode"


class SearchOrder(StrEnum):
    RELEVANCE = "relevance"  # best match first, then newest, then id
    DATE = "date"  # newest `date` first, then id


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One searchable item, denormalised so a backend never joins at query time."""

    kind: DocKind
    id: int
    title: str
    description: str
    tags: tuple[str, ...]
    category: str | None
    language: str | None  # BCP 47 tag as stored on the program ("en", "fa-IR"); None when unknown
    program_id: int  # an episode's program; a program's own id (so "program" facets cover both kinds)
    program_title: str
    # When the item becomes visible to the public: set only while it (and, for an episode, its program) is
    # PUBLISHED, to the latest of the relevant publish times. None = never public in its current state.
    public_from: datetime | None
    date: datetime  # what DATE ordering and date filters use: the publish time, else the creation time
    # The last edit of the item or, for an episode, of its program or of its attachments' text (OpenSearch's doc
    # version: it must move whenever the document's content does).
    updated_at: datetime
    # An episode's attachments: the text of its ready documents (PDFs), searched with the lowest weight and never
    # highlighted. Empty for programs and for episodes without documents.
    attachments: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Every given part must match (AND); inside one part any listed value matches (OR), tags need all."""

    kinds: tuple[DocKind, ...] = ()
    program_ids: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # matched on the primary subtag: "fa" finds "fa" and "fa-IR"
    tags: tuple[str, ...] = ()
    date_from: datetime | None = None  # inclusive
    date_to: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str  # websearch syntax: words, "quoted phrases", -excluded, OR; trimmed to MAX_QUERY_CHARS
    now: datetime  # visibility is decided against this instant (public_from <= now)
    filter: SearchFilter = SearchFilter()
    order: SearchOrder = SearchOrder.RELEVANCE
    first: int = 20
    after: str | None = None  # an opaque cursor a previous page returned; a bad one raises InvalidCursor
    include_drafts: bool = False  # editors only; the caller decides who may
    with_facets: bool = True


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: DocKind
    id: int
    score: float
    cursor: str
    # field name ("title", "description") -> snippet with matches wrapped in <mark>...</mark>, HTML-escaped
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str  # for "program", the program id as a string
    count: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    total: int  # all matches visible to the caller, ignoring pagination
    has_next: bool
    facets: dict[str, list[FacetCount]]  # FACET_FIELDS -> counts over all matches, most frequent first
    # False when a backend estimated `total` and the facet counts instead of counting every match (the PostgreSQL
    # backend past 10,000 matches: search.postgres.backend.counts); the hits and their order are exact either way.
    exact_counts: bool = True


def page_size(query: SearchQuery) -> int:
    """The hits a page holds: `first`, within 0..MAX_PAGE."""
    return max(0, min(int(query.first), MAX_PAGE))


def empty_facets() -> dict[str, list[FacetCount]]:
    """Every facet, with no counts."""
    return {name: [] for name in FACET_FIELDS}


class InvalidCursor(ValueError):
    """The `after` cursor was not made by this backend for this query's ordering."""


class SearchBackend(Protocol):
    name: str  # "postgres" or "opensearch"

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        """Add or replace documents by (kind, id). Idempotent: the same call twice leaves one copy."""

    async def delete(self, kind: DocKind, ids: Sequence[int]) -> None:
        """Remove documents; ids that are not indexed are ignored."""

    async def search(self, query: SearchQuery) -> SearchPage:
        """Answer a query. Any text (operators, SQL-looking text, 10 kB strings, empty) is answered, never raised on;
        an empty query matches everything the filters allow."""

    async def rebuild(
        self, batches: AsyncIterable[Sequence[SearchDocument]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Replace the whole index with these documents, with no moment where searches see a partial index.
        Calls `progress(n)` after each batch with the number just written; returns the total written."""

    async def count(self) -> int:
        """How many documents the live index holds (for the admin status)."""

    async def close(self) -> None:
        """Release connections/clients."""
