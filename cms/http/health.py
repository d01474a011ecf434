"""Health probes: `/livez` (the process) and `/readyz` (the parts it serves from), `/health` and `/ready` as aliases.

- `/livez` answers 200 `{"status": "ok"}` whenever the event loop runs; it touches nothing else, so an orchestrator
  restarts a process only when the process itself is stuck, never because PostgreSQL is away (a restart would not
  bring PostgreSQL back). The concurrency limit lets it through (cms/http/concurrency.py).
- `/readyz` checks PostgreSQL where the pool connects (DATABASE_URL: PgBouncer when there is one; `SELECT 1` on a
  connection of its own, so a busy pool does not read as an outage),
  storage (`Storage.ping`: HEAD of each bucket, or the local directories) and Redis (PING), concurrently, each
  within CMS_READY_TIMEOUT_SECONDS. Its body lists each part's state (`ok`, `error` with the message, `timeout`) and
  latency. 503 when the database or storage fails; Redis only degrades it (200, `"status": "degraded"`): without
  Redis the API still accepts edits and uploads (their jobs wait in PostgreSQL's outbox and are handed over when
  Redis returns), so taking every API process out of the load balancer would turn a degradation into an outage.
- A probe storm does not hammer the parts: each check runs at most once per CACHE_SECONDS and never twice at once;
  callers in between share the last (or the running) result.
- The answer never waits past the timeout: a probe that has not answered is reported `timeout` and left behind
  (cancelled; a blocking call in a thread, S3 or a hung local mount, ends when its own timeouts say), and while it
  is still running the next checks wait on it instead of starting another, so a hung part costs one thread, not one
  per probe.
- The checks make no trace spans of their own (instrumentation suppressed): an orchestrator probing every few
  seconds would otherwise export a SQL, Redis and S3 trace each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from opentelemetry.instrumentation.utils import suppress_instrumentation
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from cms.core.db import PgTarget
from cms.core.redis import redis_settings
from cms.core.settings import Settings
from cms.media.storage import Storage

log = logging.getLogger("cms.health")

CACHE_SECONDS = 1.0
_NO_STORE = {"cache-control": "no-store"}


@dataclass(frozen=True)
class CheckResult:
    status: str  # "ok" | "error" | "timeout"
    latency_ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "latency_ms": round(self.latency_ms, 1)}
        if self.error is not None:
            body["error"] = self.error
        return body


class Check:
    """One part's check, run at most once per `ttl` seconds and never twice at a time."""

    def __init__(self, name: str, probe: Callable[[], Awaitable[object]], *, timeout: float, ttl: float) -> None:
        self.name = name
        self.probe = probe
        self.timeout = timeout
        self.ttl = ttl
        self._last: CheckResult | None = None
        self._last_at = 0.0
        self._running: asyncio.Task[CheckResult] | None = None
        self._probing: asyncio.Task[None] | None = None  # outlives a check that timed out, until it ends

    async def result(self) -> CheckResult:
        if self._last is not None and time.monotonic() - self._last_at < self.ttl:
            return self._last
        if self._running is None or self._running.done():
            # A context of its own: the shared check must not log with the first caller's request id and user.
            self._running = asyncio.create_task(self._run(), context=contextvars.Context())
        # Shielded: a caller that goes away (client disconnect) does not cancel the run others wait for.
        return await asyncio.shield(self._running)

    async def _run(self) -> CheckResult:
        started = time.monotonic()
        if self._probing is None or self._probing.done():
            # The probe task copies this context: the client libraries' instrumentations see it suppressed.
            with suppress_instrumentation():
                self._probing = asyncio.create_task(self._probe())
        probing = self._probing
        # Not wait_for: it would wait for a cancelled probe to finish, and a thread cannot be stopped.
        await asyncio.wait([probing], timeout=self.timeout)
        if not probing.done():
            self.cancel()  # an async probe stops now; one in a thread when its call returns
            result = CheckResult("timeout", _ms(started), f"no answer within {self.timeout:g} s")
        elif probing.cancelled():  # an earlier check's probe, given up on, that ended only now
            result = CheckResult("timeout", _ms(started), "an earlier probe that did not answer in time ended only now")
        elif (exc := probing.exception()) is not None:
            # The client's own timeout (S3's read timeout, Redis' socket timeout) is a timeout too.
            status = "timeout" if _is_timeout(exc) else "error"
            result = CheckResult(status, _ms(started), _describe(exc))
        else:
            result = CheckResult("ok", _ms(started))
        if result.status != "ok":
            log.warning("readiness: %s %s (%s)", self.name, result.status, result.error)
        self._last, self._last_at = result, time.monotonic()
        return result

    async def _probe(self) -> None:
        await self.probe()

    def cancel(self) -> None:
        # Once only: a second cancel would interrupt run_blocking's wait for its thread.
        if self._probing is not None and not self._probing.done() and not self._probing.cancelling():
            self._probing.cancel()


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or any("Timeout" in cls.__name__ for cls in type(exc).__mro__)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class DatabaseProbe:
    """`SELECT 1` on one connection kept for the purpose (reopened after a failure)."""

    def __init__(self, target: Callable[[], PgTarget | None]) -> None:
        self._target = target
        self._conn: asyncpg.Connection | None = None

    async def __call__(self) -> None:
        target = self._target()
        if target is None:
            raise RuntimeError("the database is not open yet")
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await target.connect()
            await self._conn.execute("SELECT 1")  # simple protocol: fine behind PgBouncer too
        except BaseException:  # a timeout cancels us too: never keep a connection in an unknown state
            self._drop()
            raise

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def aclose(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 1)
        self._drop()


