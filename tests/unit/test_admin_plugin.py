"""The admin plugin's HTTP side: the built app's files, the single-page fallback, its configuration and headers.

A tiny Starlette app over `admin_routes` with a stand-in build in a temporary folder, so these run without npm;
tests/e2e/test_admin_ui.py drives the real build in a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from cms.core.settings import Settings
from plugins.admin.plugin import admin_routes

INDEX = '<!doctype html><title>admin</title><div id="root"></div>'


@pytest.fixture
def build(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(INDEX)
    (static / "assets" / "index-abc123.js").write_text("console.log('admin')")
    (static / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return static


def _client(settings: Settings, static: Path) -> httpx.AsyncClient:
    app = Starlette(routes=admin_routes(settings, static=static))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


@pytest.fixture
async def client(build: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(CMS_DATA_DIR=tmp_path / "data", S3_ENDPOINT_URL="http://127.0.0.1:9000")
    async with _client(settings, build) as c:
        yield c


async def test_admin_redirects_to_the_app_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin")
    assert response.status_code == 308
    assert response.headers["location"] == "/admin/"


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/programs", "/admin/episodes/RXBpc29kZTox/review", "/admin/callback"]
)
async def test_every_page_of_the_app_is_its_index_with_a_strict_policy(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    # The build's index.html with the configuration inlined before the root, as a JSON data block.
    config = '<script id="cms-admin-config" type="application/json">{"graphqlUrl":"/graphql","oidc":{'
    assert response.text.startswith("<!doctype html><title>admin</title>" + config), response.text
    assert response.text.endswith('</script><div id="root"></div>')
    assert '"authority":"http://localhost:8000/auth/dev"' in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    # The API's WebSocket (subscriptions), the dev issuer's origin and S3 (part uploads) may be reached; nothing else.
    assert "ws://127.0.0.1:8000" in policy
    assert "http://localhost:8000" in policy  # the development issuer's default origin
    assert "http://127.0.0.1:9000" in policy


async def test_the_policy_allows_the_public_s3_endpoint_presigned_urls_name(tmp_path: Path, build: Path) -> None:
    settings = Settings(
        CMS_DATA_DIR=tmp_path / "data",
        S3_ENDPOINT_URL="http://minio:9000",
        S3_PUBLIC_ENDPOINT_URL="http://localhost:9000",
    )
    async with _client(settings, build) as client:
        policy = (await client.get("/admin/")).headers["content-security-policy"]
    connect = dict(part.strip().split(" ", 1) for part in policy.split(";"))["connect-src"].split()
    assert "http://localhost:9000" in connect and "http://minio:9000" not in connect


async def test_the_policy_lets_the_player_reach_a_separate_playback_host(tmp_path: Path, build: Path) -> None:
    settings = Settings(CMS_DATA_DIR=tmp_path / "data", PUBLIC_BASE_URL="https://media.example.org")
    async with _client(settings, build) as client:
        policy = (await client.get("/admin/")).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    for name in ("connect-src", "media-src", "img-src"):
        assert "https://media.example.org" in directives[name].split(), (name, policy)
    assert directives["script-src"] == "'self'"


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('admin')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/javascript")
    again = await client.get("/admin/assets/index-abc123.js", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = await client.get("/admin/favicon.svg")
    assert other.status_code == 200 and other.headers["cache-control"] == "public, max-age=300"


async def test_text_files_go_out_gzipped_to_clients_that_accept_it(build: Path, client: httpx.AsyncClient) -> None:
    script = "const admin = 1;\n" * 400  # large enough to be worth compressing
    (build / "assets" / "entry-def456.js").write_text(script)
    packed = await client.get("/admin/assets/entry-def456.js", headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(script) / 10
    assert packed.text == script  # httpx undoes the gzip
    assert packed.headers["vary"] == "accept-encoding"
    plain = await client.get("/admin/assets/entry-def456.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == script


@pytest.mark.parametrize("path", ["/admin/assets/missing.js", "/admin/../secret.txt", "/admin/%2e%2e/secret.txt"])
async def test_missing_files_and_paths_outside_the_build_are_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "not for the web" not in response.text


async def test_config_names_the_api_and_the_identity_provider(tmp_path: Path, build: Path) -> None:
    settings = Settings(
        CMS_DATA_DIR=tmp_path / "data",
        OIDC_ISSUER="https://id.example.org/realms/cms",
        CMS_ADMIN_CLIENT_ID="editors-app",
    )
    async with _client(settings, build) as client:
        response = await client.get("/admin/config.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "graphqlUrl": "/graphql",
        "oidc": {
            "authority": "https://id.example.org/realms/cms",
            "clientId": "editors-app",
            "scope": "openid profile email",
        },
    }


async def test_config_points_at_the_development_issuer_without_oidc_issuer(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/config.json")
    assert response.json()["oidc"]["authority"] == "http://localhost:8000/auth/dev"
    assert response.json()["oidc"]["clientId"] == "cms-admin"


async def test_an_unbuilt_admin_says_how_to_build_it(tmp_path: Path) -> None:
    async with _client(Settings(CMS_DATA_DIR=tmp_path / "data"), tmp_path / "nothing-here") as client:
        response = await client.get("/admin/programs")
    assert response.status_code == 503
    assert "make admin" in response.text
