"""Search for callers: who may see drafts, what a query may ask, and how many documents the index holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from cms.auth.permissions import Role, require
from cms.auth.principal import Principal
from cms.content.models import Episode, Program
from cms.content.visibility import aware, is_public, is_public_episode, now, sees_drafts
from cms.core.errors import Forbidden, Invalid
from cms.core.pagination import clamp_first
from search.backend import (
    DocKind,
    InvalidCursor,
    SearchBackend,
    SearchFilter,
    SearchHit,
    SearchOrder,
    SearchPage,
    SearchQuery,
)


async def search(
    *,
    backend: SearchBackend,
    principal: Principal | None,
    text: str,
    filter: SearchFilter,
    order: SearchOrder,
    first: int | None,
    after: str | None,
    include_drafts: bool = False,
    with_facets: bool = True,
) -> SearchPage:
    """Anonymous callers and viewers only ever get published items whose time has come; editors may ask for drafts.
    Tags match lower-cased; dates without a zone are taken as UTC."""
    if include_drafts and not sees_drafts(principal):
        raise Forbidden("only editors may include drafts")
    filter = replace(
        filter,
        tags=tuple(tag.lower() for tag in filter.tags),
        date_from=aware(filter.date_from),
        date_to=aware(filter.date_to),
    )
    if filter.date_from and filter.date_to and filter.date_from >= filter.date_to:
        raise Invalid({"filter.publishedBefore": "must be later than publishedAfter"})
    query = SearchQuery(
        text=text,
        now=now(),
        filter=filter,
        order=order,
        first=clamp_first(first),
        after=after,
        include_drafts=include_drafts,
        with_facets=with_facets,
    )
    try:
        return await backend.search(query)
    except InvalidCursor:
        raise Invalid({"after": "is not a cursor of this search"}) from None


async def visible_items(
    hits: Sequence[SearchHit],
    *,
    principal: Principal | None,
    include_drafts: bool,
    load_program: Callable[[int], Awaitable[Program | None]],
    load_episode: Callable[[int], Awaitable[Episode | None]],
) -> list[tuple[SearchHit, Program | Episode]]:
    """The hits' items, in order, each with its hit. The index may lag a moment behind PostgreSQL: an item deleted
    or unpublished since is dropped here, so a stale index never shows the public a draft. The loaders are called
    concurrently, once per hit (and once per episode's program): pass batching ones (DataLoaders), so that a page
    costs a query per kind, not per hit."""
    public_only = not (include_drafts and sees_drafts(principal))

    async def item(hit: SearchHit) -> Program | Episode | None:
        if hit.kind is DocKind.PROGRAM:
            program = await load_program(hit.id)
            return None if program is None or (public_only and not is_public(program)) else program
        episode = await load_episode(hit.id)
        if episode is None:
            return None
        if public_only and not is_public_episode(episode, await load_program(episode.program_id)):
            return None
        return episode

    items = await asyncio.gather(*(item(hit) for hit in hits))
    return [(hit, found) for hit, found in zip(hits, items) if found is not None]


async def documents(*, backend: SearchBackend, principal: Principal | None) -> int:
    """How many documents the index holds (admins)."""
    require(principal, Role.ADMIN)
    return await backend.count()
