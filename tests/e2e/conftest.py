"""Browser fixtures: Debian's chromium driven by Playwright, and a loopback server for the test page and hls.js.

Both come from the project's own setup (`make test` runs `make e2e-deps`: `apt-get install chromium`, `npm ci`
in tests/e2e). When either is missing the tests fail and say so: they never skip.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Playwright, async_playwright

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support.admin_site import AdminSite
from tests.support.admin_site import admin_site as admin_site_running
from tests.support.keycloak import Keycloak

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HLS_JS = HERE / "node_modules" / "hls.js" / "dist" / "hls.min.js"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HERE.parent / "artifacts" / "e2e"

# The only files the page server hands out: URL path -> file.
PAGE_FILES = {"/player.html": HERE / "player.html", "/hls.min.js": HLS_JS}


class _PageHandler(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        found = PAGE_FILES.get(path.split("?", 1)[0])
        return str(found) if found else str(HERE / "missing")

    def end_headers(self) -> None:
        self.send_header("cache-control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


class PageServer:
    """Serves player.html and hls.min.js on loopback, on an origin of its own (not the API's)."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        # 'localhost', while the API is on '127.0.0.1' (and another port): a different origin, so the
        # edge route's CORS headers are what lets the player read playlists and segments.
        self.origin = f"http://localhost:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="e2e-page-server", daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def player_url(self, src: str) -> str:
        return f"{self.origin}/player.html?src={quote(src, safe='')}"


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    if not HLS_JS.is_file():
        pytest.fail(f"{HLS_JS} is missing: run `make e2e-deps` (npm ci in tests/e2e), which `make test` does")
    with PageServer() as server:
        yield server


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make e2e-deps` (apt-get install chromium), which `make test` does")
    launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield launched
    await launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: tests/artifacts/e2e/ (gitignored), kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
async def admin_site(
    keycloak: Keycloak, pg_server: PgTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AdminSite]:
    """The admin app as deployed (API, worker, S3 on moto, Keycloak), for tests/e2e/test_admin_*.py."""
    async with admin_site_running(
        keycloak, pg_server, settings.redis_url, tmp_path_factory.mktemp("admin-site")
    ) as site:
        yield site


@pytest.fixture(scope="session")
def admin_artifacts(artifacts: Path) -> Path:
    """Screenshots of the admin's browser tests: tests/artifacts/e2e/admin/."""
    folder = artifacts / "admin"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
