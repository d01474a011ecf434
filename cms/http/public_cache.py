"""A response cache for anonymous GraphQL queries, the bulk of a media site's traffic.

Correct by construction rather than by a short TTL alone:
- only anonymous queries are cached (never mutations, never a signed-in caller, never a response with errors);
- every committed change (NOTIFY from the outbox) moves the change feed's generation on, and older entries are
  ignored; a mutation served by this process moves it on before its response returns (read-your-writes);
- an entry never outlives the first scheduled publish after the moment its response was computed from, so
  scheduled content appears on time;
- while the change feed is disconnected, nothing is served from the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from urllib.parse import parse_qs

from graphql.error import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.core.outbox import ChangeFeed
from cms.http.auth import principal_of
from cms.http.body import BODY_KEY
from cms.http.graphql_media import media_type_of
from graphql import OperationDefinitionNode, OperationType, parse

log = logging.getLogger("cms.http.cache")
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    generation: int
    expires: float


@functools.lru_cache(maxsize=512)
def _operation_type(query: str, operation_name: str | None) -> OperationType | None:
    try:
        document = parse(query, max_tokens=5_000)
    except GraphQLError:
        return None
    operations = cast("list[OperationDefinitionNode]", [d for d in document.definitions if hasattr(d, "operation")])
    for op in operations:
        if operation_name is None or (op.name and op.name.value == operation_name):
            return op.operation
    return None


def _params(scope: Scope, body: bytes) -> tuple[str, str | None, str] | None:
    """(query, operationName, canonical variables and extensions) from a GET query string or a JSON POST body;
    None unless well formed, so the endpoint (never the cache) answers every malformed request."""
    try:
        if scope["method"] == "GET":
            qs = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            raw = {k: v[0] for k, v in qs.items()}
            raw.update({k: json.loads(raw[k]) for k in ("variables", "extensions") if raw.get(k)})
        else:
            raw = json.loads(body)
        query, name = raw.get("query"), raw.get("operationName")
        variables, extensions = raw.get("variables"), raw.get("extensions")
        if not isinstance(query, str) or not isinstance(name, (str, type(None))):
            return None
        if not isinstance(variables, (dict, type(None))) or not isinstance(extensions, (dict, type(None))):
            return None
        return query, name, json.dumps([variables or {}, extensions or {}], sort_keys=True, separators=(",", ":"))
    except (ValueError, KeyError, UnicodeDecodeError, AttributeError, RecursionError):
        return None


class PublicQueryCache:
    def __init__(
        self,
        app: ASGIApp,
        *,
        feed: ChangeFeed,
        ttl: float,
        max_entries: int,
        next_change: Callable[[datetime], Awaitable[datetime | None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.feed, self.ttl, self.max_entries = app, feed, ttl, max_entries
        self._next_change, self._clock = next_change, clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # (generation, as of, first scheduled publish after that): valid for later as-of times until it passes
        self._horizon: tuple[int, datetime, datetime | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            return await self.app(scope, receive, send)
        # The body as BufferedBody read it, whole; a POST that did not pass through it is never cached.
        body = scope.get(BODY_KEY) if scope["method"] == "POST" else b""
        params = _params(scope, body) if body is not None else None
        kind = _operation_type(params[0], params[1]) if params else None
        if kind == OperationType.MUTATION:
            await self.app(scope, receive, send)
            self.feed.bump()  # committed by now: our own cached reads must not hide it
            return
        cacheable = kind == OperationType.QUERY and principal_of(_Conn(scope)) is None and not _wants_fresh(scope)
        if not cacheable or not self.feed.live:
            return await self.app(scope, receive, send)
        # The media type is part of the answer (graphql-response+json or application/json), so part of the key.
        assert params is not None  # a query was read from them
        parts = (params[0], params[1] or "", params[2], media_type_of(scope))
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        entry = self._entries.get(key)
        if entry and entry.generation == self.feed.generation and entry.expires > self._clock():
            self._entries.move_to_end(key)
            return await _send_entry(entry, send)
        generation, as_of = self.feed.generation, _utcnow()
        captured = await _capture(self.app, scope, receive, send)
        if captured is not None and generation == self.feed.generation:
            try:
                horizon = await self._scheduled_change(generation, as_of)
            except Exception:  # noqa: BLE001 - the response is sent; an unknown horizon just means no caching
                log.exception("could not work out the next scheduled change; not caching")
                return
            lifetime = min(self.ttl, (horizon - _utcnow()).total_seconds() if horizon else self.ttl)
            if lifetime > 0:
                self._store(key, _Entry(captured[0], captured[1], captured[2], generation, self._clock() + lifetime))

    async def _scheduled_change(self, generation: int, as_of: datetime) -> datetime | None:
        """The first scheduled publish after `as_of` (the response reflects everything up to then)."""
        cached = self._horizon
        if (
            cached is not None
            and cached[0] == generation
            and cached[1] <= as_of
            and (cached[2] is None or cached[2] > as_of)
        ):
            return cached[2]
        at = await self._next_change(as_of)
        self._horizon = (generation, as_of, at)
        return at

    def _store(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _wants_fresh(scope: Scope) -> bool:
    """`Cache-Control: no-cache` (or `Pragma: no-cache`): the client asks for a response computed now; it is
    neither served from nor stored in the cache."""
    for name, value in scope["headers"]:
        if name in (b"cache-control", b"pragma") and b"no-cache" in value.lower():
            return True
    return False


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Conn:
    """Just enough of an HTTPConnection for principal_of."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope


async def _capture(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """Run the app, passing its response through; returns (status, headers, body) when worth caching."""
    start: Message | None = None
    chunks: list[bytes] = []
    size = 0

    async def tee(message: Message) -> None:
        nonlocal start, size
        if message["type"] == "http.response.start":
            # A copy taken before sending: middleware outside may add headers to the message in place (CORS for
            # this caller's origin, a request id), and those must not be stored and replayed to others.
            start = {**message, "headers": list(message.get("headers", []))}
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))
            if size <= MAX_RESPONSE_BYTES:
                chunks.append(message.get("body", b""))
        await send(message)

    await app(scope, receive, tee)
    body = b"".join(chunks)
    if start is None or start["status"] != 200 or size > MAX_RESPONSE_BYTES or b'"errors"' in body:
        return None
    return start["status"], list(start.get("headers", [])), body


async def _send_entry(entry: _Entry, send: Send) -> None:
    headers = [(k, v) for k, v in entry.headers if k.lower() != b"x-cache"] + [(b"x-cache", b"HIT")]
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": entry.body})
