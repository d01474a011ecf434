"""One reader for request bodies: every chunk up to a limit, read once, then replayed to the app behind it.

Why: a body arrives in as many pieces as the network likes. Reading only the first message (or a prefix) hands
on a cut body, and a second reader after the first waits for messages that never come. Everything behind
`BufferedBody` (the public cache, the GraphQL endpoint) works on the bytes it read. Uploads stream on their own path.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_KEY = "cms.body"  # the scope key holding the body read by BufferedBody
# The GraphQL parameters (query, operationName, variables, extensions) as the first reader parsed them from that body
# or the GET query string (cms/http/persisted.py), so the endpoint does not parse them again.
PARAMS_KEY = "cms.graphql_params"

# (scope, status, message) -> the ASGI app that answers a refused body
Reject = Callable[[Scope, int, str], ASGIApp]


class BodyError(Exception):
    """A body the app will not take: `status` (400, 413) and a message for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def read_body(scope: Scope, receive: Receive, *, limit: int) -> bytes:
    """The whole body; BodyError(413) as soon as it (or its Content-Length) passes `limit` bytes, without
    reading on. Raises ClientDisconnect when the client goes away half way."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        raise BodyError(413, _too_large(limit))
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyError(413, _too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body as one message, then waits on the real one (so the app
    still hears about a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class BufferedBody:
    """Reads the body of `methods` requests before `app` runs: 413 past `limit`, 400 when empty, else the app
    gets the body in `scope[BODY_KEY]` and through its `receive`."""

    def __init__(self, app: ASGIApp, *, limit: int, reject: Reject, methods: tuple[str, ...] = ("POST",)) -> None:
        self.app, self.limit, self.reject, self.methods = app, limit, reject, methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.methods:
            return await self.app(scope, receive, send)
        try:
            body = await read_body(scope, receive, limit=self.limit)
        except ClientDisconnect:
            return  # nobody to answer
        except BodyError as exc:  # the rest is left unread: the connection cannot be used again
            return await self.reject(scope, exc.status, exc.message)(scope, receive, _closing(send))
        if not body:
            message = 'The request has no body: send a JSON object such as {"query": "{ __typename }"}.'
            return await self.reject(scope, 400, message)(scope, receive, send)
        await self.app({**scope, BODY_KEY: body}, replay(body, receive), send)


def _closing(send: Send) -> Send:
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    return closing


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we run
    return None


def _too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes (CMS_MAX_BODY_BYTES)."
