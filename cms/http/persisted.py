"""Persisted operations on /graphql: Apollo's automatic persisted queries (APQ) and the trusted documents.

A request may carry `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` (POST body or GET query
string), as Apollo Client's persisted-queries link and Apollo Server speak it:
- the hash without `query`: a known hash (a trusted document, cms/api/documents.py, or one registered before) runs
  that document; an unknown one is answered `PersistedQueryNotFound` (HTTP 200, extensions.code
  PERSISTED_QUERY_NOT_FOUND), on which the client sends the hash again with the full query;
- the hash with `query`: the hash must be the query's sha256 (400 "provided sha does not match query"); the pair is
  registered once the query ran without a request error, then runs;
- CMS_PERSISTED_QUERIES=false: nothing is registered, and an unknown hash is answered `PersistedQueryNotSupported`
  (the client stops sending hashes); trusted documents are still known by hash.
CMS_TRUSTED_DOCUMENTS_ONLY=true: only trusted documents run (by hash, or by a text TrustedDocuments.allows); any
other is refused with 400, extensions.code PERSISTED_QUERY_REQUIRED, and never executed (on a graphql-transport-ws
socket: an `error` message for that subscription).

Between the body reader and the public cache: a hash is turned into the full document here, the request rewritten
(body or query string, `persistedQuery` taken out of the extensions), so the cache key and the endpoint see what
runs. Registrations are kept in a bounded in-process LRU and, with REDIS_URL, shared through Redis with the other API
processes (short timeouts; while Redis is away, the local store alone, never a 500).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections import OrderedDict
from urllib.parse import parse_qsl, quote_plus, urlencode

import orjson
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.api.documents import TrustedDocuments, sha256_hex
from cms.core.settings import Settings
from cms.http.body import BODY_KEY, PARAMS_KEY, replay
from cms.http.graphql_media import content_type, media_type_of

log = logging.getLogger("cms.http.persisted")
PERSISTED_KEY = "cms.persisted"  # scope key: the sha256 the request named (set on the rewritten request)
MAX_ENTRIES = 5_000  # registered documents kept in the process
MAX_STORED_BYTES = 32 * 1024 * 1024  # their total size in the process
MAX_DOCUMENT_BYTES = 128 * 1024  # a longer document runs but is not registered (the client keeps sending it whole)
REDIS_PREFIX = "cms:apq:"
REDIS_TTL_SECONDS = 24 * 3600
REDIS_TIMEOUT_SECONDS = 0.25
_RETRY_REDIS_AFTER = 5.0  # after a Redis failure, the local store alone this long
_WARN_EVERY = 30.0
_HASH = re.compile(r"^[0-9a-f]{64}$")
_PARAMS = ("query", "operationName", "variables", "extensions")

NOT_FOUND = ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
NOT_SUPPORTED = ("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
REQUIRED = "PERSISTED_QUERY_REQUIRED"
REQUIRED_MESSAGE = (
    "Only trusted documents run on this server (CMS_TRUSTED_DOCUMENTS_ONLY): send one of graphql/operations/*.graphql"
    " as it is, or its sha256 in extensions.persistedQuery."
)


class DocumentStore:
    """hash -> document: an LRU bounded in entries and bytes, and Redis (REDIS_URL) shared between processes."""

    def __init__(self, *, redis_url: str | None = None, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._local: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._redis_url = redis_url
        self._redis: Redis | None = None
        self._redis_down_until = 0.0
        self._warned = 0.0

    async def get(self, sha256: str) -> str | None:
        text = self._local.get(sha256)
        if text is not None:
            self._local.move_to_end(sha256)
            return text
        redis = self._client()
        if redis is None:
            return None
        try:
            raw = await redis.get(REDIS_PREFIX + sha256)
        except Exception:  # noqa: BLE001 - Redis away or slow: as if not registered there
            self._unavailable()
            return None
        if raw is None:
            return None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if sha256_hex(text) != sha256:  # whatever wrote the key, only a document with this hash runs for it
            return None
        self._keep(sha256, text)
        return text

    async def put(self, sha256: str, text: str) -> None:
        if len(text.encode()) > MAX_DOCUMENT_BYTES:
            return
        self._keep(sha256, text)
        redis = self._client()
        if redis is None:
            return
        try:
            await redis.set(REDIS_PREFIX + sha256, text.encode(), ex=REDIS_TTL_SECONDS)
        except Exception:  # noqa: BLE001 - kept in this process; others will ask their client for the text
            self._unavailable()

    async def aclose(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()

    def _keep(self, sha256: str, text: str) -> None:
        if sha256 in self._local:
            self._local.move_to_end(sha256)
            return
        self._local[sha256] = text
        self._bytes += len(text)
        while len(self._local) > self.max_entries or self._bytes > MAX_STORED_BYTES:
            _, dropped = self._local.popitem(last=False)
            self._bytes -= len(dropped)

    def _client(self) -> Redis | None:
        if self._redis_url is None or time.monotonic() < self._redis_down_until:
            return None
        if self._redis is None:
            self._redis = Redis.from_url(
                self._redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                retry_on_timeout=False,
            )
        return self._redis

    def _unavailable(self) -> None:
        now = time.monotonic()
        self._redis_down_until = now + _RETRY_REDIS_AFTER
        if now - self._warned > _WARN_EVERY:
            self._warned = now
            log.warning("persisted queries: Redis unavailable, using this process's registrations", exc_info=True)


class PersistedQueries:
    """The ASGI part: resolves hashes, registers documents, enforces trusted-only (see the module's doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted: TrustedDocuments,
        store: DocumentStore | None,
        trusted_only: bool = False,
    ) -> None:
        self.app, self.trusted, self.store, self.trusted_only = app, trusted, store, trusted_only

    @classmethod
    def from_settings(cls, app: ASGIApp, settings: Settings, trusted: TrustedDocuments) -> PersistedQueries:
        store = DocumentStore(redis_url=settings.redis_url) if settings.persisted_queries else None
        if settings.trusted_documents_only and not len(trusted):
            log.warning("CMS_TRUSTED_DOCUMENTS_ONLY is on but no trusted documents were found: every query is refused")
        return cls(app, trusted=trusted, store=store, trusted_only=settings.trusted_documents_only)

    async def aclose(self) -> None:
        if self.store is not None:
            await self.store.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.trusted_only:
            return await self.app(scope, self._guarded(receive, send), send)
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            return await self.app(scope, receive, send)
        params = _request_params(scope)
        if params is None:  # not a request the endpoint would run (it answers it): nothing to resolve or refuse
            return await self.app(scope, receive, send)
        if isinstance(params, str):
            return await _refuse(scope, send, 400, params, "BAD_REQUEST")
        scope[PARAMS_KEY] = params
        query, extensions = params.get("query"), params.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if self.trusted_only and isinstance(query, str) and not self.trusted.allows(query):
                return await _refuse(scope, send, 400, REQUIRED_MESSAGE, REQUIRED)
            return await self.app(scope, receive, send)
        sha, problem = _hash_of(persisted)
        if problem:
            return await _refuse(scope, send, 400, problem, "BAD_REQUEST")
        register = False
        if isinstance(query, str):
            if sha256_hex(query) != sha:
                return await _refuse(scope, send, 400, "provided sha does not match query", "BAD_REQUEST")
            register = self.store is not None and self.trusted.by_hash(sha) is None
            text = query
        elif query is not None:
            return await self.app(scope, receive, send)  # a non-string query: the endpoint's 400
        else:
            found = self.trusted.by_hash(sha) or (await self.store.get(sha) if self.store else None)
            if found is None:
                return await _refuse(scope, send, 200, *(NOT_FOUND if self.store else NOT_SUPPORTED))
            text = found
        if self.trusted_only and not self.trusted.allows(text, sha):
            return await _refuse(scope, send, 400, REQUIRED_MESSAGE, REQUIRED)
        rest = {k: v for k, v in extensions.items() if k != "persistedQuery"} if isinstance(extensions, dict) else {}
        scope, receive = await _rewritten(scope, receive, {**params, "query": text, "extensions": rest or None}, sha)
        if not register:
            return await self.app(scope, receive, send)
        ran = await _ran(self.app, scope, receive, send)
        if ran and self.store is not None:
            await self.store.put(sha, text)

    def _guarded(self, receive: Receive, send: Send) -> Receive:
        """Trusted-only on a graphql-transport-ws socket: a `subscribe` whose document is not trusted is answered
        with an `error` message for its id and never reaches the endpoint."""

        async def guarded() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                try:
                    data = json.loads(message.get("text") or message.get("bytes") or b"")
                except (ValueError, RecursionError):
                    return message  # the endpoint's protocol error
                if not isinstance(data, dict) or data.get("type") != "subscribe":
                    return message
                payload = data.get("payload")
                query = payload.get("query") if isinstance(payload, dict) else None
                if isinstance(query, str) and self.trusted.allows(query):
                    return message
                error = {"message": REQUIRED_MESSAGE, "extensions": {"code": REQUIRED}}
                refusal = {"id": data.get("id"), "type": "error", "payload": [error]}
                await send({"type": "websocket.send", "text": json.dumps(refusal, separators=(",", ":"))})

        return guarded


