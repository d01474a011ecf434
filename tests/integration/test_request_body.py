"""The one request reader, over real sockets: bodies in many small writes, empty, over the limit, not an object.

Each test runs against the session server (public cache on, 300 s) and the same app with the cache off.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest

from tests.support.api import operation
from tests.support.uncached import uncached_url  # noqa: F401 - a fixture

LIMIT = 1024 * 1024  # CMS_MAX_BODY_BYTES' default, which the suite's settings keep
PERSIAN = "گفتگوی‌شبانه‌درباره‌ی‌سینما،‌موسیقی‌و‌کتاب؛"  # joined by ZWNJ, as Persian writes compounds


@pytest.fixture(params=["cache-on", "cache-off"])
def url(request, live_server, api) -> str:
    """Asks for `api` too: its teardown empties the tables."""
    return live_server.url if request.param == "cache-on" else request.getfixturevalue("uncached_url")


class Answer:
    def __init__(self, raw: bytes, sent: int) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.sent = sent  # body bytes written before the answer came

    def json(self) -> dict:
        return json.loads(self.body)


async def send_raw(
    url: str,
    body: bytes,
    *,
    piece: int | None = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
    length: int | None = None,
    pause: float = 0.001,
    timeout: float = 20,
) -> Answer:
    """POST /graphql over a fresh socket: the head, then the body in `piece`-byte writes (a pause between them so
    each arrives as its own read), stopping early once the server has answered."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    fields = {"Host": parts.netloc, "Content-Type": "application/json", "Connection": "close", **(headers or {})}
    if chunked:
        fields["Transfer-Encoding"] = "chunked"
    else:
        fields["Content-Length"] = str(len(body) if length is None else length)
    writer.write(("POST /graphql HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode())
    received = bytearray()

    async def read_all() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except ConnectionResetError:
            pass  # the server closed on a body it did not read; what it answered is in `received`

    reading = asyncio.create_task(read_all())
    sent = 0
    try:
        step = piece or max(len(body), 1)
        for start in range(0, len(body), step):
            if received or reading.done():
                break  # answered before the body was all sent
            data = body[start : start + step]
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            await writer.drain()
            sent += len(data)
            await asyncio.sleep(pause)
        if chunked and not received:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass
    await asyncio.wait_for(reading, timeout)
    writer.close()
    return Answer(bytes(received), sent)


def graphql_body(query: str, variables: dict | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def padded(size: int) -> bytes:
    """A valid `{ __typename }` request of exactly `size` bytes (an unused variable carries the padding)."""
    empty = graphql_body("{ __typename }", {"pad": ""})
    return graphql_body("{ __typename }", {"pad": "x" * (size - len(empty))})


# -- many small writes -----------------------------------------------------------


async def test_one_byte_writes(url):
    body = graphql_body("query OneByte($slug: String) { program(slug: $slug) { id } }", {"slug": "no-such-show"})
    answer = await send_raw(url, body, piece=1, pause=0)
    assert answer.status == 200, answer.body
    assert answer.json() == {"data": {"program": None}}


@pytest.mark.parametrize("piece", [8 * 1024, 64 * 1024 + 1], ids=["8KiB", "64KiB+1"])
async def test_large_create_program_in_pieces(url, api, piece):
    description = (PERSIAN * 1000)[:20_000]
    body = graphql_body(operation("CreateProgram"), {"input": {"title": "شب‌های رادیو", "description": description}})
    assert 110 * 1024 < len(body) < 120 * 1024  # ~117 KiB, every Persian letter escaped as \\uXXXX
    answer = await send_raw(url, body, piece=piece, headers={"Authorization": f"Bearer {api.token('editor')}"})
    assert answer.status == 200, answer.body[:500]
    created = answer.json()["data"]["createProgram"]
    assert created["__typename"] == "Program", created
    assert created["description"] == description


@pytest.mark.parametrize("piece", [8 * 1024, 64 * 1024 + 1], ids=["8KiB", "64KiB+1"])
async def test_large_anonymous_query_in_pieces_is_answered_and_cached_whole(url, live_server, piece):
    """A 100 kB search paste, anonymous (cacheable): the cache keys on the whole body, never a prefix."""
    query = "query Paste($q: String!) { search(query: $q, first: 1) { totalCount } }"
    prefix = f"{piece}-{url}:"  # this test's own cache entries (the session cache lives 300 s)
    body = graphql_body(query, {"q": prefix + "a" * 100_000})
    first, second = [await send_raw(url, body, piece=piece) for _ in range(2)]
    assert first.status == 200 and second.status == 200, first.body[:500]
    assert first.json() == second.json() == {"data": {"search": {"totalCount": 0}}}
    if url == live_server.url:
        assert second.headers.get("x-cache") == "HIT"
    # Same prefix, different tail: a different request, a different answer.
    other = await send_raw(url, graphql_body(query, {"q": prefix + "a" * 99_999 + "b"}), piece=piece)
    assert other.status == 200 and other.headers.get("x-cache") is None


# -- limits ----------------------------------------------------------------------


async def test_a_body_of_exactly_the_limit_is_accepted(url):
    answer = await send_raw(url, padded(LIMIT), piece=64 * 1024 + 1)
    assert answer.status == 200, answer.body[:500]
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_declared_length_over_the_limit_is_refused_before_the_body(url):
    answer = await send_raw(url, padded(LIMIT + 1), piece=64 * 1024, length=LIMIT + 1, pause=0.05)
    assert answer.status == 413, answer.body[:500]
    assert answer.sent < LIMIT  # answered while the body was still on its way
    assert "CMS_MAX_BODY_BYTES" in answer.json()["errors"][0]["message"]
    assert "data" not in answer.json()


async def test_chunked_body_over_the_limit_is_refused_as_soon_as_it_passes(url):
    body = padded(3 * LIMIT)
    answer = await send_raw(url, body, piece=64 * 1024, chunked=True, pause=0.01)
    assert answer.status == 413, answer.body[:500]
    assert LIMIT < answer.sent < 2 * LIMIT  # not read on to the end
    assert answer.headers.get("connection") == "close"
    assert answer.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_refusals_use_the_media_type_the_client_accepts(url):
    answer = await send_raw(url, b"", headers={"Accept": "application/graphql-response+json"})
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/graphql-response+json")
    answer = await send_raw(url, b"", length=LIMIT + 1, headers={"Accept": "application/graphql-response+json"})
    assert answer.status == 413
    assert answer.headers["content-type"].startswith("application/graphql-response+json")


# -- empty and malformed bodies --------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length-0", "chunked"])
async def test_empty_body_is_400_at_once(url, chunked):
    answer = await asyncio.wait_for(send_raw(url, b"", chunked=chunked), 5)
    assert answer.status == 400, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    message = answer.json()["errors"][0]["message"]
    assert "no body" in message and "query" in message
    assert "data" not in answer.json()


@pytest.mark.parametrize("raw", ['"str"', "42", "[]", "null", "true", '[{"query": "{ __typename }"}]'])
async def test_json_that_is_not_an_object_is_400(url, raw):
    answer = await send_raw(url, raw.encode(), piece=1, pause=0)
    assert answer.status == 400, answer.body
    body = answer.json()
    assert "JSON object" in body["errors"][0]["message"] and "data" not in body


async def test_malformed_json_in_pieces_is_400(url):
    answer = await send_raw(url, b'{"query": "{ __typename }"' + b" " * 70_000, piece=8 * 1024)
    assert answer.status == 400, answer.body
    assert "JSON" in answer.json()["errors"][0]["message"]


async def test_the_connection_stays_usable_after_a_request_in_pieces(url):
    """Keep-alive: two requests on one socket, the first in pieces; the second is answered too."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    body = graphql_body("{ __typename }")
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    for request in range(2):
        writer.write(head.encode())
        for i in range(len(body)):
            writer.write(body[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        status = await asyncio.wait_for(reader.readline(), 5)
        assert b" 200 " in status, (request, status)
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        assert json.loads(await reader.readexactly(length)) == {"data": {"__typename": "Query"}}
    writer.close()
