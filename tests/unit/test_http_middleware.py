"""The pure ASGI middlewares on a tiny inline app (no sockets): what they add, what they leave alone."""

from __future__ import annotations

import asyncio

import httpx

from cms.http.concurrency import ConcurrencyLimitMiddleware
from cms.http.cors import CORSMiddleware
from cms.http.security_headers import SecurityHeadersMiddleware

ORIGIN = "https://app.example.test"
KEPT: dict = {}


async def _app(scope, receive, send) -> None:
    """Answers with headers of its own, and keeps its start message (as the public cache does)."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/plain"),
            (b"vary", b"Accept-Encoding"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"default-src 'self'"),
        ],
    }
    KEPT["start"] = start
    await send(start)
    await send({"type": "http.response.body", "body": b"ok"})


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cms.test")


async def test_headers_are_added_without_touching_the_apps_own_message() -> None:
    app = SecurityHeadersMiddleware(CORSMiddleware(_app, origins=[ORIGIN]), https=True)
    async with _client(app) as client:
        response = await client.get("/graphql", headers={"Origin": ORIGIN})
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers.get_list("content-security-policy") == ["default-src 'self'"]  # the app's own
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]  # merged into the app's Vary
    assert response.headers["access-control-allow-origin"] == ORIGIN
    names = [name for name, _ in KEPT["start"]["headers"]]
    assert b"access-control-allow-origin" not in names and b"x-frame-options" not in names


async def test_paths_outside_the_api_are_left_to_their_routes() -> None:
    async with _client(CORSMiddleware(_app, origins=[ORIGIN])) as client:
        media = await client.get("/edge/k/1/s/sig/a.m3u8", headers={"Origin": ORIGIN})
        preflight = await client.options("/edge/x", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in media.headers and media.headers["vary"] == "Accept-Encoding"
    assert preflight.status_code == 200  # the route's own answer, not the middleware's


async def test_past_the_limit_requests_get_503_with_retry_after() -> None:
    release = asyncio.Event()

    async def slow(scope, receive, send) -> None:
        await release.wait()
        await _app(scope, receive, send)

    app = ConcurrencyLimitMiddleware(slow, limit=1)
    async with _client(app) as client:
        first = asyncio.create_task(client.get("/graphql"))
        while app.in_flight == 0:
            await asyncio.sleep(0.01)
        refused = await client.get("/graphql")
        health = asyncio.create_task(client.get("/health"))  # exempt: waits like any request, never refused
        release.set()
        assert (await first).status_code == 200 and (await health).status_code == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert app.in_flight == 0
