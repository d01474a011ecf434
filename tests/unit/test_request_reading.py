"""The body reader and media-type choice on their own: ASGI messages in, bytes or a refusal out (no I/O)."""

from __future__ import annotations

import pytest
from starlette.requests import ClientDisconnect

from cms.http.body import BodyError, read_body, replay
from cms.http.graphql_media import GRAPHQL_RESPONSE, JSON, response_media_type


def _receive(*chunks: bytes, disconnect: bool = False):
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})
    taken: list[dict] = []

    async def receive() -> dict:
        taken.append(messages[len(taken)])
        return taken[-1]

    return receive, taken


def _scope(length: int | None = None) -> dict:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "headers": headers}


async def test_every_chunk_is_read():
    receive, _ = _receive(b"a", b"", b"bc" * 40_000, b"d")
    assert await read_body(_scope(), receive, limit=100_000) == b"a" + b"bc" * 40_000 + b"d"


async def test_reading_stops_at_the_chunk_that_passes_the_limit():
    receive, taken = _receive(b"x" * 6, b"x" * 6, b"x" * 6, b"x" * 6)
    with pytest.raises(BodyError) as refused:
        await read_body(_scope(), receive, limit=10)
    assert refused.value.status == 413 and len(taken) == 2


async def test_declared_length_over_the_limit_is_refused_before_reading():
    receive, taken = _receive(b"x")
    with pytest.raises(BodyError):
        await read_body(_scope(length=11), receive, limit=10)
    assert taken == []


async def test_a_disconnect_half_way_is_not_a_body():
    receive, _ = _receive(b"{", disconnect=True)
    with pytest.raises(ClientDisconnect):
        await read_body(_scope(), receive, limit=10)


async def test_replay_gives_the_body_once_then_the_real_receive():
    receive, _ = _receive(b"", disconnect=True)
    replayed = replay(b"{}", receive)
    assert await replayed() == {"type": "http.request", "body": b"{}", "more_body": False}
    assert (await replayed())["type"] == "http.request"  # the real one's next message


@pytest.mark.parametrize(
    "accept,expected",
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", JSON),
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0", JSON),
        (f"{GRAPHQL_RESPONSE};q=bad, */*", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
    ],
)
def test_media_type_follows_accept(accept, expected):
    assert response_media_type(accept) == expected
