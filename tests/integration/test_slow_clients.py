"""Slow and idle clients against a real `cms serve`, over raw loopback sockets: half-sent requests are timed out,
an oversized request line is refused after its first bytes, idle sockets neither starve `/health` nor outgrow the
connection cap, and past the concurrency limit the answer is 503 with Retry-After.

Every loop is bounded in count; nothing asserts a wall-clock time (durations are printed as measurements)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support.processes import eventually
from tests.support.serve import Served, cms_serve, raise_open_files

IDLE = 2000


@pytest.fixture(scope="module")
async def strict(
    pg_server: PgTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """Short timeouts, so half-sent requests end within the test."""
    env = {
        "CMS_HTTP_HEADER_TIMEOUT": "1",
        "CMS_HTTP_BODY_TIMEOUT": "1",
        "CMS_HTTP_TIMEOUT_KEEP_ALIVE": "1",
        "CMS_PUBLIC_CACHE_SECONDS": "0",
    }
    async with cms_serve(
        pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path_factory.mktemp("strict"), env=env
    ) as served:
        yield served


@pytest.fixture(scope="module")
async def roomy(
    pg_server: PgTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """Default timeouts (idle sockets stay for the test), a connection cap a test can reach, two requests in flight."""
    env = {
        "CMS_HTTP_MAX_CONNECTIONS": str(IDLE + 500),
        "CMS_HTTP_LIMIT_CONCURRENCY": "2",
        "CMS_PUBLIC_CACHE_SECONDS": "0",
    }
    async with cms_serve(
        pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path_factory.mktemp("roomy"), env=env
    ) as served:
        yield served


class Conn:
    """A raw, non-blocking client socket and what the server has sent on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = b""
        self.closed = False

    def poll(self) -> bool:
        """Read what has come; True once the server has closed the connection."""
        while not self.closed:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return False
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.received += chunk
        return True


async def _open(port: int, count: int, first: bytes = b"") -> list[Conn]:
    """`count` connections to the server, each having sent `first` (nothing: an idle socket)."""
    loop = asyncio.get_running_loop()

    async def one() -> Conn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        if first:
            await loop.sock_sendall(sock, first)
        return Conn(sock)

    conns: list[Conn] = []
    for start in range(0, count, 250):
        conns += await asyncio.gather(*(one() for _ in range(start, min(count, start + 250))))
    return conns


def _open_count(conns: list[Conn]) -> int:
    return sum(not conn.poll() for conn in conns)


def _close(conns: list[Conn]) -> None:
    for conn in conns:
        conn.sock.close()


async def _poll_health(url: str, times: int) -> list[float]:
    """GET /health `times` times, each on a new connection (a new accept, as a load balancer does); returns the
    latencies. Every answer must be 200."""
    latencies = []
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    async with httpx.AsyncClient(base_url=url, timeout=10, transport=transport) as client:
        for _ in range(times):
            started = time.perf_counter()
            response = await client.get("/health")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.json() == {"status": "ok"}
            await asyncio.sleep(0.05)
    return latencies


