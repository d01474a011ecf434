"""Opaque keyset cursors: base64url JSON naming the backend, the ordering and the sort values of the last hit.

A cursor is only good for the backend and ordering that made it; anything else raises `InvalidCursor`.
Sort values must round-trip exactly, so they are integers or strings (ranks are scaled integers, dates are
microseconds since the epoch).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta

from search.backend import InvalidCursor, SearchOrder

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_CHARS = 1024


def encode_cursor(backend: str, order: SearchOrder, key: list[int | str]) -> str:
    payload = json.dumps({"b": backend, "o": order.value, "k": key}, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, backend: str, order: SearchOrder, shape: tuple[type, ...]) -> list[int | str]:
    """The sort values of `cursor`, checked against the backend, ordering and the types in `shape`."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CHARS:
        raise InvalidCursor("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("not a cursor") from None
    if not isinstance(payload, dict) or payload.get("b") != backend:
        raise InvalidCursor("not a cursor of this backend")
    if payload.get("o") != order.value:
        raise InvalidCursor("a cursor of another ordering")
    key = payload.get("k")
    if not isinstance(key, list) or len(key) != len(shape):
        raise InvalidCursor("malformed cursor")
    for value, kind in zip(key, shape):
        # bool is an int subclass: a cursor holding true/false is malformed, not the number 1/0.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidCursor("malformed cursor")
    return key


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: exact for every datetime PostgreSQL stores (naive ones taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError:
        raise InvalidCursor("malformed cursor") from None
