"""CORS for the API paths: exact origins from `CMS_CORS_ORIGINS`, preflight answered here and cached by browsers.

Pure ASGI. Only the paths in `paths` are covered (`/graphql`, `/uploads/...`): routes that answer CORS themselves
(the edge plugin's `Access-Control-Allow-Origin: *` for media) are left alone.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed origin is answered 204
  with the origin echoed, the methods of that path, the request headers GraphQL clients send, and `Max-Age`;
  from any other origin it is answered 403 with no CORS header at all. It never reaches the app.
- Other requests go to the app; an allowed origin's response gains `Access-Control-Allow-Origin` (the origin),
  `Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers`. A refused origin's gains nothing.
- `Vary: Origin` on every response of a covered path once any origin is configured, so no shared cache hands
  one origin's answer to another.

Credentials: the origin is always an exact one (settings refuse `*`), so `Allow-Credentials: true` is safe to send;
the API itself reads no cookies (tokens come in `Authorization`), it only lets clients that fetch with
`credentials: "include"` (cookie-based proxies in front of the CMS) work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What Apollo Client, urql, graphql-ws/graphql-sse clients and our own admin send on cross-origin requests.
ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-request-id",
    "x-csrf-token",
    "graphql-client-name",
    "graphql-client-version",
    "cache-control",
)
# What browser code may read from our responses: correlation id, rate-limit and overload answers, upload validators.
EXPOSE_HEADERS = (
    "x-request-id",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "etag",
    "location",
)
MAX_AGE_SECONDS = 600
# Path prefix -> methods a browser may use on it.
DEFAULT_PATHS: Mapping[str, tuple[str, ...]] = {"/graphql": ("GET", "POST"), "/uploads/": ("PUT",)}


class CORSMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Iterable[str],
        paths: Mapping[str, tuple[str, ...]] = DEFAULT_PATHS,
        max_age: int = MAX_AGE_SECONDS,
    ) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.paths = dict(paths)
        self._simple = [
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode()),
        ]
        self._preflight = {
            prefix: {
                "access-control-allow-methods": ", ".join(methods),
                "access-control-allow-headers": ", ".join(ALLOW_HEADERS),
                "access-control-max-age": str(max_age),
                "access-control-allow-credentials": "true",
            }
            for prefix, methods in self.paths.items()
        }

    def _prefix(self, path: str) -> str | None:
        for prefix in self.paths:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return prefix
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.origins:
            return await self.app(scope, receive, send)
        prefix = self._prefix(scope["path"])
        if prefix is None:
            return await self.app(scope, receive, send)
        origin = preflight = None
        for name, value in scope["headers"]:  # one pass over raw headers: this runs on every API request
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight = value
        allowed = origin is not None and origin in self.origins
        if scope["method"] == "OPTIONS" and origin is not None and preflight is not None:
            return await self._preflight_response(send, prefix, origin if allowed else None)
        extra = (
            [(b"access-control-allow-origin", origin.encode("latin-1")), *self._simple]
            if allowed and origin is not None
            else []
        )

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new message: the app may keep its own (the public cache replays it for other origins).
                message = {**message, "headers": _with_vary(message.get("headers") or [], extra)}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight_response(self, send: Send, prefix: str, origin: str | None) -> None:
        vary = b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        if origin is None:
            body = b"origin not allowed\n"
            raw = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"vary", vary),
            ]
            await send({"type": "http.response.start", "status": 403, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return
        raw = [(k.encode(), v.encode()) for k, v in self._preflight[prefix].items()]
        raw += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", vary)]
        await send({"type": "http.response.start", "status": 204, "headers": raw})
        await send({"type": "http.response.body", "body": b""})


def _with_vary(headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus `extra`, with Origin added to Vary (merged into the response's own Vary, if any)."""
    out = []
    varied = False
    for name, value in headers:
        if name.lower() == b"vary" and not varied:
            varied = True
            if b"origin" not in value.lower() and value.strip() != b"*":
                value = value + b", Origin"
        out.append((name, value))
    if not varied:
        out.append((b"vary", b"Origin"))
    out += extra
    return out
