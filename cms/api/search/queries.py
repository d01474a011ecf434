"""The `search` root field and the admin's `searchStatus`."""

from __future__ import annotations

import asyncio
from typing import cast

import strawberry

from cms.api.content.preload import selected_fields
from cms.api.content.types import Episode, Program
from cms.api.context import Info
from cms.api.pagination import PageInfo
from cms.api.search.types import (
    FacetCount,
    ProgramFacetCount,
    SearchEdge,
    SearchFacets,
    SearchFilter,
    SearchHighlights,
    SearchOrder,
    SearchResults,
    SearchStatus,
)
from cms.content import models as m
from jobs.search_index import index_lag
from search import service
from search.backend import DocKind, SearchPage


async def _program_facets(info: Info, page: SearchPage) -> list[ProgramFacetCount]:
    counts = page.facets.get("program", [])
    programs = await asyncio.gather(*(info.context.loaders.program_by_id.load(int(c.value)) for c in counts))
    return [ProgramFacetCount(program=Program.from_model(p), count=c.count) for p, c in zip(programs, counts) if p]


async def _results(info: Info, page: SearchPage, *, include_drafts: bool) -> SearchResults:
    loaders = info.context.loaders
    visible = await service.visible_items(
        page.hits,
        principal=info.context.principal,
        include_drafts=include_drafts,
        load_program=loaders.program_by_id.load,
        load_episode=loaders.episode_by_id.load,
    )
    edges = [
        SearchEdge(
            cursor=hit.cursor,
            score=hit.score,
            node=Program.from_model(cast(m.Program, item))
            if hit.kind is DocKind.PROGRAM
            else Episode.from_model(cast(m.Episode, item)),
            highlights=SearchHighlights(
                title=hit.highlights.get("title"), description=hit.highlights.get("description")
            ),
        )
        for hit, item in visible
    ]
    facets = SearchFacets(
        categories=[FacetCount(value=c.value, count=c.count) for c in page.facets.get("category", [])],
        languages=[FacetCount(value=c.value, count=c.count) for c in page.facets.get("language", [])],
        programs=await _program_facets(info, page),
    )
    end_cursor = page.hits[-1].cursor if page.hits else None
    return SearchResults(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor),
        total_count=page.total,
        facets=facets,
        exact_counts=page.exact_counts,
    )


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description='Full-text search over programs and episodes: words, "quoted phrases", -excluded, OR; '
        "prefixes and small typos match. The public sees published items only."
    )
    async def search(
        self,
        info: Info,
        query: str,
        filter: SearchFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: SearchOrder | None = None,
    ) -> SearchResults:
        filter = filter or SearchFilter()
        assert info.context.search is not None  # the app always configures a search backend
        page = await service.search(
            backend=info.context.search,
            principal=info.context.principal,
            text=query,
            filter=filter.to_domain(),
            order=order_by or SearchOrder.RELEVANCE,
            first=first,
            after=after,
            include_drafts=filter.include_drafts,
            with_facets="facets" in selected_fields(info),
        )
        return await _results(info, page, include_drafts=filter.include_drafts)

    @strawberry.field(description="Admins: how far the search index lags behind the content.")
    async def search_status(self, info: Info) -> SearchStatus:
        backend = info.context.search
        assert backend is not None  # the app always configures a search backend
        documents = await service.documents(backend=backend, principal=info.context.principal)
        lag = await index_lag()
        return SearchStatus(
            backend=backend.name,
            documents=documents,
            pending_changes=lag.pending_changes,
            lag_seconds=lag.lag_seconds,
            failed_jobs=lag.failed_jobs,
        )
