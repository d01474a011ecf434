"""Serves the built admin app under /admin and tells it where the API and the identity provider are.

The app is a client of the public GraphQL API like any frontend: this plugin adds no endpoint of its own beyond
its files and `/admin/config.json`. `make admin` (run by `make run` and `make test`) builds `web/` into `static/`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cms.core.settings import Settings
from cms.plugins.hookspecs import hookimpl

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/admin"
SCOPE = "openid profile email"
_NOT_BUILT = (
    "<!doctype html><html lang=en><title>Admin not built</title><h1>The admin app is not built</h1>"
    "<p>Run <code>make admin</code> (npm ci and vite build in plugins/admin/web), then reload.</p></html>"
)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _issuer(settings: Settings) -> str:
    return settings.oidc_issuer or settings.dev_issuer_url


def content_security_policy(settings: Settings, request: Request) -> str:
    """This origin, plus only what the app must reach elsewhere: the identity provider (token, silent renew), S3
    (presigned uploads) and the public base URL (signed playback: playlists, segments, posters). No CDN, no fonts."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    # Presigned upload URLs name the public endpoint when there is one (the internal one may be unreachable).
    presigner = settings.s3_public_endpoint_url or settings.s3_endpoint_url
    issuer, storage, playback = (_origin(url) for url in (_issuer(settings), presigner, settings.public_base_url))

    def sources(*items: str | None) -> str:
        return " ".join(dict.fromkeys(item for item in items if item and item != own))

    directives = {
        "default-src": "'self'",
        "connect-src": sources("'self'", own.replace("http", "ws", 1), issuer, storage, playback),
        "img-src": sources("'self'", "data:", "blob:", playback),
        "media-src": sources("'self'", "blob:", playback),
        "worker-src": "'self' blob:",
        "frame-src": sources("'self'", issuer),
        "style-src": "'self'",
        "script-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _config(settings: Settings) -> dict[str, object]:
    return {
        "graphqlUrl": "/graphql",
        "oidc": {"authority": _issuer(settings), "clientId": settings.admin_client_id, "scope": SCOPE},
    }


# Text files go out gzipped (level 9, once per file version): the entry script is ~530 kB raw, ~140 kB gzipped.
_COMPRESSIBLE = frozenset({".js", ".css", ".html", ".svg", ".json", ".txt", ".map"})
_ROOT_DIV = '<div id="root"></div>'


@dataclass(frozen=True)
class _Loaded:
    data: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


@functools.lru_cache(maxsize=128)
def _load(path: Path, version: tuple[int, int]) -> _Loaded:
    """A file's bytes, gzipped copy and ETag, cached per (mtime, size): a rebuild is picked up at once."""
    data = path.read_bytes()
    gzipped = gzip.compress(data, 9, mtime=0) if path.suffix in _COMPRESSIBLE and len(data) > 1024 else None
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return _Loaded(data, gzipped, f'"{hashlib.sha256(data).hexdigest()[:24]}"', media_type)


def _file_response(request: Request, path: Path, headers: dict[str, str]) -> Response:
    stat = path.stat()
    loaded = _load(path, (stat.st_mtime_ns, stat.st_size))
    headers = {**headers, "etag": loaded.etag, "vary": "accept-encoding", "x-content-type-options": "nosniff"}
    if loaded.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if loaded.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(loaded.gzipped, headers={**headers, "content-encoding": "gzip"}, media_type=loaded.media_type)
    return Response(loaded.data, headers=headers, media_type=loaded.media_type)


def _index_with_config(index: Path, settings: Settings) -> str:
    """index.html with the configuration inlined as a JSON data block (never executed, so the CSP allows it):
    the app starts without a round trip for /admin/config.json."""
    payload = json.dumps(_config(settings), separators=(",", ":")).replace("<", "\\u003c")
    block = f'<script id="cms-admin-config" type="application/json">{payload}</script>'
    stat = index.stat()
    return _load(index, (stat.st_mtime_ns, stat.st_size)).data.decode().replace(_ROOT_DIV, block + _ROOT_DIV, 1)


def admin_routes(settings: Settings, static: Path = STATIC) -> list[BaseRoute]:
    root = static.resolve()

    async def config(request: Request) -> Response:
        return JSONResponse(_config(settings), headers={"cache-control": "no-store"})

    async def redirect(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    async def page(request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers={"retry-after": "60"})
        wanted = (root / request.path_params["path"]).resolve()
        if wanted.is_relative_to(root) and wanted.is_file() and wanted != index:
            # Hashed file names under assets/ never change content: cache them for a year.
            immutable = wanted.is_relative_to(root / "assets")
            cache = "public, max-age=31536000, immutable" if immutable else "public, max-age=300"
            return _file_response(request, wanted, {"cache-control": cache})
        if "." in Path(request.path_params["path"]).name:
            return Response("Not found", status_code=404, media_type="text/plain")
        # Any other path is a page of the single-page app: its router takes it from index.html.
        headers = {
            "cache-control": "no-cache",
            "content-security-policy": content_security_policy(settings, request),
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
        }
        return HTMLResponse(_index_with_config(index, settings), headers=headers)

    return [
        Route(f"{PREFIX}/config.json", config, methods=["GET"]),
        Route(PREFIX, redirect, methods=["GET", "HEAD"]),
        Route(PREFIX + "/{path:path}", page, methods=["GET", "HEAD"]),
    ]


@hookimpl
def cms_routes(settings: Settings) -> list[BaseRoute]:
    return admin_routes(settings)
