"""Outages as 503 with `Retry-After` on every HTTP route, never a 500.

A route (an upload's PUT, a plugin's route, authentication looking up a user) that fails because PostgreSQL, Redis or
storage cannot be reached (cms/core/unavailable.py tells which) is answered 503 with a JSON body naming the part,
as long as its response has not started; anything else propagates as before. GraphQL answers its own 503s
(cms/http/graphql.py), in the GraphQL error shape. Pure ASGI.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.core.unavailable import RETRY_AFTER_SECONDS, message, unavailable_part

log = logging.getLogger("cms.http")


class UnavailableMiddleware:
    def __init__(self, app: ASGIApp, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            part = unavailable_part(exc)
            if part is None or started:
                raise
            request_id = scope.get("state", {}).get("request_id")
            log.warning("%s unavailable: %s %s [request %s]: %r", part, scope["method"], scope["path"], request_id, exc)
            body = json.dumps({"error": message(part), "code": "SERVICE_UNAVAILABLE", "service": part}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.retry_after).encode()),
                (b"cache-control", b"no-store"),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
