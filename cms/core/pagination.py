"""Keyset (cursor) pagination over Tortoise querysets, shared by every list in the services.

A cursor is opaque to clients: base64url JSON holding the ordering's name, the sort value and the id of the
last row seen. Ordering always ends with the primary key, so pages never skip or repeat rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from cms.core.errors import Invalid

T = TypeVar("T")
M = TypeVar("M", bound=Model)
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Ordering:
    """Sort by `field` (nullable or not) then by id, in one direction."""

    name: str
    field: str
    descending: bool
    kind: type = datetime

    def encode_value(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    def decode_value(self, raw: Any) -> Any:
        if raw is None:
            return None
        if self.kind is datetime:
            return datetime.fromisoformat(raw)
        if not isinstance(raw, self.kind) or isinstance(raw, bool):
            raise ValueError("cursor value has the wrong type")
        if isinstance(raw, int) and not -(2**31) <= raw < 2**31:
            # Integer sort columns are PostgreSQL `integer`: a larger value would fail in the driver.
            raise ValueError("cursor value out of range")
        return raw


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    count: Callable[[], Awaitable[int]]

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def clamp_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise Invalid({"first": "must not be negative"})
    if first > MAX_PAGE_SIZE:
        raise Invalid({"first": f"must be at most {MAX_PAGE_SIZE}"})
    return first


def encode_cursor(ordering: Ordering, row: Any) -> str:
    payload = [ordering.name, ordering.encode_value(getattr(row, ordering.field)), row.id]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")  # a page encodes up to 100


def decode_cursor(ordering: Ordering, cursor: str) -> tuple[Any, int]:
    try:
        if len(cursor) > 512:
            raise ValueError("cursor too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, row_id = json.loads(raw)
        if name != ordering.name:
            raise ValueError("cursor belongs to another ordering")
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id < 2**63:
            raise ValueError("cursor id is not a valid row id")
        return ordering.decode_value(value), row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid({"after": "is not a valid cursor for this list and ordering"}) from exc


def _q(lookups: dict[str, Any]) -> Q:
    """Q(**lookups), for lookups whose field names are built at run time."""
    return Q(**lookups)


def _after(ordering: Ordering, value: Any, row_id: int) -> Q:
    """Rows strictly after (value, id) in the ordering; PostgreSQL puts NULLs last ascending, first descending."""
    f = ordering.field
    cmp, id_cmp = ("lt", "lt") if ordering.descending else ("gt", "gt")
    if value is None:
        same = _q({f"{f}__isnull": True, f"id__{id_cmp}": row_id})
        return same | _q({f"{f}__isnull": False}) if ordering.descending else same
    later = _q({f"{f}__{cmp}": value}) | _q({f: value, f"id__{id_cmp}": row_id})
    return later if ordering.descending else later | _q({f"{f}__isnull": True})


async def paginate(query: QuerySet[M], *, ordering: Ordering, first: int | None, after: str | None) -> Page[M]:
    """One query for the page (one extra row tells whether there is a next page); the count runs only if asked."""
    size = clamp_first(first)
    # Cursors also name the list's model, so one list's cursor is refused by another instead of paging it wrongly.
    ordering = replace(ordering, name=f"{query.model.__name__}.{ordering.name}")
    paged = query
    if after:
        paged = paged.filter(_after(ordering, *decode_cursor(ordering, after)))
    prefix = "-" if ordering.descending else ""
    rows = await paged.order_by(f"{prefix}{ordering.field}", f"{prefix}id").limit(size + 1)
    items = list(rows[:size])
    return Page(
        items=items,
        cursors=[encode_cursor(ordering, row) for row in items],
        has_next_page=len(rows) > size,
        count=query.count,
    )
