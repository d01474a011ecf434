"""A response cache for anonymous GraphQL queries, the bulk of a media site's traffic.

Correct by construction rather than by a short TTL alone:
- only anonymous queries are cached (never mutations, never a signed-in caller, never a response with errors);
- every committed change (NOTIFY from the outbox) moves the change feed's generation on, and older entries are
  ignored; a mutation served by this process moves it on before its response returns (read-your-writes);
- an entry never outlives the first scheduled publish after the moment its response was computed from, so
  scheduled content appears on time;
- while the change feed is disconnected, nothing is served from the cache.

A persisted query sent by GET (cms/http/persisted.py marks it) also gets headers for HTTP caches (CDNs, browsers),
under the same rules: an anonymous complete answer is `Cache-Control: public, max-age=N` with N at most what this
cache still keeps it for (so never past the next scheduled publish), a strong ETag (of the body and its media type)
and `Vary: Authorization, Accept`; `If-None-Match` naming it gets a 304, from the cache without running anything
when it is there. A signed-in caller's answer is `private, no-store`; one with errors `no-store`.
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

from graphql.error import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.core.outbox import ChangeFeed
from cms.http.auth import principal_of
from cms.http.body import PARAMS_KEY
from cms.http.graphql_media import media_type_of
from cms.http.persisted import PERSISTED_KEY
from graphql import OperationDefinitionNode, OperationType, parse

log = logging.getLogger("cms.http.cache")
MAX_RESPONSE_BYTES = 2 * 1024 * 1024


@dataclass
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    generation: int
    expires: float
    etag: bytes | None = None  # worked out on first use by a GET that HTTP caches may keep


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


def _params(scope: Scope) -> tuple[str, str | None, str] | None:
    """(query, operationName, canonical variables and extensions) as the persisted-operations layer in front
    (cms/app.py) parsed them from a GET query string or a JSON POST body; None unless well formed, so the endpoint
    (never the cache) answers every malformed request."""
    raw = scope.get(PARAMS_KEY)
    if not isinstance(raw, dict):
        return None
    query, name = raw.get("query"), raw.get("operationName")
    variables, extensions = raw.get("variables"), raw.get("extensions")
    if not isinstance(query, str) or not isinstance(name, (str, type(None))):
        return None
    if not isinstance(variables, (dict, type(None))) or not isinstance(extensions, (dict, type(None))):
        return None
    try:
        return query, name, json.dumps([variables or {}, extensions or {}], sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):  # nested past the interpreter's limit
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
        # The parameters as the persisted layer parsed them (a POST from the whole body BufferedBody read); a
        # request they could not be read from is never cached.
        params = _params(scope)
        kind = _operation_type(params[0], params[1]) if params else None
        if kind == OperationType.MUTATION:
            await self.app(scope, receive, send)
            self.feed.bump()  # committed by now: our own cached reads must not hide it
            return
        anonymous = principal_of(_Conn(scope)) is None
        # A persisted query by GET: its answer carries Cache-Control and ETag for HTTP caches (CDNs, browsers).
        http = scope["method"] == "GET" and PERSISTED_KEY in scope and kind == OperationType.QUERY
        if http and not anonymous:
            return await self.app(scope, receive, _private(send))
        cacheable = kind == OperationType.QUERY and anonymous and not _wants_fresh(scope)
        if not cacheable or not self.feed.live:
            if http:  # computed now and kept nowhere: revalidate every time (the ETag still saves the body)
                status, headers, body = await _buffer(self.app, scope, receive)
                return await _send_http(scope, send, _Entry(status, headers, body, 0, 0.0), max_age=None)
            return await self.app(scope, receive, send)
        # The media type is part of the answer (graphql-response+json or application/json), so part of the key.
        assert params is not None  # a query was read from them
        parts = (params[0], params[1] or "", params[2], media_type_of(scope))
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        entry = self._entries.get(key)
        if entry and entry.generation == self.feed.generation and entry.expires > self._clock():
            self._entries.move_to_end(key)
            if http:
                return await _send_http(scope, send, entry, max_age=entry.expires - self._clock(), hit=True)
            return await _send_entry(entry, send)
        generation, as_of = self.feed.generation, _utcnow()
        if http:
            status, headers, body = await _buffer(self.app, scope, receive)
            fresh = _Entry(status, headers, body, generation, 0.0)
            lifetime = None
            if _worth_keeping(status, len(body), body) and generation == self.feed.generation:
                lifetime = await self._lifetime(generation, as_of)
                if lifetime is not None and lifetime > 0:
                    fresh.expires = self._clock() + lifetime
                    self._store(key, fresh)
            return await _send_http(scope, send, fresh, max_age=lifetime)
        captured = await _capture(self.app, scope, receive, send)
        if captured is not None and generation == self.feed.generation:
            lifetime = await self._lifetime(generation, as_of)
            if lifetime is not None and lifetime > 0:
                self._store(key, _Entry(captured[0], captured[1], captured[2], generation, self._clock() + lifetime))

    async def _lifetime(self, generation: int, as_of: datetime) -> float | None:
        """How long an answer computed at `as_of` may be served: the TTL, cut short by the next scheduled publish;
        None when that publish cannot be worked out (then the answer is kept nowhere)."""
        try:
            horizon = await self._scheduled_change(generation, as_of)
        except Exception:  # noqa: BLE001 - the response is sent; an unknown horizon just means no caching
            log.exception("could not work out the next scheduled change; not caching")
            return None
        return min(self.ttl, (horizon - _utcnow()).total_seconds() if horizon else self.ttl)

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
    if start is None or not _worth_keeping(start["status"], size, body):
        return None
    return start["status"], list(start.get("headers", [])), body


def _worth_keeping(status: int, size: int, body: bytes) -> bool:
    """Only complete answers: 200, no errors (not even partial ones), not too large to keep."""
    return status == 200 and size <= MAX_RESPONSE_BYTES and b'"errors"' not in body


async def _buffer(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the app and keep its whole answer (status, headers, body), sending nothing yet: its Cache-Control and
    ETag depend on all of it. The endpoint answers in one piece anyway."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = {**message, "headers": list(message.get("headers", []))}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    assert start is not None, "the endpoint always answers"
    return start["status"], start["headers"], b"".join(chunks)


VARY = b"Authorization, Accept"


def _private(send: Send) -> Send:
    """A signed-in caller's answer is theirs alone: no shared or browser cache keeps it."""

    async def private(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", b"private, no-store"), (b"vary", VARY)]}
        await send(message)

    return private


async def _send_http(scope: Scope, send: Send, entry: _Entry, *, max_age: float | None, hit: bool = False) -> None:
    """A persisted GET's answer with its HTTP caching headers: `public, max-age=N` (N the whole seconds this
    server's cache still keeps it: never past its TTL or the next scheduled publish), or `no-cache` when it is kept
    nowhere; a strong ETag, and 304 when If-None-Match names it. Errors and non-200s: `no-store`."""
    headers = [(k, v) for k, v in entry.headers if k.lower() not in (b"x-cache", b"cache-control", b"etag")]
    if hit:
        headers.append((b"x-cache", b"HIT"))
    if not _worth_keeping(entry.status, len(entry.body), entry.body):
        await send({"type": "http.response.start", "status": entry.status, "headers": [*headers, _NO_STORE]})
        await send({"type": "http.response.body", "body": entry.body})
        return
    if entry.etag is None:
        media = next((v for k, v in entry.headers if k.lower() == b"content-type"), b"")
        entry.etag = b'"' + hashlib.sha256(media + b"\0" + entry.body).hexdigest()[:32].encode() + b'"'
    seconds = int(max_age) if max_age is not None else 0
    control = b"public, max-age=%d" % seconds if seconds > 0 else b"public, no-cache"
    caching = [(b"cache-control", control), (b"etag", entry.etag), (b"vary", VARY)]
    if _matches(scope, entry.etag):
        kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
        await send({"type": "http.response.start", "status": 304, "headers": [*kept, *caching]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": entry.status, "headers": [*headers, *caching]})
    await send({"type": "http.response.body", "body": entry.body})


_NO_STORE = (b"cache-control", b"no-store")


def _matches(scope: Scope, etag: bytes) -> bool:
    """If-None-Match (weak comparison, as RFC 9110 asks for it) names `etag`, or is `*`."""
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            for candidate in value.split(b","):
                candidate = candidate.strip()
                if candidate == b"*" or candidate.removeprefix(b"W/") == etag:
                    return True
    return False


async def _send_entry(entry: _Entry, send: Send) -> None:
    headers = [(k, v) for k, v in entry.headers if k.lower() != b"x-cache"] + [(b"x-cache", b"HIT")]
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": entry.body})
