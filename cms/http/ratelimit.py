"""Rate limits with the `limits` library's async sliding-window counters on Redis (the app's; embedded by default).

Budgets (Settings, `limits` syntax such as "600/minute"), each per signed-in user (the token's subject) or, for
anonymous callers, per client IP (the ASGI scope's client: uvicorn's --proxy-headers resolves X-Forwarded-For
from trusted proxies before it gets here; an IPv6 client counts by its /64):
- reads: GraphQL queries, charged their cost estimate (cms/api/cost.py). A query costing at least 0.1 % of the
  budget (100 points of the default) is charged before it runs. Cheaper ones, and responses the schema never
  costed (a public-cache hit, a malformed request; they cost 1), are charged in one Redis call per caller every
  DEFER_SECONDS: a Redis round trip costs about as much CPU as such a request itself. A caller past its budget is
  refused from then on without asking Redis, so the budget can be overrun by DEFER_SECONDS' worth of cheap
  requests at most;
- mutations: one per root mutation field;
- uploads: one per createUpload field and one per PUT /uploads/{id};
- failed authentications, per client IP: a forged, expired or malformed bearer token counts 1; past the budget,
  any request from that IP carrying a token is refused without checking the token until the window frees.

A refusal is HTTP 429 with Retry-After and RateLimit-Limit / -Remaining / -Reset / -Policy (IETF draft
httpapi-ratelimit-headers), and a GraphQL error (extensions.code RATE_LIMITED) naming the budget that ran out.
Successful responses carry no RateLimit headers: reading the window back would double the Redis work per request.
When Redis cannot be reached, requests are let through (and a warning logged; Redis is tried again 5 s later, so
an outage does not add a timeout to every request): the API stays up without limits.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import math
import time
from contextvars import Context, ContextVar
from dataclasses import dataclass
from typing import cast

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.api.cost import Estimate
from cms.core.metrics import RATE_LIMIT_REFUSALS
from cms.core.redis import redis_settings
from cms.core.settings import Settings
from cms.http.auth import principal_of

log = logging.getLogger("cms.http.ratelimit")
DEFER_SECONDS = 0.2  # cheap reads are charged in one Redis call per caller per this long
CHARGE_NOW = 0.001  # a read costing at least this share of the budget is charged before it runs
_MEMO_ENTRIES = 10_000
_WARN_EVERY = 30.0
_RETRY_REDIS_AFTER = 5.0  # after a Redis failure, requests go unlimited this long before Redis is tried again


@dataclass(frozen=True)
class Budget:
    key: str  # in Redis keys
    name: str  # in messages
    item: RateLimitItem
    unit: str = ""

    def describe(self) -> str:
        item = self.item
        window = item.GRANULARITY.name if item.multiples == 1 else f"{item.multiples} {item.GRANULARITY.name}s"
        return f"{item.amount}{' ' + self.unit if self.unit else ''} per {window}"


@dataclass(frozen=True)
class Refusal:
    budget: Budget
    per: str  # "user" | "IP"
    retry_after: int  # whole seconds, at least 1
    remaining: int
    cost: int

    @property
    def message(self) -> str:
        over = ", more than the whole budget" if self.cost > self.budget.item.amount else ""
        note = f"; this request costs {self.cost}{over}" if self.cost > 1 else ""
        return (
            f"rate limit exceeded: {self.budget.name} per {self.per} ({self.budget.describe()}{note}); "
            f"retry in {self.retry_after} s"
        )

    def headers(self) -> dict[str, str]:
        item = self.budget.item
        return {
            "Retry-After": str(self.retry_after),
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.retry_after),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }

    def graphql_body(self) -> bytes:
        return json.dumps({"errors": [{"message": self.message, "extensions": {"code": "RATE_LIMITED"}}]}).encode()


class _Ticket:
    """One /graphql request: whose budget it uses, whether the schema charged it, and its refusal if any."""

    __slots__ = ("identity", "per", "charged", "refusal")

    def __init__(self, identity: str, per: str) -> None:
        self.identity, self.per = identity, per
        self.charged = False
        self.refusal: Refusal | None = None


_ticket: ContextVar[_Ticket | None] = ContextVar("cms_rate_limit_ticket", default=None)


@functools.lru_cache(maxsize=4096)
def client_key(host: str | None) -> str:
    """The budget key of an anonymous client: its IP address; an IPv6 address by its /64 (one host's share)."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return f"ip:{host or 'unknown'}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"


def _client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _caller(scope: Scope) -> tuple[str, str]:
    principal = principal_of(_Scope(scope))
    if principal is not None:
        return f"user:{principal.subject}", "user"
    return client_key(_client_host(scope)), "IP"


class _Scope:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope


def storage_uri(settings: Settings) -> str:
    """The `limits` storage URI of the app's Redis: REDIS_URL, or the embedded Redis's socket."""
    if settings.redis_url:
        scheme, _, rest = settings.redis_url.partition("://")
        return f"async+redis+unix://{rest}" if scheme == "unix" else f"async+{settings.redis_url}"
    return f"async+redis+unix://{redis_settings(settings).unix_socket_path}"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reads = Budget("reads", "reads", parse(settings.rate_reads), "query cost points")
        self.mutations = Budget("mutations", "mutations", parse(settings.rate_mutations))
        self.uploads = Budget("uploads", "uploads", parse(settings.rate_uploads))
        self.auth_failures = Budget("auth-failures", "failed authentications", parse(settings.rate_auth_failures))
        self._storage: RedisStorage | None = None
        self._strategy: SlidingWindowCounterRateLimiter | None = None
        self._blocked: dict[tuple[str, str], float] = {}  # (budget, caller) -> refused until (epoch seconds)
        self._deferred: dict[tuple[str, str], int] = {}  # (caller, per) -> reads not yet charged
        self._flush: asyncio.Task[None] | None = None
        self._warned = 0.0
        self._redis_down_until = 0.0

    # --- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect lazily (the first hit opens the connection); an embedded Redis is started here."""
        if self._strategy is None:
            self._storage = RedisStorage(
                storage_uri(self.settings),
                implementation="redispy",
                key_prefix=self.settings.rate_limit_prefix,
                wrap_exceptions=True,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
            )
            self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    async def aclose(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._storage is not None:
            # start() asks for the redis-py implementation: its bridge hands out a redis.asyncio.Redis (limits types
            # the bridge and the client more loosely).
            bridge = cast(RedispyBridge, self._storage.bridge)
            client = cast(Redis, bridge.get_connection())
            self._storage = self._strategy = None
            await client.aclose()

    # --- charging ---------------------------------------------------------------------------------------------

    async def charge_graphql(self, kind: str, estimate: Estimate) -> str | None:
        """cms.api.cost's Charge: the current request's budget pays for the operation, or the refusal's message."""
        ticket = _ticket.get()
        if ticket is None:  # not an HTTP request through the middleware (a WebSocket, an in-process call)
            return None
        ticket.charged = True
        if kind == "mutation":
            refusal = await self._hit(self.mutations, ticket.identity, ticket.per, max(1, len(estimate.root_fields)))
            uploads = estimate.root_fields.count("createUpload")
            if refusal is None and uploads:
                refusal = await self._hit(self.uploads, ticket.identity, ticket.per, uploads)
        elif (cost := max(1, estimate.cost)) >= CHARGE_NOW * self.reads.item.amount:
            refusal = await self._hit(self.reads, ticket.identity, ticket.per, cost)
        else:
            refusal = self.charge_later(ticket.identity, ticket.per, cost)
        ticket.refusal = refusal
        return refusal.message if refusal else None

    def auth_blocked(self, scope: Scope) -> Refusal | None:
        """A source already past its failed-authentication budget (known to this process): no Redis call."""
        return self._memo_refusal(self.auth_failures, client_key(_client_host(scope)), "IP", 1)

    async def auth_failed(self, scope: Scope) -> Refusal | None:
        """Count a failed authentication; the refusal once the source is past its budget."""
        return await self._hit(self.auth_failures, client_key(_client_host(scope)), "IP", 1)

    async def charge_upload(self, scope: Scope) -> Refusal | None:
        return await self._hit(self.uploads, *_caller(scope), 1)

    def charge_later(self, identity: str, per: str, cost: int = 1) -> Refusal | None:
        """`cost` reads, charged with the caller's others in one call DEFER_SECONDS later; refused at once if the
        caller is known to be past its read budget."""
        refusal = self._memo_refusal(self.reads, identity, per, cost)
        if refusal is None:
            key = (identity, per)
            self._deferred[key] = self._deferred.get(key, 0) + cost
            if self._flush is None:
                # Shared by every caller of the next DEFER_SECONDS: a fresh context, not the log context and span of
                # the request that happened to start it (that request may be long over when it runs).
                self._flush = asyncio.get_running_loop().create_task(self._flush_deferred(), context=Context())
        return refusal

    async def _flush_deferred(self) -> None:
        await asyncio.sleep(DEFER_SECONDS)
        batch, self._deferred, self._flush = self._deferred, {}, None
        # Bookkeeping every DEFER_SECONDS under read traffic: its Redis calls would each be a trace of their own.
        with suppress_instrumentation():
            for (identity, per), cost in batch.items():
                refusal = await self._hit(self.reads, identity, per, cost)
                if refusal is not None:  # past the budget: use up what is left (other processes see it), refuse here
                    if 0 < refusal.remaining < cost:
                        await self._hit(self.reads, identity, per, refusal.remaining)
                    self._remember(self.reads, identity, time.time() + refusal.retry_after)

    async def _hit(self, budget: Budget, identity: str, per: str, cost: int) -> Refusal | None:
        refusal = self._memo_refusal(budget, identity, per, cost)
        if refusal is not None:
            return refusal
        if self._redis_down_until and time.monotonic() < self._redis_down_until:
            return None
        self.start()
        assert self._strategy is not None  # start() sets it
        try:
            if await self._strategy.hit(budget.item, budget.key, identity, cost=cost):
                return None
            stats = await self._strategy.get_window_stats(budget.item, budget.key, identity)
        except Exception:  # noqa: BLE001 - storage errors (wrapped by limits) or a timeout: fail open
            self._warn_unavailable()
            return None
        now = time.time()
        if cost > budget.item.amount:  # never fits (CMS_QUERY_COST_LIMIT is checked against reads): a window
            return Refusal(budget, per, budget.item.get_expiry(), stats.remaining, cost)
        retry = max(1, math.ceil(stats.reset_time - now))
        if stats.remaining <= 0:
            self._remember(budget, identity, now + retry)
        return Refusal(budget, per, retry, stats.remaining, cost)

    def _memo_refusal(self, budget: Budget, identity: str, per: str, cost: int) -> Refusal | None:
        until = self._blocked.get((budget.key, identity))
        if until is None:
            return None
        left = until - time.time()
        if left <= 0:
            del self._blocked[(budget.key, identity)]
            return None
        return Refusal(budget, per, max(1, math.ceil(left)), 0, cost)

    def _remember(self, budget: Budget, identity: str, until: float) -> None:
        if len(self._blocked) >= _MEMO_ENTRIES:
            now = time.time()
            self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            if len(self._blocked) >= _MEMO_ENTRIES:
                self._blocked.clear()
        self._blocked[(budget.key, identity)] = until

    def _warn_unavailable(self) -> None:
        now = time.monotonic()
        self._redis_down_until = now + _RETRY_REDIS_AFTER
        if now - self._warned > _WARN_EVERY:
            self._warned = now
            log.warning("rate limits not applied: Redis is unavailable", exc_info=True)


class RateLimitMiddleware:
    """Sets up each /graphql request's budget (charged by the schema's QueryCost) and turns its refusal into a 429;
    charges PUT /uploads/{id} before the body is read. After AuthenticationMiddleware: the caller is known."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == "/graphql":
            return await self._graphql(scope, receive, send)
        if scope["method"] == "PUT" and scope["path"].startswith("/uploads/"):
            refusal = await self.limiter.charge_upload(scope)
            if refusal is not None:  # the body is not read: close the connection after answering
                RATE_LIMIT_REFUSALS.labels(kind=refusal.budget.key).inc()
                body = json.dumps({"error": refusal.message, "code": "RATE_LIMITED"}).encode()
                return await _respond(send, refusal, body, {"Connection": "close"})
        await self.app(scope, receive, send)

    async def _graphql(self, scope: Scope, receive: Receive, send: Send) -> None:
        ticket = _Ticket(*_caller(scope))
        replaced = False

        async def send_limited(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start":
                if not ticket.charged:  # a cache hit, a malformed request...: one read, charged later
                    refusal = self.limiter.charge_later(ticket.identity, ticket.per)
                    if refusal is not None:
                        replaced = True
                        RATE_LIMIT_REFUSALS.labels(kind=refusal.budget.key).inc()
                        return await _respond(send, refusal, refusal.graphql_body())
                if ticket.refusal is not None:
                    RATE_LIMIT_REFUSALS.labels(kind=ticket.refusal.budget.key).inc()
                    message["status"] = 429
                    headers = MutableHeaders(scope=message)
                    for name, value in ticket.refusal.headers().items():
                        headers[name] = value
            elif replaced:
                return  # the refused response's body
            await send(message)

        token = _ticket.set(ticket)
        try:
            await self.app(scope, receive, send_limited)
        finally:
            _ticket.reset(token)


async def _respond(send: Send, refusal: Refusal, body: bytes, extra: dict[str, str] | None = None) -> None:
    headers = {
        **refusal.headers(),
        **(extra or {}),
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})
