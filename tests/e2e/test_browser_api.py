"""The API from a real browser (Debian's chromium): GraphiQL works with nothing but the server itself, and a page
on another origin may call /graphql only when its origin is listed in CMS_CORS_ORIGINS.

The server is a real `cms serve`. The frontend pages come from the e2e page server on loopback: its
`http://localhost:<port>` origin is allowed, the same server reached as `http://127.0.0.1:<port>` is another
origin, and is not. Screenshots land in tests/artifacts/e2e/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Route

from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.http import graphiql
from tests.e2e.conftest import PageServer
from tests.support.processes import eventually, run_cms
from tests.support.serve import Served, cms_serve

QUERY = "{ programs(first: 1) { totalCount } }"
FETCH = """async ([url, token]) => {
  try {
    const r = await fetch(url, {method: "POST", headers: {"content-type": "application/json",
      "authorization": "Bearer " + token, "apollo-require-preflight": "true"},
      body: JSON.stringify({query: "{ __typename }"})});
    return {status: r.status, body: await r.json(), requestId: r.headers.get("x-request-id")};
  } catch (error) {
    return {error: String(error)};
  }
}"""


@pytest.fixture(scope="module")
async def server(
    pg_server: PgTarget, settings: Settings, page_server: PageServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    async with cms_serve(
        pg_server,
        redis_url=str(settings.redis_url),
        log_dir=tmp_path_factory.mktemp("browser"),
        env={"CMS_CORS_ORIGINS": page_server.origin},
    ) as served:
        yield served


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_graphiql_renders_and_runs_a_query_offline(browser: Browser, server: Served, artifacts: Path) -> None:
    """Every request the page makes goes to the server's own origin; anything else would be aborted (as on a
    network without internet) and is recorded."""
    assert graphiql.installed(), f"GraphiQL's files are missing from {graphiql.STATIC_DIR}: run `make graphiql`"
    context = await browser.new_context(viewport={"width": 1200, "height": 700})
    requested: list[str] = []
    problems: list[str] = []

    async def only_the_server(route: Route) -> None:
        requested.append(route.request.url)
        if _origin(route.request.url) == server.url:
            await route.continue_()
        else:
            await route.abort("internetdisconnected")

    await context.route("**/*", only_the_server)
    page = await context.new_page()
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url} {request.failure}"))
    try:
        await page.goto(f"{server.url}/graphql?q={quote(QUERY)}")
        await page.locator(".graphiql-execute-button").click(timeout=30_000)

        async def result() -> str:
            text = await page.locator(".graphiql-response").inner_text()
            return text if '"totalCount"' in text else ""

        text = await eventually(
            result,
            what="GraphiQL to show the query's result",
            attempts=100,
            delay=0.2,
            detail=lambda: "\n".join(problems + requested),
        )
        await page.screenshot(path=str(artifacts / "graphiql-offline.png"))
    finally:
        await context.close()
    assert '"programs"' in text and '"errors"' not in text
    foreign = [url for url in requested if _origin(url) != server.url]
    assert foreign == [], foreign
    assert {urlsplit(url).path for url in requested} >= {"/graphql", "/graphiql/graphiql-graphiql.min.js"}
    assert [p for p in problems if "Content Security Policy" in p or "failed:" in p or "pageerror" in p] == []


async def test_a_page_on_an_allowed_origin_calls_the_api(
    browser: Browser, server: Served, page_server: PageServer
) -> None:
    token = run_cms("dev-token", "--role", "viewer", env=server.env).stdout.strip()
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{page_server.origin}/player.html")
        allowed = await page.evaluate(FETCH, [f"{server.url}/graphql", token])
        # The same page server as 127.0.0.1: another origin, not listed.
        refused_origin = page_server.origin.replace("localhost", "127.0.0.1")
        await page.goto(f"{refused_origin}/player.html")
        refused = await page.evaluate(FETCH, [f"{server.url}/graphql", token])
    finally:
        await context.close()
    assert allowed.get("status") == 200, allowed
    assert allowed["body"] == {"data": {"__typename": "Query"}}
    assert allowed["requestId"]  # exposed to the page (Access-Control-Expose-Headers)
    assert "error" in refused and "Failed to fetch" in refused["error"], refused
