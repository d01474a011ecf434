"""Browsers on other origins, over HTTP against a real `cms serve`: CORS for the allowed origins only, preflight
answered and cached, security headers on every response, and routes with headers of their own (the edge plugin's
media, GraphiQL) keep them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support.serve import Served, cms_serve
from tests.support.server import LiveServer

ALLOWED = "http://localhost:5173"
OTHER_ALLOWED = "https://app.example.test"
REFUSED = "https://evil.example.test"
QUERY = {"query": "{ __typename }"}
PREFLIGHT = {"Access-Control-Request-Method": "GET"}
SECURITY = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
async def server(
    pg_server: PgTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    env = {"CMS_CORS_ORIGINS": f"{ALLOWED}, {OTHER_ALLOWED}/", "PUBLIC_BASE_URL": "https://cms.example.test"}
    async with cms_serve(
        pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path_factory.mktemp("cors"), env=env
    ) as served:
        yield served


@pytest.fixture
async def http(server: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def _cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def _tokens(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


async def test_preflight_from_an_allowed_origin_is_answered_and_cached(http: httpx.AsyncClient) -> None:
    asked = "content-type, authorization, apollo-require-preflight, x-request-id"
    for origin in (ALLOWED, OTHER_ALLOWED):
        response = await http.options(
            "/graphql",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
            },
        )
        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert _tokens(response.headers["access-control-allow-methods"]) == {"get", "post"}
        assert _tokens(asked) <= _tokens(response.headers["access-control-allow-headers"])
        assert int(response.headers["access-control-max-age"]) >= 600
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "origin" in _tokens(response.headers["vary"])
        assert response.content == b""


async def test_preflight_from_a_refused_origin_gets_no_cors_headers(http: httpx.AsyncClient) -> None:
    for origin in (REFUSED, "null", f"{ALLOWED}.evil.test", "http://localhost:5174", "https://localhost:5173"):
        response = await http.options(
            "/graphql",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert response.status_code == 403, origin
        assert _cors(response) == {}, origin


async def test_actual_requests_from_an_allowed_origin_carry_cors_headers(http: httpx.AsyncClient) -> None:
    post = await http.post("/graphql", json=QUERY, headers={"Origin": ALLOWED})
    get = await http.get("/graphql", params=QUERY, headers={"Origin": ALLOWED, "Accept": "application/json"})
    for response in (post, get):
        assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert "origin" in _tokens(response.headers["vary"])
        exposed = _tokens(response.headers["access-control-expose-headers"])
        assert {"x-request-id", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= exposed
    # A GraphQL error is still readable by the page (else a browser shows a network error instead).
    bad = await http.post("/graphql", json={"query": "{ nope }"}, headers={"Origin": ALLOWED})
    assert bad.status_code in (200, 400) and bad.headers["access-control-allow-origin"] == ALLOWED


async def test_actual_requests_from_a_refused_origin_carry_none(http: httpx.AsyncClient) -> None:
    # The same anonymous query from an allowed origin first: the public cache then answers the refused one, and
    # must not hand it the allowed origin's CORS headers.
    first = await http.post("/graphql", json=QUERY, headers={"Origin": ALLOWED})
    assert first.headers["access-control-allow-origin"] == ALLOWED
    response = await http.post("/graphql", json=QUERY, headers={"Origin": REFUSED})
    assert response.status_code == 200  # answered: the browser, not the server, keeps the page from reading it
    assert _cors(response) == {}
    assert "origin" in _tokens(response.headers["vary"])  # so no shared cache hands it to an allowed origin
    no_origin = await http.post("/graphql", json=QUERY)
    assert _cors(no_origin) == {} and "origin" in _tokens(no_origin.headers["vary"])


async def test_uploads_accept_put_from_an_allowed_origin(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/uploads/some-id",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert _tokens(response.headers["access-control-allow-methods"]) == {"put"}


async def test_security_headers_on_every_response(http: httpx.AsyncClient) -> None:
    responses = {
        "graphql": await http.post("/graphql", json=QUERY),
        "health": await http.get("/health"),
        "not found": await http.get("/no/such/page"),
        "method not allowed": await http.delete("/health"),
        "preflight": await http.options("/graphql", headers={**PREFLIGHT, "Origin": ALLOWED}),
        "refused preflight": await http.options("/graphql", headers={**PREFLIGHT, "Origin": REFUSED}),
    }
    assert responses["not found"].status_code == 404
    for name, response in responses.items():
        for header, value in SECURITY.items():
            assert response.headers.get_list(header) == [value], (name, header, response.headers)
        # PUBLIC_BASE_URL is https: browsers are told to come back over TLS only.
        assert response.headers["strict-transport-security"] == "max-age=31536000", name


async def test_graphiql_keeps_its_own_content_security_policy(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    [csp] = page.headers.get_list("content-security-policy")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_edge_media_keep_their_own_cors_and_headers(http: httpx.AsyncClient) -> None:
    """The edge route answers CORS itself (any origin, no credentials) for media: the API's CORS leaves it alone."""
    path = "/edge/k1/4102444800/asset/c2lnbmF0dXJl/hls/master.m3u8"
    preflight = await http.options(
        path,
        headers={"Origin": REFUSED, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"},
    )
    assert preflight.status_code == 204
    assert preflight.headers.get_list("access-control-allow-origin") == ["*"]
    assert "range" in _tokens(preflight.headers["access-control-allow-headers"])
    assert "access-control-allow-credentials" not in preflight.headers
    forbidden = await http.get(path, headers={"Origin": REFUSED})  # a bad signature
    assert forbidden.status_code == 403
    assert forbidden.headers.get_list("access-control-allow-origin") == ["*"]
    assert forbidden.headers.get_list("x-content-type-options") == ["nosniff"]  # its own, not doubled
    assert forbidden.headers["cache-control"] == "no-store"
    assert forbidden.headers["referrer-policy"] == "no-referrer"


async def test_no_hsts_and_no_cors_when_not_configured(live_server: LiveServer) -> None:
    """The suite's own app: PUBLIC_BASE_URL unset (plain http) and no CMS_CORS_ORIGINS."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        health = await client.get("/health")
        preflight = await client.options(
            "/graphql", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        )
        post = await client.post("/graphql", json=QUERY, headers={"Origin": ALLOWED})
    assert "strict-transport-security" not in health.headers
    assert health.headers["x-content-type-options"] == "nosniff"
    assert preflight.status_code != 204 and _cors(preflight) == {}
    assert _cors(post) == {} and "origin" not in _tokens(post.headers.get("vary"))
