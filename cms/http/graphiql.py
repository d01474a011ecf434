"""GraphiQL served from this server alone: its page, and its JavaScript/CSS from files installed beside the code.

Strawberry's GraphiQL page loads React and GraphiQL from a CDN, so it is blank on a network without internet.
Here the same builds (the versions and SRI hashes Strawberry's page pins) are served under `/graphiql/...`;
`make graphiql` (part of `make run` and `make test`) installs them from npm into `cms/http/graphiql_static/`
(gitignored) with `python -m cms.http.graphiql_install`. The page carries a Content-Security-Policy that lets it
load nothing from anywhere but this origin. When the files are not installed (a plain `pip install`), the page
falls back to Strawberry's CDN page and says so in the log.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

log = logging.getLogger("cms.http")

STATIC_DIR = Path(__file__).resolve().parent / "graphiql_static"
PREFIX = "/graphiql"


@dataclass(frozen=True)
class Asset:
    package: str  # npm name@version
    path: str  # file inside the npm package
    integrity: str  # SRI hash: checked when installed, and by the browser

    @property
    def name(self) -> str:  # the file's name under STATIC_DIR and in the URL
        return f"{self.package.rsplit('@', 1)[0].lstrip('@').replace('/', '-')}-{Path(self.path).name}"


ASSETS = {
    "react": Asset(
        "react@18.2.0",
        "umd/react.production.min.js",
        "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    "react-dom": Asset(
        "react-dom@18.2.0",
        "umd/react-dom.production.min.js",
        "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    "graphiql.css": Asset(
        "graphiql@3.8.3", "graphiql.min.css", "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"
    ),
    "graphiql": Asset(
        "graphiql@3.8.3", "graphiql.min.js", "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"
    ),
    "explorer.css": Asset(
        "@graphiql/plugin-explorer@1.0.2",
        "dist/style.css",
        "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
    ),
    "explorer": Asset(
        "@graphiql/plugin-explorer@1.0.2",
        "dist/index.umd.js",
        "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
    ),
}
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# The page's own script: GraphiQL with the explorer plugin, the query kept in the address (?q=) for sharing,
# headers (a Bearer token) editable and kept in the browser's storage.
_SCRIPT = """
const params = new URLSearchParams(location.search);
const url = location.origin + location.pathname;
const fetcher = GraphiQL.createFetcher({url, subscriptionUrl: url.replace(/^http/, "ws")});
function keep(name, value) {
  if (value) params.set(name, value); else params.delete(name);
  history.replaceState(null, "", "?" + params.toString());
}
function App() {
  return React.createElement(GraphiQL, {
    fetcher, defaultEditorToolsVisibility: true, plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    query: params.get("q") || undefined, variables: params.get("variables") || undefined,
    onEditQuery: (q) => keep("q", q), onEditVariables: (v) => keep("variables", v),
    inputValueDeprecation: true, isHeadersEditorEnabled: true, shouldPersistHeaders: true,
  });
}
ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
CSP = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' 'sha256-{_SCRIPT_HASH}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_FAVICON = (
    "data:image/svg+xml,<svg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 100 100%22>"
    "<text y=%22.9em%22 font-size=%2280%22>%F0%9F%8D%93</text></svg>"
)


def installed() -> bool:
    return all((STATIC_DIR / asset.name).is_file() for asset in ASSETS.values())


def _tag(key: str, base: str) -> str:
    asset = ASSETS[key]
    href = f"{base}{PREFIX}/{asset.name}"
    if asset.name.endswith(".css"):
        return f'<link rel="stylesheet" href="{href}" integrity="{asset.integrity}">'
    return f'<script src="{href}" integrity="{asset.integrity}"></script>'


def page_html(base: str = "") -> str:
    """The GraphiQL page, its files under `base` + /graphiql (base: the app's root path)."""
    head = "\n".join(_tag(key, base) for key in ("graphiql.css", "explorer.css", "react", "react-dom"))
    body = "\n".join(_tag(key, base) for key in ("graphiql", "explorer"))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CMS GraphiQL</title>
<link rel="icon" href="{_FAVICON}">
<style>body {{ margin: 0; height: 100%; overflow: hidden; }} #graphiql {{ height: 100vh; display: flex; }}</style>
{head}
</head>
<body>
<div id="graphiql" class="graphiql-container">Loading…</div>
{body}
<script>{_SCRIPT}</script>
</body>
</html>
"""


_warned = False


def render(request: Request) -> Response:
    """The IDE page for `GET /graphql` from a browser (Strawberry's `render_graphql_ide`)."""
    global _warned
    if not installed():
        if not _warned:
            _warned = True
            log.warning(
                "GraphiQL files are not installed in %s (run `make graphiql`): GraphiQL loads them from a "
                "CDN and is blank without internet access",
                STATIC_DIR,
            )
        return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))
    base = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(page_html(base), headers={"content-security-policy": CSP, "cache-control": "no-store"})


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in {asset.name for asset in ASSETS.values()} or not (STATIC_DIR / name).is_file():
        return PlainTextResponse("not found\n", status_code=404)
    media_type = _MEDIA_TYPES[Path(name).suffix]
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"cache-control": "public, max-age=86400"})


def graphiql_routes() -> list[Route]:
    return [Route(f"{PREFIX}/{{name}}", _asset, methods=["GET", "HEAD"])]
