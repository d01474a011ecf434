"""Security headers on every HTTP response: added when the response has not set the header itself.

Pure ASGI and cheap: the header list is built once; per response it is one pass over the response's own header
names. A route that sets one of these headers (GraphiQL its fuller Content-Security-Policy, the edge plugin its
`X-Content-Type-Options`) keeps its own value.

- `X-Content-Type-Options: nosniff`: a JSON answer or a media file is never sniffed into HTML or script.
- `Content-Security-Policy: frame-ancestors 'none'` and `X-Frame-Options: DENY` (for browsers without CSP 2): no
  page of ours (GraphiQL) can be framed for clickjacking. Media are loaded by `<video>`/`<img>`, never framed.
- `Referrer-Policy: no-referrer`: nothing this server serves needs to tell anyone where a click came from, and
  GraphiQL's address carries the query being edited (`?q=...`); `strict-origin-when-cross-origin` would still send
  our origin, which gains nothing here.
- `Strict-Transport-Security: max-age=31536000` only when the public URL is https (the server is then only
  reachable over TLS). No `includeSubDomains`: the CMS's host should not decide for its siblings.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_SECONDS = 365 * 24 * 3600


def security_headers(*, https: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if https:
        headers.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = security_headers(https=https)
        self._names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers") or []
                present = [name.lower() for name, _ in own if name.lower() in self._names]
                missing = [pair for pair in self.headers if pair[0] not in present] if present else self.headers
                # A new message: the app may keep its own (the public cache replays it).
                message = {**message, "headers": [*own, *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
