"""Search inputs and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from cms.api.content.types import Episode, Program
from cms.api.ids import pk_of
from cms.api.pagination import PageInfo
from search.backend import DocKind
from search.backend import SearchFilter as DomainFilter
from search.backend import SearchOrder as DomainOrder

# The domain's enums, exposed as they are.
# strawberry.enum registers the GraphQL enum on the class itself and returns it unchanged; binding the class
# (not the call's result) keeps these names usable in annotations.
SearchKind = DocKind
SearchOrder = DomainOrder
strawberry.enum(SearchKind, name="SearchKind", description="What kind of item a search result is.")
strawberry.enum(SearchOrder, name="SearchOrder")


@strawberry.input(description="Every given part must match; within a list any value matches (tags: all must match).")
class SearchFilter:
    kinds: list[SearchKind] | None = None
    program_ids: list[strawberry.ID] | None = None
    categories: list[str] | None = None
    languages: list[str] | None = strawberry.field(
        default=None, description='Language tags; "fa" also matches "fa-IR".'
    )
    tags: list[str] | None = None
    published_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    published_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    include_drafts: bool = strawberry.field(default=False, description="Editors only: also drafts and scheduled items.")

    def to_domain(self) -> DomainFilter:
        return DomainFilter(
            kinds=tuple(self.kinds or ()),
            program_ids=tuple(pk_of(i, "Program", field="filter.programIds") for i in self.program_ids or ()),
            categories=tuple(self.categories or ()),
            languages=tuple(self.languages or ()),
            tags=tuple(self.tags or ()),
            date_from=self.published_after,
            date_to=self.published_before,
        )


SearchItem = Annotated[Program | Episode, strawberry.union("SearchItem")]


@strawberry.type(description="Matched text with the matches wrapped in <mark>…</mark>; the rest is HTML-escaped.")
class SearchHighlights:
    title: str | None = None
    description: str | None = None


@strawberry.type
class SearchEdge:
    cursor: str
    node: SearchItem
    score: float = strawberry.field(
        description="Relevance to the query (higher is better; comparable within one backend's results only). "
        "Also given in DATE order."
    )
    highlights: SearchHighlights


@strawberry.type
class FacetCount:
    value: str
    count: int


@strawberry.type
class ProgramFacetCount:
    program: Program
    count: int


@strawberry.type(
    description="Counts over every match visible to the caller, most frequent first (estimates when "
    "`SearchResults.exactCounts` is false)."
)
class SearchFacets:
    categories: list[FacetCount]
    languages: list[FacetCount]
    programs: list[ProgramFacetCount]


@strawberry.type
class SearchResults:
    edges: list[SearchEdge]
    page_info: PageInfo
    total_count: int
    facets: SearchFacets
    exact_counts: bool = strawberry.field(
        description="False when many items match (over 10,000 with PostgreSQL search): `totalCount` and the facet "
        "counts are then estimates from a uniform sample. The hits and their order are exact either way."
    )


@strawberry.type(description="How current the search index is (admins).")
class SearchStatus:
    backend: str
    documents: int
    pending_changes: int = strawberry.field(description="Content changes not yet applied to the index.")
    lag_seconds: float = strawberry.field(description="Age of the oldest pending change; 0 when current.")
    failed_jobs: int = strawberry.field(description="Index jobs that gave up; retry them with `retryJob`.")
