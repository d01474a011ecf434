"""uvicorn's httptools protocol with guards against slow and idle clients, for `cms serve`.

uvicorn times out only idle keep-alive connections: a connection that never sends a request, sends its headers
a byte at a time or stops half-way through its body is kept for ever, and a request line is read whatever its size.
The guards cost a request a few dictionary updates and flags: one timer per server (`_Watch`) checks the
deadlines every quarter of the shortest timeout (at most every second), so a timeout fires up to two checks late.


- **header timeout**: from the moment the connection waits for a request (opened, or its last response sent) the
  request's headers must be complete within `header_timeout` seconds; else 408 (when part of a request came) and
  the connection is closed.
- **header size**: a request line plus headers over `max_header_bytes` is answered 431 and closed, as soon as that
  many bytes have come (a 162 MiB request line is refused after its first 64 KiB).
- **body timeout**: a request body that stops arriving for `body_timeout` seconds (time while the app itself does
  not read does not count) is answered 408 and the connection closed; the app sees `http.disconnect`.
- **connection cap**: past `max_connections` open connections, the connection that has waited longest for a
  request (idle, or still sending headers) is closed to make room, so idle sockets cannot starve real clients of
  file descriptors; `/health` keeps answering while thousands of idle sockets are open.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("cms.http")

# File descriptors kept free past the connection cap: the database pool, Redis, storage, logs, accept itself.
RESERVED_DESCRIPTORS = 256


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 10_000


def _response(status: int, reason: str, body: str) -> bytes:
    data = body.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(data)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + data


_TIMEOUT_408 = _response(408, "Request Timeout", "request not received in time\n")
_TOO_LARGE_431 = _response(431, "Request Header Fields Too Large", "request line and headers too large\n")


class _Watch:
    """One server's connections that a timeout may end, and the one timer that checks them (a few times per
    timeout, so a request pays for no timer of its own: only dictionary updates)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        # Connections waiting for a request's headers -> since when (loop time), the longest-waiting first.
        self.waiting: OrderedDict[GuardedHttpToolsProtocol, float] = OrderedDict()
        # Connections whose request body is still coming.
        self.receiving: dict[GuardedHttpToolsProtocol, None] = {}
        self.interval = min(1.0, max(0.05, min(limits.header_timeout, limits.body_timeout) / 4))
        self._timer: asyncio.TimerHandle | None = None

    def ensure_running(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None:
            self._timer = loop.call_later(self.interval, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        deadline = now - self.limits.header_timeout
        while self.waiting:
            conn, since = next(iter(self.waiting.items()))
            if since > deadline:
                break
            conn._head_timeout()  # leaves `waiting`
        for conn in list(self.receiving):
            conn._check_body(now)
        if self.waiting or self.receiving:
            self.ensure_running(loop)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Bind with `protocol_class(limits)`; each bound class serves one uvicorn server."""

    watch: ClassVar[_Watch] = _Watch(ConnectionLimits())

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._awaiting_head = True  # the next bytes on the wire belong to a request's head
        self._head_bytes = 0
        self._head_fields = 0  # request line and header bytes the parser has handed over
        self._heads_parsed = 0  # request heads completed on this connection
        self._bodies_ended = 0  # request bodies completed on this connection
        self._body_active = False  # body bytes came since the last check
        self._body_seen = 0.0  # loop time of the last check that saw body bytes

    # -- connection lifetime

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_head()
        waiting = self.watch.waiting
        excess = len(self.connections) - self.watch.limits.max_connections
        while excess > 0 and waiting:
            next(iter(waiting))._close_waiting()
            excess -= 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._unwatch()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        heads_before, bodies_before = self._heads_parsed, self._bodies_ended
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded to a WebSocket
            self._unwatch()
            return
        if self._heads_parsed != heads_before or self._bodies_ended != bodies_before:
            # A body ended inside this read (its tail, up to a whole read of upload bytes, is no head), or a head
            # ended inside this read, so most of it was that head and the body after it (a whole request in
            # one read: `_awaiting_head` is true again). The parsed head was measured in on_headers_complete; the
            # start of a next pipelined head is counted from the next read on.
            return
        if self._awaiting_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.watch.limits.max_header_bytes:
                log.warning("431: request head over %d bytes from %s", self.watch.limits.max_header_bytes, self.client)
                self._refuse(_TOO_LARGE_431)

    # -- parser callbacks

    def on_url(self, url: bytes) -> None:
        self._head_fields += len(url) + 16  # with the method, the version and CRLF
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += len(name) + len(value) + 4  # with ": " and CRLF, as on the wire
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # A whole head can arrive in one read and be parsed before data_received counts it: check what was parsed.
        fields, self._head_fields = self._head_fields, 0
        if fields > self.watch.limits.max_header_bytes:
            log.warning("431: request head over %d bytes from %s", self.watch.limits.max_header_bytes, self.client)
            self._refuse(_TOO_LARGE_431)
            return
        self._awaiting_head = False
        self._head_bytes = 0
        self._heads_parsed += 1
        self.watch.waiting.pop(self, None)
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._body_active = True
            watch = self.watch
            watch.receiving[self] = None
            if watch._timer is None:
                watch.ensure_running(self.loop)

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing():  # refused at its head: no request cycle to feed
            return
        self._body_active = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        self.watch.receiving.pop(self, None)
        self._awaiting_head = True
        self._bodies_ended += 1
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete and not self.pipeline:
            self._wait_for_head()  # answered before its body ended: the next request starts now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._awaiting_head and not self.transport.is_closing():
            self._wait_for_head()

    # -- timeouts (called by the watch)

    def _wait_for_head(self) -> None:
        waiting = self.watch.waiting
        waiting.pop(self, None)
        waiting[self] = self.loop.time()
        if self.watch._timer is None:
            self.watch.ensure_running(self.loop)

    def _unwatch(self) -> None:
        self.watch.waiting.pop(self, None)
        self.watch.receiving.pop(self, None)

    def _head_timeout(self) -> None:
        if self._head_bytes:  # part of a request came: say why it ends
            self._refuse(_TIMEOUT_408)
        else:
            self._close_waiting()

    def _check_body(self, now: float) -> None:
        if self._body_active or self.flow.read_paused:  # bytes came, or the app is not reading (not the client's fault)
            self._body_active = False
            self._body_seen = now
            return
        quiet = now - self._body_seen
        if quiet < self.watch.limits.body_timeout:
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            log.warning("408: request body from %s stalled for %.0f s", self.client, quiet)
            cycle.disconnected = True  # the app's receive() answers http.disconnect, its sends are dropped
            cycle.message_event.set()
            self._refuse(_TIMEOUT_408)
        else:
            self._unwatch()
            self.transport.close()

    def _refuse(self, response: bytes) -> None:
        self._unwatch()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _close_waiting(self) -> None:
        self._unwatch()
        self.connections.discard(self)
        if not self.transport.is_closing():
            self.transport.close()


def protocol_class(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to `limits`, with its own watch over its connections."""
    return type("CmsHttpProtocol", (GuardedHttpToolsProtocol,), {"watch": _Watch(limits)})


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (sockets are file descriptors); returns the soft
    limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open files limit from %d to %d", soft, target)
    return soft


def connection_cap(requested: int, open_files: int) -> int:
    """The connection cap: as asked, but always leaving RESERVED_DESCRIPTORS free below the open files limit."""
    if open_files == resource.RLIM_INFINITY:
        return requested
    return max(1, min(requested, open_files - RESERVED_DESCRIPTORS))
