"""Reading an OpenSearch `_search` response back as a SearchPage, and the cursors of its hits. Pure.

Cursors are search.cursor's, named for this backend: the `sort` values of a hit ([score,] date in epoch
milliseconds, id, kind), given back as `search_after`. Decoding checks backend, ordering, shape and ranges, so a
malformed, foreign or other-ordering cursor is an InvalidCursor, never a failed request.
"""

from __future__ import annotations

import math
from typing import Any

from search.backend import (
    FACET_FIELDS,
    DocKind,
    FacetCount,
    InvalidCursor,
    SearchHit,
    SearchOrder,
    SearchPage,
    SearchQuery,
    empty_facets,
    page_size,
)
from search.cursor import decode_cursor, encode_cursor

BACKEND = "opensearch"  # names the backend in cursors
CURSOR_SHAPES: dict[SearchOrder, tuple[type, ...]] = {
    SearchOrder.RELEVANCE: (float, int, int, str),
    SearchOrder.DATE: (int, int, str),
}
HIGHLIGHT_FIELDS = ("title", "description")
HIGHLIGHT_SEPARATOR = " … "
_KINDS = tuple(kind.value for kind in DocKind)


def encode_search_after(order: SearchOrder, sort: list[Any]) -> str:
    """A hit's cursor from its `sort` values (normalised: the score a float, date and id ints)."""
    order = SearchOrder(order)
    values = list(sort)
    if order is SearchOrder.RELEVANCE:
        values[0] = float(values[0] or 0.0)
    values[-3], values[-2], values[-1] = int(values[-3]), int(values[-2]), str(values[-1])
    return encode_cursor(BACKEND, order, values)


def decode_search_after(cursor: Any, order: SearchOrder) -> list[Any]:
    """The `search_after` values of a cursor made for this ordering by this backend, else InvalidCursor."""
    order = SearchOrder(order)
    # Each value's type is checked against the ordering's shape.
    values: list[Any] = decode_cursor(cursor, BACKEND, order, CURSOR_SHAPES[order])
    if order is SearchOrder.RELEVANCE and not math.isfinite(values[0]):
        raise InvalidCursor("malformed cursor")
    date, id, kind = values[-3:]
    if abs(date) >= 2**63 or abs(id) >= 2**63 or kind not in _KINDS:
        raise InvalidCursor("malformed cursor")
    return values


def empty_page(query: SearchQuery) -> SearchPage:
    return SearchPage(hits=[], total=0, has_next=False, facets=empty_facets() if query.with_facets else {})


def _hit(raw: dict[str, Any], order: SearchOrder) -> SearchHit:
    source = raw.get("_source") or {}
    kind, _, id = str(raw.get("_id", "")).partition(":")
    highlights = {
        field: HIGHLIGHT_SEPARATOR.join(fragments)
        for field, fragments in (raw.get("highlight") or {}).items()
        if field in HIGHLIGHT_FIELDS and fragments
    }
    return SearchHit(
        kind=DocKind(source.get("kind", kind)),
        id=int(source.get("id", id)),
        score=float(raw.get("_score") or 0.0),
        cursor=encode_search_after(order, raw["sort"]),
        highlights=highlights,
    )


def _facet(aggregation: dict[str, Any]) -> list[FacetCount]:
    """A terms aggregation's buckets (most frequent first, as OpenSearch orders them); keys as strings."""
    return [FacetCount(value=str(b["key"]), count=int(b["doc_count"])) for b in aggregation.get("buckets", ())]


def parse_response(response: dict[str, Any], query: SearchQuery) -> SearchPage:
    size = page_size(query)
    raw_hits = response["hits"]["hits"]
    total = response["hits"]["total"]
    facets: dict[str, list[FacetCount]] = {}
    if query.with_facets:
        aggs = response.get("aggregations") or {}
        facets = {name: _facet(aggs.get(name) or {}) for name in FACET_FIELDS}
    return SearchPage(
        hits=[_hit(raw, query.order) for raw in raw_hits[:size]],
        total=int(total["value"] if isinstance(total, dict) else total),
        has_next=len(raw_hits) > size,
        facets=facets,  # aggregations count every match
        exact_counts=not isinstance(total, dict) or total.get("relation", "eq") == "eq",
    )