def _hash_of(persisted: object) -> tuple[str, str | None]:
    """(extensions.persistedQuery's hash, None), or ("", why it is not one)."""
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return "", "Unsupported persisted query version: send version 1."
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not _HASH.match(sha):
        return "", "extensions.persistedQuery.sha256Hash must be the document's sha256 as 64 lower-case hex digits."
    return sha, None


def _request_params(scope: Scope) -> dict[str, object] | str | None:
    """The GraphQL parameters as the endpoint will read them (a JSON POST body, or the GET query string); None when
    the endpoint will refuse the request without running anything; a message when the request is ambiguous."""
    if scope["method"] == "POST":
        body = scope.get(BODY_KEY)
        if body is None or not _is_json(scope):
            return None  # no body read (the endpoint reads none either) or a content type the endpoint refuses
        data = _json(body)
        return data if isinstance(data, dict) else None
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    names = [name for name, _ in pairs if name in _PARAMS]
    if len(names) != len(set(names)):
        return "Each GraphQL parameter may appear once in the query string."
    raw: dict[str, object] = dict(pairs)
    for name in ("variables", "extensions"):
        if raw.get(name):
            data = _json(str(raw[name]))
            if data is _MALFORMED:
                return None  # the endpoint's 400
            raw[name] = data
    return raw