def _ms(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return f"median {ordered[len(ordered) // 2] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


async def test_half_sent_requests_are_timed_out_while_health_answers(strict: Served) -> None:
    heads = await _open(strict.port, 200, b"GET /health HTTP/1.1\r\nHost: cms\r\nX-Slow: ")
    bodies = await _open(
        strict.port,
        200,
        b"POST /graphql HTTP/1.1\r\nHost: cms\r\nContent-Type: application/json\r\n"
        b'Content-Length: 4096\r\n\r\n{"query": "{ __typ',
    )
    idle = await _open(strict.port, 200)
    try:
        latencies = await _poll_health(strict.url, 10)
        print(f"\n/health with 600 half-sent and idle connections: {_ms(latencies)}")

        async def all_closed() -> bool:
            return _open_count(heads + bodies + idle) == 0

        await eventually(
            all_closed,
            what="every half-sent and idle connection to be closed",
            attempts=100,
            delay=0.1,
            processes=(strict.process,),
        )
        answers = {conn.received[:30] for conn in heads + bodies}
        assert answers == {b"HTTP/1.1 408 Request Timeout\r\n"}, answers
        assert {conn.received for conn in idle} == {b""}  # nothing came: closed without a word
    finally:
        _close(heads + bodies + idle)


async def test_a_slow_but_steady_body_is_not_cut_off(strict: Served) -> None:
    """The body timeout is for a body that stops, not for one that arrives slowly: 6 pieces 0.4 s apart (2.4 s in
    all, the timeout is 1 s) make a complete request that is answered."""
    body = b'{"query": "{ __typename }"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.port)
    try:
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: cms\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        step = -(-len(body) // 6)
        for start in range(0, len(body), step):
            await asyncio.sleep(0.4)
            writer.write(body[start : start + step])
            await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert answer.endswith(b'{"data":{"__typename":"Query"}}')


async def test_idle_keep_alive_connection_is_closed(strict: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: cms\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        assert head.startswith(b"HTTP/1.1 200 ")
        await asyncio.wait_for(reader.readexactly(15), timeout=10)  # {"status":"ok"}
        rest = await asyncio.wait_for(reader.read(), timeout=10)  # CMS_HTTP_TIMEOUT_KEEP_ALIVE=1: the server closes
    finally:
        writer.close()
    assert rest == b""


async def test_an_oversized_request_line_is_refused_after_its_first_bytes(strict: Served) -> None:
    """162 MiB of request line: refused with 431 once the 64 KiB limit is passed, long before the client is done."""

    def send_huge() -> tuple[int, bytes, float]:
        started = time.perf_counter()
        sent = 0
        with socket.create_connection(("127.0.0.1", strict.port), timeout=10) as sock:
            chunk = b"a" * 65536
            try:
                sock.sendall(b"GET /")
                while sent < 162 * 1024 * 1024:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = b""
            try:
                while data := sock.recv(65536):
                    answer += data
            except ConnectionResetError:
                pass
        return sent, answer, time.perf_counter() - started

    sent, answer, seconds = await asyncio.to_thread(send_huge)
    print(f"\n162 MiB request line: refused after {sent / 2**20:.1f} MiB sent, in {seconds * 1000:.0f} ms")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert sent < 32 * 1024 * 1024  # what socket buffers hold, not the 162 MiB

    many = b"".join(b"X-Padding-%d: %s\r\n" % (i, b"b" * 1000) for i in range(80))  # 80 KiB of small headers
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: cms\r\n" + many + b"\r\n")
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    except ConnectionResetError:
        answer = b"<reset>"
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_a_whole_request_with_a_large_body_in_one_read_is_not_taken_for_a_large_head(strict: Served) -> None:
    """Head and a 100 KiB body in one write (a browser's upload PUT often arrives so): the body is not head bytes."""
    body = b'{"query": "{ __typename }", "variables": {"pad": "' + b"p" * 100 * 1024 + b'"}}'
    head = b"POST /graphql HTTP/1.1\r\nHost: cms\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.port)
    try:
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert b'"__typename":"Query"' in answer


async def test_a_long_but_allowed_query_string_still_works(strict: Served) -> None:
    """A GraphQL GET with a 30 KiB query string is under the 64 KiB head limit and is answered."""
    query = "{ __typename " + " ".join(f"a{i}: __typename" for i in range(2000)) + " }"
    assert len(query) > 30_000
    async with httpx.AsyncClient(base_url=strict.url, timeout=10) as client:
        response = await client.get("/graphql", params={"query": query}, headers={"Accept": "application/json"})
    assert response.status_code != 431 and response.status_code < 500, response.text[:300]


async def test_health_answers_while_thousands_of_idle_sockets_are_open(roomy: Served) -> None:
    raise_open_files(IDLE * 2 + 1000)
    baseline = await _poll_health(roomy.url, 20)
    print(f"\n/health with no idle sockets: {_ms(baseline)}")
    started = time.perf_counter()
    idle = await _open(roomy.port, IDLE)
    opened = time.perf_counter() - started
    try:
        latencies = await _poll_health(roomy.url, 20)
        still_open = _open_count(idle)
        print(
            f"{IDLE} idle sockets opened in {opened:.1f} s; /health meanwhile: {_ms(latencies)}; "
            f"{still_open} still open"
        )
        assert still_open == IDLE  # under the cap and the 10 s header timeout: none closed yet

        # Past the cap (IDLE + 500) the connections that waited longest are closed to make room.
        more = await _open(roomy.port, 1000)
        try:
            latencies = await _poll_health(roomy.url, 10)
            print(f"/health with {IDLE + 1000} sockets against a cap of {IDLE + 500}: {_ms(latencies)}")

            async def capped() -> int:
                open_now = _open_count(idle + more)
                return open_now if open_now <= IDLE + 500 else 0

            open_now = await eventually(
                capped,
                what="the connection cap to close the oldest idle sockets",
                attempts=50,
                delay=0.1,
                processes=(roomy.process,),
            )
            assert open_now >= IDLE + 500 - 20  # the cap, less the /health polls' own connections
            assert _open_count(more[-100:]) == 100  # the newest were kept
        finally:
            _close(more)
    finally:
        _close(idle)


async def test_past_the_concurrency_limit_the_answer_is_503_with_retry_after(roomy: Served) -> None:
    """Two requests in flight (CMS_HTTP_LIMIT_CONCURRENCY=2): two POSTs whose bodies are still coming."""
    head = b"POST /graphql HTTP/1.1\r\nHost: cms\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
    body = b'{"query": "{ __typename }"}'
    pending = [await asyncio.open_connection("127.0.0.1", roomy.port) for _ in range(2)]
    try:
        for _, writer in pending:
            writer.write(head + body[:5])
            await writer.drain()
        async with httpx.AsyncClient(base_url=roomy.url, timeout=10) as client:

            async def refused() -> httpx.Response | None:
                response = await client.post("/graphql", json={"query": "{ __typename }"})
                return response if response.status_code == 503 else None

            response = await eventually(refused, what="a 503 past the concurrency limit", attempts=50, delay=0.1)
            assert response.headers["retry-after"] == "1"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert (await client.get("/health")).status_code == 200  # liveness is never refused

            reader, writer = pending[0]
            writer.write(body[5:])
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            assert answer.startswith(b"HTTP/1.1 200 ")

            async def served() -> bool:
                return (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200

            await eventually(served, what="a request to be served once a slot is free", attempts=50, delay=0.1)
    finally:
        for _, writer in pending:
            writer.close()
