"""Admin app bench: bundle size of the built admin, and time to interactive of its programs list vs a hand-written page.

    .venv/bin/python bench/admin_bench.py [--runs 7] [--programs 200] [--throttle 1,4] [--quiet-ms 500]
                                          [--bundle-only] [--no-build] [--live-static] [--embedded] [--max-load 0]
                                          [--pg-url postgres://postgres@127.0.0.1:5432/postgres] [--keep-db]
    (or `make bench-admin`; bench/README.md has the details and figures)

1. Bundle. `make admin` first when `make -q admin` says plugins/admin/static is missing or older than its sources
   (a failed build is reported and the existing build measured, marked stale). The build is copied to a temp dir once
   it is complete, and that copy is what is measured and served (other sessions may rebuild the folder meanwhile).
   For every JS/CSS file: raw bytes and gzip -9 bytes (what a CDN compressing at its highest level sends; the app
   itself serves them uncompressed). "Initial load" = what index.html references: the entry module, its stylesheets
   and modulepreload links; everything else is loaded lazily. Each dynamic import() found in the chunks (Vite's
   `import("./X.js")` and its `__vite__mapDeps` list) is listed with what opening it adds beyond the initial load:
   the chunk, its static imports and its CSS.
2. Time to interactive of /admin/programs. A throw-away database cms_bench_<random> on --pg-url (`cms migrate`,
   dropped at the end; --embedded, or no server answering, uses the app's embedded PostgreSQL in the temp dir),
   the machine's Redis when 127.0.0.1:6379 answers (else the embedded one), then `cms serve --no-worker` on a free
   port (CMS_DATA_DIR in a temp dir, PUBLIC_BASE_URL=http://127.0.0.1:<port>, CMS_CORS_ORIGINS = the baseline's
   origin, mutation budget raised for the seeding), its admin files taken from the copy (SERVE_FROZEN below;
   --live-static: plain `cms serve` on plugins/admin/static). --programs programs are created through GraphQL with an
   editor token (`cms dev-token --role editor`, same environment), two in three published (some scheduled), the rest
   drafts. Debian's chromium (/usr/bin/chromium, headless, driven by Playwright; no browser is downloaded) signs in
   once through the development issuer's pages (Sign in, Editor, Sign in). The session lives in sessionStorage, which
   is per tab (checked: a new tab is signed out), so every load happens in the same tab: about:blank, then for a cold
   load the browser's cache cleared (CDP Network.clearBrowserCache), then the page. Each round loads a page cold,
   warm (from the HTTP cache; V8 compiles again and writes its code cache) and hot (the code cache used too).
   An init script measures in the page, from navigation start (performance.timeOrigin):
     FCP    first-contentful-paint;
     rows   the first page of the list (25 rows with their links) in the DOM, taken after the next frame (main
            thread; FCP is the compositor's presentation time, so rows drawn in the first frame can read below it);
     TTI    max(rows, end of the last long task before a quiet window): the first time T >= rows such that no long
            task (PerformanceObserver 'longtask', buffered) runs during [T, T + --quiet-ms].
   Each setting of --throttle (CDP Emulation.setCPUThrottlingRate; 1 = off, 4 = a slow laptop) gets one untimed
   load per page, then --runs rounds of cold, warm and hot loads of both pages, which page goes first alternating.
   The baseline: bench/admin_baseline.html, served by a loopback http.server of this process on its own origin,
   asks the same Programs query (first: 25) of the app's /graphql with the same editor's token (in the URL fragment)
   and renders a plain table. The browser's access token lives 10 minutes: the bench signs in again, between loads,
   when less than 150 s are left.
3. Prints markdown tables (bundle; medians per CPU throttling and cache state with admin/baseline ratios) and writes
   everything, every run included, to bench/results/admin-<UTC timestamp>.json.

Needs: the venv (`make install`, Playwright's Python package), Debian's chromium (`make e2e-deps`), Node for the
build (`make admin-deps`), PostgreSQL on --pg-url or the embedded one. About 2 minutes with the defaults on 2 CPUs.
Exit status 0 when the figures were taken, 2 when something it needs is missing, 1 when a page never became ready.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import hashlib
import os
import platform
import posixpath
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _common import (
    BENCH,
    ROOT,
    Server,
    add_database_args,
    bench_parser,
    cms_cmd,
    create_database,
    drop_database,
    log,
    migrate,
    with_db,
    write_results,
)

STATIC = ROOT / "plugins" / "admin" / "static"
BASELINE_HTML = BENCH / "admin_baseline.html"
PROGRAMS_GRAPHQL = ROOT / "graphql" / "operations" / "Programs.graphql"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGE_SIZE = 25  # the admin's PAGE_SIZE (plugins/admin/web/src/lib/listState.ts) and the baseline's `first`
RENEW_BEFORE_S = 150  # sign in again when the browser's access token has less than this left
SEED_BATCH = 20  # aliased mutations per GraphQL request
GZIP_LEVEL = 9
# The loads of one round, in this order: the HTTP cache cleared; then from the HTTP cache, V8 compiling the scripts
# again and writing its code cache (Chrome does so on a script's second load); then with that code cache too.
CACHE_STATES = ("cold", "warm", "hot")
HASH_SUFFIX = re.compile(r"-[A-Za-z0-9_-]{8}(?=\.(?:js|css)$)")  # Vite's content hash in a file name


# --- bundle ----------------------------------------------------------------------------------------------------


def build_admin(skip: bool) -> dict[str, Any]:
    """Run `make admin` when `make -q admin` says the build is missing or older than its sources."""
    if skip:
        return {"make": "skipped (--no-build)", "stale": None}
    if subprocess.run(["make", "-q", "admin"], cwd=ROOT, capture_output=True).returncode == 0:
        log("admin build is up to date")
        return {"make": "up to date", "stale": False}
    log("admin build missing or older than its sources: make admin")
    done = subprocess.run(["make", "admin"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0:
        return {"make": "rebuilt", "stale": False}
    tail = (done.stdout + done.stderr)[-3000:]
    log(f"WARNING: make admin failed ({done.returncode}); measuring the existing build, marked stale:\n{tail}")
    return {"make": f"failed ({done.returncode})", "stale": True, "make_output_tail": tail}


class _IndexRefs(HTMLParser):
    """The files index.html loads: module scripts, stylesheets, modulepreload links (as written, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[str] = []
        self.styles: list[str] = []
        self.preloads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        rel = (a.get("rel") or "").lower()
        if tag == "script" and a.get("src"):
            self.entries.append(a["src"] or "")
        elif tag == "link" and rel == "stylesheet" and a.get("href"):
            self.styles.append(a["href"] or "")
        elif tag == "link" and rel == "modulepreload" and a.get("href"):
            self.preloads.append(a["href"] or "")


def index_refs(html: str) -> dict[str, list[str]]:
    """index.html's references as paths relative to the build folder ("/admin/assets/x.js" -> "assets/x.js")."""
    parser = _IndexRefs()
    parser.feed(html)

    def rel(urls: list[str]) -> list[str]:
        return [re.sub(r"^(?:/admin)?/", "", url.split("?", 1)[0]) for url in urls]

    return {"entry": rel(parser.entries), "css": rel(parser.styles), "modulepreload": rel(parser.preloads)}


def snapshot_build(dest: Path, timeout_s: float = 120) -> tuple[Path, str]:
    """Copy the build into `dest` once it is complete and unchanged during the copy; return it and index.html's
    sha256 (12 hex digits). Waits while another session's `vite build` (emptyOutDir) is rewriting it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        index = STATIC / "index.html"
        try:
            before = index.read_bytes()
            refs = index_refs(before.decode())
            if all((STATIC / name).is_file() for names in refs.values() for name in names):
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(STATIC, dest)
                if index.read_bytes() == before and (dest / "index.html").read_bytes() == before:
                    return dest, hashlib.sha256(before).hexdigest()[:12]
        except (OSError, shutil.Error):
            pass
        log("the admin build is being rewritten; waiting for a complete one")
        time.sleep(2)
    raise RuntimeError(f"no complete admin build in {STATIC} after {timeout_s:.0f} s: run `make admin`")


def current_fingerprint() -> str | None:
    try:
        return hashlib.sha256((STATIC / "index.html").read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def label(name: str) -> str:
    """ "assets/Review-B2vl92Yd.js" -> "Review"."""
    return HASH_SUFFIX.sub("", posixpath.basename(name)).rsplit(".", 1)[0]


def js_graph(build: Path, files: list[str]) -> tuple[dict[str, set[str]], list[dict[str, Any]]]:
    """Static imports per JS file, and every dynamic import() site: importer, chunk, the files Vite preloads for it
    (its `__vite__mapDeps` indices, CSS included). Paths relative to the build folder."""
    static: dict[str, set[str]] = {}
    dynamic: list[dict[str, Any]] = []
    for name in files:
        if not name.endswith(".js"):
            continue
        text = (build / name).read_text(errors="replace")
        here = posixpath.dirname(name)

        def resolve(spec: str, here: str = here) -> str:
            return posixpath.normpath(posixpath.join(here, spec))

        static[name] = {resolve(s) for s in re.findall(r'(?:\bfrom\s*|\bimport\s*)"(\.{1,2}/[^"]+)"', text)}
        table = re.search(r"m\.f=\[([^\]]*)\]", text)
        deps_files = re.findall(r'"([^"]+)"', table.group(1)) if table else []
        for match in re.finditer(
            r'\bimport\(\s*"(\.{1,2}/[^"]+)"\s*\)(\s*,\s*__vite__mapDeps\(\[([\d,\s]*)\]\))?', text
        ):
            indices = [int(i) for i in (match.group(3) or "").split(",") if i.strip()]
            preload = [deps_files[i] for i in indices if i < len(deps_files)]
            dynamic.append({"importer": name, "chunk": resolve(match.group(1)), "preload": preload})
    return static, dynamic


def closure(roots: list[str], static: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(static.get(name, ()))
    return seen


def bundle_report(build: Path, fingerprint: str) -> dict[str, Any]:
    """Raw and gzip -9 sizes of every JS/CSS file of the build; initial load vs lazily loaded chunks."""
    refs = index_refs((build / "index.html").read_text())
    files = sorted(p.relative_to(build).as_posix() for p in build.rglob("*") if p.suffix in {".js", ".css"})
    sizes = {}
    for name in files:
        data = (build / name).read_bytes()
        sizes[name] = {"raw": len(data), "gzip": len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))}
    role = {name: kind for kind in ("modulepreload", "css", "entry") for name in refs[kind]}
    initial = [name for name in files if name in role]
    lazy = [name for name in files if name not in role]
    static, dynamic = js_graph(build, files)
    # What the entry pulls in by static imports but index.html does not name (Vite names them all): flagged.
    unlisted = sorted(closure(refs["entry"], static) - set(initial))

    def total(names: list[str] | set[str]) -> dict[str, int]:
        return {k: sum(sizes[n][k] for n in names if n in sizes) for k in ("raw", "gzip")}

    routes = []
    for site in dynamic:
        adds = (closure([site["chunk"]], static) | set(site["preload"])) - set(initial)
        routes.append(
            {
                "import": label(site["chunk"]),
                "from": label(site["importer"]),
                "files": sorted(adds),
                **{f"adds_{k}": v for k, v in total(adds).items()},
            }
        )
    routes.sort(key=lambda r: -r["adds_gzip"])
    other = [
        p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file() and p.suffix not in {".js", ".css"}
    ]
    return {
        "fingerprint": fingerprint,
        "index_refs": refs,
        "files": [{"file": n, "load": role.get(n, "lazy"), **sizes[n]} for n in files],
        "initial": {"files": initial, **total(initial)},
        "lazy": {"files": lazy, **total(lazy)},
        "total": total(files),
        "lazy_imports": routes,
        "entry_imports_not_in_index": unlisted,
        "other_files": {n: (build / n).stat().st_size for n in sorted(other)},
    }


def kb(n: float) -> str:
    return f"{n / 1000:,.1f}"


def print_bundle(bundle: dict[str, Any]) -> None:
    print(f"\n### Bundle (plugins/admin/static, build {bundle['fingerprint']}; kB = 1000 bytes, gzip level 9)\n")
    print("| file | loaded | raw kB | gzip kB |")
    print("|---|---|---:|---:|")
    for f in sorted(bundle["files"], key=lambda f: (f["load"] == "lazy", -f["gzip"])):
        print(f"| {posixpath.basename(f['file'])} | {f['load']} | {kb(f['raw'])} | {kb(f['gzip'])} |")
    for key, what in (("initial", "initial load (index.html)"), ("lazy", "lazy chunks")):
        part = bundle[key]
        print(f"| **{what}** | {len(part['files'])} files | **{kb(part['raw'])}** | **{kb(part['gzip'])}** |")
    n = len(bundle["files"])
    print(f"| **total** | {n} files | **{kb(bundle['total']['raw'])}** | **{kb(bundle['total']['gzip'])}** |")
    if bundle["lazy_imports"]:
        print("\n| lazy import() | imported by | adds files | adds raw kB | adds gzip kB |")
        print("|---|---|---|---:|---:|")
        for r in bundle["lazy_imports"]:
            names = ", ".join(label(f) + posixpath.splitext(f)[1] for f in r["files"]) or "(none)"
            print(f"| {r['import']} | {r['from']} | {names} | {kb(r['adds_raw'])} | {kb(r['adds_gzip'])} |")
    if bundle["entry_imports_not_in_index"]:
        print(f"\nWARNING: the entry imports files index.html does not name: {bundle['entry_imports_not_in_index']}")
    print()


# --- services: database, Redis, the app, the baseline's server -------------------------------------------------


def postgres_reachable(url: str) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001
        return False


def machine_redis(url: str | None) -> str | None:
    """`url` (or $REDIS_URL), else redis://127.0.0.1:6379 when it answers PING; None: the app's embedded Redis."""
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(64).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/0"
    except OSError:
        pass
    return None


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str | None]:
    """A throw-away database URL on args.pg_url (dropped at the end unless --keep-db), or None: embedded."""
    if args.embedded or not postgres_reachable(args.pg_url):
        log("using the app's embedded PostgreSQL" + ("" if args.embedded else f" ({args.pg_url} does not answer)"))
        yield None
        return
    name = f"cms_bench_{secrets.token_hex(4)}"
    asyncio.run(create_database(args.pg_url, name))
    log(f"database {name}")
    try:
        yield with_db(args.pg_url, name)
    finally:
        if args.keep_db:
            log(f"kept database {name}")
        else:
            asyncio.run(drop_database(args.pg_url, name))
            log(f"dropped database {name}")