_MALFORMED = object()


def _json(text: str | bytes) -> object:
    """The JSON value, or _MALFORMED. orjson first; what it refuses (NaN, integers past 64 bits) the endpoint's
    json takes, so that decides."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return _MALFORMED


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"application/json" in value.lower()
    return False


async def _rewritten(scope: Scope, receive: Receive, params: dict[str, object], sha: str) -> tuple[Scope, Receive]:
    """The request carrying `params` (the full document) instead of what the client sent."""
    if scope["method"] == "GET":
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        kept = [(name, value) for name, value in pairs if name not in _PARAMS]
        parts = [urlencode(kept)] if kept else []
        for name in _PARAMS:
            value = params.get(name)
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
                parts.append(f"{name}={_quoted_document(text) if name == 'query' else quote_plus(text)}")
        query_string = "&".join(parts).encode("latin-1")
        return {**scope, "query_string": query_string, PERSISTED_KEY: sha, PARAMS_KEY: params}, receive
    present = {k: v for k, v in params.items() if v is not None}
    try:
        body = orjson.dumps(present)
    except orjson.JSONEncodeError:  # an integer past 64 bits, which only the standard json parsed
        body = json.dumps(present, ensure_ascii=False).encode()
    await receive()  # the body reader's replay of the old body (at once): the app gets the new one instead
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    rewritten = {**scope, "headers": headers, BODY_KEY: body, PERSISTED_KEY: sha, PARAMS_KEY: params}
    return rewritten, replay(body, receive)


@functools.lru_cache(maxsize=256)
def _quoted_document(text: str) -> str:
    """A document's text URL-encoded (as urlencode does), once per document: the long part of a rewritten query
    string, and the same on every request that names it."""
    return quote_plus(text)


async def _ran(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> bool:
    """Run the app, passing its answer through; True when the document ran (200 with `data`: not a request error,
    so not a document that fails to parse or validate, which is never registered)."""
    status, chunks = 0, []

    async def tee(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        await send(message)

    await app(scope, receive, tee)
    if status != 200:
        return False
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("data") is not None


async def _refuse(scope: Scope, send: Send, status: int, message: str, code: str) -> None:
    """A GraphQL error without `data` (nothing ran), never stored by a cache."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}, separators=(",", ":"))
    headers = [
        (b"content-type", content_type(media_type_of(scope)).encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
