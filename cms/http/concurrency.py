"""At most `limit` HTTP requests in flight in this process; past it, 503 with `Retry-After`, answered at once.

Pure ASGI. A request counts from its headers to the end of its response (a body still arriving counts: that is
what holds memory and a task). Liveness probes are exempt, so an orchestrator does not restart a process for
being busy. uvicorn's own `limit_concurrency` is not used: it counts open connections too, so idle keep-alive
sockets would turn every request into a 503, and its 503 has no `Retry-After`.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("cms.http")

EXEMPT_PATHS = frozenset({"/health", "/livez"})
RETRY_AFTER_SECONDS = 1
_BODY = b"server busy: too many requests in flight, retry shortly\n"


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self._last_log = 0.0
        self._refused_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"retry-after", str(retry_after).encode()),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            if (now := time.monotonic()) - self._last_log >= 1.0:  # at most one line a second under overload
                self._last_log = now
                log.warning("503: %d requests in flight (CMS_HTTP_LIMIT_CONCURRENCY=%d)", self.in_flight, self.limit)
            await send({"type": "http.response.start", "status": 503, "headers": list(self._refused_headers)})
            await send({"type": "http.response.body", "body": _BODY})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