def app_env(db_url: str | None, redis_url: str | None, data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment for a development-mode `cms` on `data_dir`; no DATABASE_URL / REDIS_URL: embedded ones."""
    drop = {"OIDC_ISSUER", "DATABASE_URL", "REDIS_URL", "CMS_CORS_ORIGINS", "PUBLIC_BASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(CMS_DATA_DIR=str(data_dir), CMS_ENV="development", **extra)
    if db_url:
        env["DATABASE_URL"] = db_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class _BaselineHandler(SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        return str(BASELINE_HTML) if path.split("?", 1)[0] == "/admin_baseline.html" else str(BENCH / "missing")

    def end_headers(self) -> None:
        self.send_header("cache-control", "no-cache")  # as the admin's index.html: revalidated on every load
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def baseline_server() -> Iterator[str]:
    """bench/admin_baseline.html on a loopback port of its own (a different origin from the app's); yields its URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _BaselineHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="admin-baseline", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/admin_baseline.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def check_baseline_query() -> None:
    """The baseline must ask exactly what the admin asks: its inline query against Programs.graphql."""
    html = BASELINE_HTML.read_text()
    inline = re.search(r"const QUERY = `([^`]*)`", html)

    def norm(s: str) -> str:
        return " ".join(s.split())

    if not inline or norm(inline.group(1)) != norm(PROGRAMS_GRAPHQL.read_text()):
        raise RuntimeError(f"{BASELINE_HTML.name}'s QUERY differs from {PROGRAMS_GRAPHQL.relative_to(ROOT)}: update it")


def dev_token(env: dict[str, str]) -> str:
    done = subprocess.run(
        [*cms_cmd(), "dev-token", "--role", "editor"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cms dev-token failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def graphql(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/graphql", json={"query": query, "variables": variables}).json()
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def aliased(field: str, arg_type: str, args_of: list[str], selection: str) -> str:
    """`mutation(...) { m0: field(...) { selection } m1: ... }` for len(args_of) calls; args_of: argument lists
    written with $v<i> placeholders, e.g. "input: $v{i}"."""
    params = ", ".join(f"$v{i}: {arg_type}" for i in range(len(args_of)))
    calls = " ".join(f"m{i}: {field}({a.format(i=i)}) {{ {selection} }}" for i, a in enumerate(args_of))
    return f"mutation Seed({params}) {{ {calls} }}"


def seed_programs(base_url: str, token: str, count: int, rng: random.Random) -> dict[str, int]:
    """`count` programs via createProgram (batches of aliased calls); two in three published, one in nine of those
    scheduled a month ahead, the rest left drafts."""
    categories = ["news", "documentary", "music", "sport", "kids", "culture", "science", None]
    languages = ["en", "en", "en", "fa", "ar", "fr", None]
    words = ["river", "night", "voices", "city", "archive", "morning", "weekly", "stories", "open", "studio", "world"]
    selection = "__typename ... on Program { id } ... on Error { message }"
    ids: list[str] = []
    with httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
        for start in range(0, count, SEED_BATCH):
            inputs = []
            for i in range(start, min(count, start + SEED_BATCH)):
                title = f"{' '.join(rng.sample(words, rng.randint(1, 3))).title()} {i + 1:03d}"
                inputs.append(
                    {
                        "title": title,
                        "description": f"Bench program {i + 1}. " + " ".join(rng.choices(words, k=20)),
                        "category": rng.choice(categories),
                        "language": rng.choice(languages),
                        "tags": rng.sample(words, rng.randint(0, 3)),
                    }
                )
            query = aliased("createProgram", "CreateProgramInput!", ["input: $v{i}"] * len(inputs), selection)
            data = graphql(client, query, {f"v{i}": v for i, v in enumerate(inputs)})
            for key in sorted(data, key=lambda k: int(k[1:])):
                if data[key]["__typename"] != "Program":
                    raise RuntimeError(f"createProgram: {data[key]}")
                ids.append(data[key]["id"])
        month = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
        to_publish = [(pid, month if n % 9 == 4 else None) for n, pid in enumerate(ids) if n % 3 != 2]
        for start in range(0, len(to_publish), SEED_BATCH):
            batch = to_publish[start : start + SEED_BATCH]
            args_of = ["id: $v{i}" + (f", at: {_quote(at)}" if at else "") for _, at in batch]
            query = aliased("publishProgram", "ID!", args_of, selection)
            data = graphql(client, query, {f"v{i}": pid for i, (pid, _) in enumerate(batch)})
            bad = [v for v in data.values() if v["__typename"] != "Program"]
            if bad:
                raise RuntimeError(f"publishProgram: {bad[:3]}")
    scheduled = sum(1 for _, at in to_publish if at)
    return {"programs": len(ids), "published": len(to_publish) - scheduled, "scheduled": scheduled}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- the browser -------------------------------------------------------------------------------------------------

# Runs in every document before its own scripts. Times are ms from navigation start (performance.timeOrigin).
MEASURE_JS = r"""
(() => {
  const EXPECTED_ROWS = __ROWS__;
  const QUIET_MS = __QUIET__;
  const ROWS = "table tbody tr a[href]"; // a list row: its title links to the item
  const SIGNED_OUT = "main.sign-in"; // the admin's sign-in screen: the session is gone
  const state = { fcp: null, rowsInDom: null, rows: null, longTasks: [], result: null };
  Object.defineProperty(window, "__bench", { value: state });
  let longTaskObserver = null;
  const record = (entries) => {
    for (const e of entries) state.longTasks.push([e.startTime, e.startTime + e.duration]);
  };
  try {
    longTaskObserver = new PerformanceObserver((list) => record(list.getEntries()));
    longTaskObserver.observe({ type: "longtask", buffered: true });
  } catch (error) {
    state.longTaskError = String(error);
  }
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.name === "first-contentful-paint") state.fcp = e.startTime;
  }).observe({ type: "paint", buffered: true });
  let resolve;
  state.finished = new Promise((r) => (resolve = r));

  // The first T >= rows with no long task during [T, T + QUIET_MS].
  const interactiveAt = () => {
    if (longTaskObserver) record(longTaskObserver.takeRecords());
    let t = state.rows;
    for (const [start, end] of [...state.longTasks].sort((a, b) => a[0] - b[0])) {
      if (start >= t + QUIET_MS) break;
      if (end > t) t = end;
    }
    return t;
  };
  const check = () => {
    const t = interactiveAt();
    const now = performance.now();
    if (now < t + QUIET_MS) setTimeout(check, t + QUIET_MS - now + 20);
    else finish({ tti: t, signedOut: false });
  };
  const finish = (outcome) => {
    if (state.result) return;
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource").map((r) => ({
      name: r.name, initiator: r.initiatorType, transfer: r.transferSize, encoded: r.encodedBodySize,
      start: r.startTime, end: r.responseEnd,
    }));
    state.result = {
      ...outcome, fcp: state.fcp, rowsInDom: state.rowsInDom, rows: state.rows,
      longTasks: state.longTasks.length, longTaskMs: state.longTasks.reduce((s, [a, b]) => s + b - a, 0),
      lastLongTaskEnd: state.longTasks.reduce((m, [, b]) => Math.max(m, b), 0), longTaskError: state.longTaskError,
      domContentLoaded: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null,
      transferBytes: (nav ? nav.transferSize : 0) + resources.reduce((s, r) => s + r.transfer, 0),
      resources, url: location.href, visibility: document.visibilityState,
    };
    resolve(state.result);
  };
  const look = () => {
    if (state.rowsInDom !== null || state.result) return;
    if (document.querySelectorAll(ROWS).length >= EXPECTED_ROWS) {
      state.rowsInDom = performance.now();
      observer.disconnect();
      // After the next frame: a task posted from a frame callback runs once the main thread has rendered that frame
      // (FCP is the compositor's presentation time, a little later: rows painted in the first frame can read < FCP).
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          state.rows = performance.now();
          setTimeout(check, QUIET_MS);
        };
        channel.port2.postMessage(null);
      });
    } else if (document.querySelector(SIGNED_OUT)) {
      observer.disconnect();
      finish({ tti: null, signedOut: true });
    }
  };
  const observer = new MutationObserver(look);
  observer.observe(document, { childList: true, subtree: true });
})();
"""
WAIT_JS = "(ms) => Promise.race([window.__bench.finished, new Promise((r) => setTimeout(() => r(null), ms))])"
SESSION_LEFT_JS = """() => {
  for (const key of Object.keys(sessionStorage))
    if (key.startsWith("oidc.user:")) return JSON.parse(sessionStorage.getItem(key)).expires_at - Date.now() / 1000;
  return null;
}"""


class PageNotReady(RuntimeError):
    pass


class Tab:
    """One browser tab and its CDP session, loading one URL again and again."""

    def __init__(self, context: Any, name: str, url: str, timeout_s: float) -> None:
        self.name, self.url, self.timeout_ms = name, url, int(timeout_s * 1000)
        self.page = context.new_page()
        self.cdp = context.new_cdp_session(self.page)

    def throttle(self, rate: float) -> None:
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})

    def load(self, *, cold: bool) -> dict[str, Any]:
        """One measured load: about:blank, the cache cleared for a cold load, then the page until interactive."""
        self.page.goto("about:blank")
        if cold:
            self.cdp.send("Network.clearBrowserCache")
        self.page.bring_to_front()
        self.page.goto(self.url, wait_until="load", timeout=self.timeout_ms)
        result = self.page.evaluate(WAIT_JS, self.timeout_ms)
        if result is None:
            shot = BENCH / "results" / f"admin-failed-{self.name}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(shot), full_page=True)
            raise PageNotReady(f"{self.name}: no {PAGE_SIZE} rows after {self.timeout_ms / 1000:.0f} s ({shot})")
        return result


def sign_in(tab: Tab) -> None:
    """The development issuer's browser flow: the admin's Sign in, the Editor role, Sign in, back at the list."""
    tab.page.goto(tab.url)
    tab.page.evaluate("() => sessionStorage.clear()")
    tab.page.goto(tab.url)
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_url("**/auth/dev/authorize**")
    tab.page.get_by_label("Editor", exact=True).check()
    tab.page.get_by_role("button", name="Sign in", exact=True).click()
    tab.page.locator("table tbody tr a[href]").first.wait_for(timeout=tab.timeout_ms)
    if not tab.page.url.startswith(tab.url):
        raise PageNotReady(f"signed in, but the admin is at {tab.page.url}, not {tab.url}")
    log(f"signed in as an editor through {tab.page.url.split('?')[0]}")


def session_left(tab: Tab) -> float | None:
    try:
        return tab.page.evaluate(SESSION_LEFT_JS)
    except Exception:  # noqa: BLE001 - not on the admin's origin
        return None


def measure(tab: Tab, *, cold: bool) -> dict[str, Any]:
    """A load of `tab`; the admin's tab signs in again first when its token is about to expire, and once more
    (the run repeated) when a load finds itself signed out."""
    for attempt in range(2):
        if tab.name == "admin":
            left = session_left(tab)
            if left is not None and left < RENEW_BEFORE_S:
                sign_in(tab)
        result = tab.load(cold=cold)
        if not result["signedOut"]:
            return result
        log(f"the admin's session was gone (attempt {attempt + 1}); signing in again")
        sign_in(tab)
    raise PageNotReady("the admin keeps losing its session")


def browse(args: argparse.Namespace, app_url: str, baseline_url: str, out: dict[str, Any]) -> None:
    """Sign in, then for each CPU throttling rate: warm-ups, then --runs rounds of cold, warm and hot loads of each
    page. Fills `out` as it goes (its "runs" survive a failure half-way)."""
    from playwright.sync_api import sync_playwright

    rows = min(PAGE_SIZE, args.programs)
    script = MEASURE_JS.replace("__ROWS__", str(rows)).replace("__QUIET__", str(args.quiet_ms))
    runs: list[dict[str, Any]] = out.setdefault("runs", [])
    out["expected_rows"] = rows
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        out["chromium"] = browser.version
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(script=script)
        admin = Tab(context, "admin", f"{app_url}/admin/programs", args.timeout)
        baseline = Tab(context, "baseline", baseline_url, args.timeout)
        sign_in(admin)
        # Does a fresh tab of the same context keep the session? (sessionStorage is per tab: it should not.)
        probe = context.new_page()
        probe.goto(admin.url)
        probe.wait_for_selector("main.sign-in, table tbody tr a[href]", timeout=admin.timeout_ms)
        new_tab_signed_in = out["new_tab_keeps_session"] = probe.locator("main.sign-in").count() == 0
        probe.close()
        log(f"a new tab of the same context is {'still' if new_tab_signed_in else 'not'} signed in")
        for rate in args.throttle:
            wait_for_quiet(args.max_load, args.load_wait)
            for tab in (admin, baseline):
                tab.throttle(rate)
                measure(tab, cold=False)  # warm-up: the server's first queries, the browser's caches
            for i in range(args.runs):
                order = (admin, baseline) if i % 2 == 0 else (baseline, admin)
                for tab in order:
                    for cache in CACHE_STATES:
                        r = measure(tab, cold=cache == "cold")
                        runs.append({"cpu": rate, "cache": cache, "page": tab.name, "round": i, **r})
                        log(
                            f"{rate:g}x {runs[-1]['cache']} {tab.name:8} FCP {r['fcp'] or 0:6.0f}  rows {r['rows']:6.0f}"
                            f"  TTI {r['tti']:6.0f} ms  long tasks {r['longTasks']} ({r['longTaskMs']:.0f} ms)"
                            f"  fetched {r['transferBytes'] / 1000:.0f} kB"
                        )
        browser.close()


# --- report --------------------------------------------------------------------------------------------------


def medians(runs: list[dict[str, Any]], throttle: list[float]) -> list[dict[str, Any]]:
    """One row per CPU rate and cache state: the medians of each page and the admin/baseline ratios."""
    rows = []
    for rate in throttle:
        for cache in CACHE_STATES:
            row: dict[str, Any] = {"cpu": rate, "cache": cache}
            for page in ("admin", "baseline"):
                mine = [r for r in runs if r["cpu"] == rate and r["cache"] == cache and r["page"] == page]
                for key in ("fcp", "rows", "tti", "longTaskMs", "transferBytes"):
                    values = [r[key] for r in mine if r[key] is not None]
                    row[f"{page}_{key}"] = statistics.median(values) if values else None
                row[f"{page}_tti_range"] = [min(r["tti"] for r in mine), max(r["tti"] for r in mine)] if mine else None
            for key in ("tti", "rows", "fcp"):
                a, b = row[f"admin_{key}"], row[f"baseline_{key}"]
                row[f"ratio_{key}"] = a / b if a is not None and b else None
            rows.append(row)
    return rows


def ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def ratio(v: float | None) -> str:
    return "—" if v is None else f"**{v:.2f}x**"


def tti(row: dict[str, Any], page: str) -> str:
    """The median TTI and, in brackets, the fastest and slowest run."""
    low, high = row[f"{page}_tti_range"] or (None, None)
    return f"{ms(row[f'{page}_tti'])} ({ms(low)}-{ms(high)})"


def print_tti(rows: list[dict[str, Any]], runs: int, quiet_ms: int) -> None:
    print(f"\n### /admin/programs vs the hand-written page (medians of {runs} runs, ms from navigation start)\n")
    print("TTI: median (fastest-slowest run).\n")
    print(
        "| CPU | cache | admin FCP | admin rows | admin TTI | baseline FCP | baseline rows | baseline TTI"
        " | TTI admin/baseline | rows admin/baseline | admin long tasks ms | fetched kB admin / baseline |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cpu = "off" if r["cpu"] == 1 else f"{r['cpu']:g}x slower"
        fetched = f"{kb(r['admin_transferBytes'] or 0)} / {kb(r['baseline_transferBytes'] or 0)}"
        print(
            f"| {cpu} | {r['cache']} | {ms(r['admin_fcp'])} | {ms(r['admin_rows'])} | {tti(r, 'admin')}"
            f" | {ms(r['baseline_fcp'])} | {ms(r['baseline_rows'])} | {tti(r, 'baseline')}"
            f" | {ratio(r['ratio_tti'])} | {ratio(r['ratio_rows'])} | {ms(r['admin_longTaskMs'])} | {fetched} |"
        )
    print(
        f"\nrows = {PAGE_SIZE} rows in the DOM, after the next frame; TTI = max(rows, end of the last long task"
        f" before {quiet_ms} ms without one). cold = HTTP cache cleared; warm = the next load, from the HTTP cache"
        " (V8 compiles again and writes its code cache); hot = the load after that (code cache used)."
        " fetched = Resource Timing transfer sizes: the app serves no gzip, and the baseline's cross-origin"
        " /graphql answer counts 0 (no Timing-Allow-Origin)."
    )


def admin_waterfall(runs: list[dict[str, Any]], app_url: str) -> dict[str, Any] | None:
    """What the median cold admin load at the first CPU rate fetched and when each response ended (Resource Timing)."""
    cold = sorted((r for r in runs if r["page"] == "admin" and r["cache"] == "cold"), key=lambda r: r["tti"])
    cold = [r for r in cold if r["cpu"] == cold[0]["cpu"]] if cold else []
    if not cold:
        return None
    run = cold[len(cold) // 2]

    def short(url: str) -> str:
        op = re.search(r"operationName=(\w+)", url)
        return f"/graphql {op.group(1)}" if op else url.removeprefix(app_url).split("?", 1)[0]

    files = [{"what": short(x["name"]), "bytes": x["encoded"], "end_ms": x["end"]} for x in run["resources"]]
    return {
        "cpu": run["cpu"],
        "round": run["round"],
        "fcp": run["fcp"],
        "rows": run["rows"],
        "tti": run["tti"],
        "files": files,
    }


def print_waterfall(w: dict[str, Any] | None) -> None:
    if w:
        steps = ", ".join(
            f"{f['what']} ({kb(f['bytes'])} kB) {ms(f['end_ms'])}"
            for f in sorted(w["files"], key=lambda f: f["end_ms"])
        )
        print(
            f"\nThe median cold admin load (CPU {w['cpu']:g}x), responses ending at ms: {steps}; FCP {ms(w['fcp'])},"
            f" rows {ms(w['rows'])}, TTI {ms(w['tti'])}."
        )


# --- main ----------------------------------------------------------------------------------------------------


# `cms serve` with the admin's files from `argv[1]` (the bench's copy of the build) instead of plugins/admin/static,
# so that another session's `make admin` during the runs (vite empties the folder first) changes nothing here.
# admin_routes() takes the folder as a default argument, bound when the plugin was imported: that default is replaced.
SERVE_FROZEN = """
import sys
from pathlib import Path
import plugins.admin.plugin as admin
admin.admin_routes.__defaults__ = (Path(sys.argv.pop(1)),)
from cms.cli import main
sys.exit(main(sys.argv[1:]))
"""


def serve_cmd(build: Path | None) -> list[str]:
    """`cms serve --no-worker`, with the admin served from `build` when one is given."""
    if build is None:
        return [*cms_cmd(), "serve", "--no-worker"]
    return [sys.executable, "-c", SERVE_FROZEN, str(build), "serve", "--no-worker"]


def check_served(app_url: str, build: Path | None) -> None:
    """The app's /admin/programs must be the index.html measured (a frozen copy, or the live folder's), as the
    plugin serves it: with the configuration inlined as a JSON data block before the root element."""
    served = httpx.get(f"{app_url}/admin/programs", timeout=10)
    expected = (build or STATIC) / "index.html"
    inlined = re.sub(r'<script id="cms-admin-config" type="application/json">.*?</script>', "", served.text, count=1)
    if served.status_code != 200 or inlined != expected.read_text():
        raise PageNotReady(f"/admin/programs answered {served.status_code}, not {expected}: {served.text[:200]}")


def wait_for_quiet(max_load: float, wait_s: float) -> None:
    """With --max-load: wait (at most `wait_s`) until the 1-minute load average is below it."""
    if max_load <= 0:
        return
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        log(f"load average {os.getloadavg()[0]:.2f} >= {max_load}: waiting")
        time.sleep(10)


def run_browser_part(args: argparse.Namespace, tmp: Path, build: Path, out: dict[str, Any]) -> None:
    """The app, the baseline's server, the seed, and the browser runs; fills `out`."""
    check_baseline_query()
    redis_url = machine_redis(args.redis_url)
    log(f"Redis: {redis_url or 'embedded (the app starts its own)'}")
    served = None if args.live_static else build
    out.update(redis=redis_url or "embedded", admin_files=str(served or STATIC))
    with database(args) as db_url, baseline_server() as baseline_url:
        out["database"] = "server" if db_url else "embedded"
        data_dir = tmp / "data"
        baseline_origin = baseline_url.rsplit("/", 1)[0]
        env = app_env(db_url, redis_url, data_dir, CMS_CORS_ORIGINS=baseline_origin, CMS_RATE_MUTATIONS="100000/minute")
        if db_url:
            migrate(db_url, data_dir)
        server = Server("cms", serve_cmd(served), env, None, tmp)
        env["PUBLIC_BASE_URL"] = server.url  # the Server picked its port: the issuer and the CSP need it
        with server:
            log(f"app on {server.url} (log {server.logfile}), admin files from {out['admin_files']}")
            check_served(server.url, served)
            token = dev_token(env)
            out["seed"] = seed_programs(server.url, token, args.programs, random.Random(args.seed))
            log(f"seeded {out['seed']}; baseline page on {baseline_origin}")
            try:
                browse(args, server.url, f"{baseline_url}#api={server.url}/graphql&token={token}", out)
            finally:
                out["admin_waterfall"] = admin_waterfall(out.get("runs", []), server.url)


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument(
        "--runs", type=int, default=7, help="rounds of cold, warm and hot loads per page and CPU rate (default 7)"
    )
    parser.add_argument("--programs", type=int, default=200, help="programs to seed (default 200)")
    parser.add_argument(
        "--throttle",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[1.0, 4.0],
        help="CPU throttling rates, comma separated (default 1,4; 1 = off)",
    )
    parser.add_argument("--quiet-ms", type=int, default=500, help="TTI's window without long tasks (default 500)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a page may take to show its rows")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the programs' titles and fields")
    parser.add_argument("--bundle-only", action="store_true", help="only the bundle sizes (no database, no browser)")
    parser.add_argument("--no-build", action="store_true", help="measure plugins/admin/static as it is")
    parser.add_argument("--embedded", action="store_true", help="the app's embedded PostgreSQL, not --pg-url")
    parser.add_argument(
        "--live-static",
        action="store_true",
        help="serve plugins/admin/static itself (plain `cms serve`), not the bench's copy of the build",
    )
    parser.add_argument("--max-load", type=float, default=0, help="wait for a 1-minute load below this (0: no wait)")
    parser.add_argument("--load-wait", type=float, default=180, help="seconds --max-load waits at most")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help="default: 127.0.0.1:6379 if up")
    add_database_args(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    if not args.bundle_only and not CHROMIUM.exists():
        print(f"ERROR: {CHROMIUM} is missing: run `make e2e-deps` (apt-get install chromium)", file=sys.stderr)
        return 2
    payload: dict[str, Any] = {
        "started": stamp,
        "command": " ".join([".venv/bin/python", "bench/admin_bench.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg(), "python": platform.python_version()},
        "args": {k: v for k, v in vars(args).items() if k != "pg_url"},
    }
    payload["build"] = build_admin(args.no_build)
    with tempfile.TemporaryDirectory(prefix="cms-admin-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            build, fingerprint = snapshot_build(tmp / "static")
        except RuntimeError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 2
        payload["bundle"] = bundle_report(build, fingerprint)
        print_bundle(payload["bundle"])
        code = 0
        if not args.bundle_only:
            tti: dict[str, Any] = {}
            payload["tti"] = tti
            try:
                run_browser_part(args, tmp, build, tti)
            except PageNotReady as exc:
                print(f"ERROR: {exc}", file=sys.stderr)
                tti["error"] = str(exc)
                code = 1
            if tti.get("runs"):
                tti["medians"] = medians(tti["runs"], args.throttle)
                print_tti(tti["medians"], args.runs, args.quiet_ms)
                print_waterfall(tti.get("admin_waterfall"))
    after = current_fingerprint()
    payload["build"].update(measured=payload["bundle"]["fingerprint"], at_end=after)
    if after != payload["bundle"]["fingerprint"]:
        mixed = args.live_static and not args.bundle_only
        log(
            f"{'WARNING: ' if mixed else ''}plugins/admin/static changed during the bench (build"
            f" {payload['bundle']['fingerprint']} -> {after}): "
            + ("the browser runs may mix two builds" if mixed else "the figures are those of the copy taken first")
        )
    payload["machine"]["load_after"] = os.getloadavg()
    log(f"load average {payload['machine']['load_before'][0]:.2f} -> {payload['machine']['load_after'][0]:.2f}")
    write_results(BENCH / "results" / f"admin-{stamp}.json", payload, started)
    return code


if __name__ == "__main__":
    sys.exit(main())