class RedisProbe:
    """PING the app's Redis (REDIS_URL, or the embedded one), connecting on first use."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._client: Redis | None = None

    def _connect(self) -> Redis:
        options: dict[str, Any] = {"socket_connect_timeout": self._timeout, "socket_timeout": self._timeout}
        if self._settings.redis_url:
            client: Redis = Redis.from_url(self._settings.redis_url, **options)
            return client
        return Redis(unix_socket_path=redis_settings(self._settings).unix_socket_path, **options)

    async def __call__(self) -> None:
        if self._client is None:
            self._client = self._connect()
        await self._client.ping()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()


class Readiness:
    """The three checks and the verdict; `routes()` serves them."""

    REQUIRED = ("database", "storage")

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        database: Callable[[], PgTarget | None],
        *,
        ttl: float = CACHE_SECONDS,
    ) -> None:
        timeout = settings.ready_timeout_seconds
        self._database = DatabaseProbe(database)
        self._redis = RedisProbe(settings, timeout)
        self.checks = [
            Check("database", self._database, timeout=timeout, ttl=ttl),
            Check("storage", storage.ping, timeout=timeout, ttl=ttl),
            Check("redis", self._redis, timeout=timeout, ttl=ttl),
        ]

    async def report(self) -> tuple[int, dict[str, Any]]:
        results = await asyncio.gather(*(check.result() for check in self.checks))
        by_name = dict(zip((check.name for check in self.checks), results, strict=True))
        failed = [name for name, result in by_name.items() if result.status != "ok"]
        if any(name in self.REQUIRED for name in failed):
            status, code = "unavailable", 503
        else:
            status, code = ("degraded" if failed else "ready"), 200
        body = {
            "status": status,
            "database": by_name["database"].status == "ok",  # kept from the first /ready
            "checks": {name: result.as_json() for name, result in by_name.items()},
        }
        return code, body

    async def aclose(self) -> None:
        for check in self.checks:
            check.cancel()
        await self._database.aclose()
        await self._redis.aclose()

    def routes(self) -> list[BaseRoute]:
        async def livez(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"}, headers=_NO_STORE)

        async def readyz(request: Request) -> JSONResponse:
            code, body = await self.report()
            return JSONResponse(body, code, headers=_NO_STORE)

        return [
            Route("/livez", livez),
            Route("/health", livez),
            Route("/readyz", readyz),
            Route("/ready", readyz),
        ]
