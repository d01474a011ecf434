"""Hand-written Starlette + asyncpg baseline for bench/api_bench.py (bench code, not product code).

Serves POST /graphql for exactly two operations and answers with the same JSON the CMS's GraphQL API gives an
anonymous caller:

  S1 `EpisodeWithProgram(id)`  -> {"data": {"episode": {id, title, slug, publishAt, program {id, title, slug}}}}
  S2 `EpisodeFeed(first, after)` -> {"data": {"episodes": {"edges": [{cursor, node {...}}], "pageInfo": {...}}}}

Same semantics as the app: only public episodes (episode and its program PUBLISHED with publish_at <= now), order
created_at DESC, id DESC, keyset cursors encoded like cms/core/pagination.py, Relay global ids like cms/api/ids.py,
media asset = newest READY video/audio else newest video/audio, comment count excludes deleted comments.
Filters and orderings other than the default are not implemented (the bench does not use them).

A pooled asyncpg connection per query (pool max 20, like the app's Tortoise pool). Each response carries
`x-sql-queries`: the number of SQL statements the request ran (counted by construction).

Run: BASELINE_DATABASE_URL=postgres://... uvicorn --app-dir bench baseline_app:app
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# cms/core/pagination.py names the model and the ordering in cursors: "<Model>.<FIELD>_<DIRECTION>".
ORDERING_NAME = "Episode.CREATED_AT_DESC"

PUBLIC = """e.status = 'PUBLISHED' AND e.publish_at <= now()
    AND p.status = 'PUBLISHED' AND p.publish_at <= now()"""

S1_SQL = f"""
SELECT e.id, e.title, e.slug, e.publish_at, p.id AS p_id, p.title AS p_title, p.slug AS p_slug
FROM episode e JOIN program p ON p.id = e.program_id
WHERE e.id = $1 AND {PUBLIC}
"""


def _s2_sql(with_after: bool) -> str:
    after = "AND (e.created_at < $2 OR (e.created_at = $2 AND e.id < $3))" if with_after else ""
    # One statement: the page (one extra row for hasNextPage) with each row's comment count (a correlated count
    # that uses the comment (episode_id, created_at) index), then the page's main media. asset.episode_id has no
    # index, so media is one hashed semi-join on the page ids rather than a per-row LATERAL (a scan per row).
    return f"""
WITH page AS (
    SELECT e.id, e.title, e.publish_at, e.created_at, p.id AS p_id, p.title AS p_title,
        (SELECT count(*) FROM comment c WHERE c.episode_id = e.id AND c.deleted_at IS NULL) AS n
    FROM episode e JOIN program p ON p.id = e.program_id
    WHERE {PUBLIC} {after}
    ORDER BY e.created_at DESC, e.id DESC
    LIMIT $1
), media AS (
    SELECT DISTINCT ON (a.episode_id) a.episode_id, a.id, a.kind, a.status
    FROM asset a
    WHERE a.episode_id IN (SELECT id FROM page) AND a.kind IN ('VIDEO', 'AUDIO')
    ORDER BY a.episode_id, (a.status = 'READY') DESC, a.created_at DESC, a.id DESC
)
SELECT page.id, page.title, page.publish_at, page.created_at, page.p_id, page.p_title,
    media.id AS a_id, media.kind AS a_kind, media.status AS a_status, page.n
FROM page LEFT JOIN media ON media.episode_id = page.id
ORDER BY page.created_at DESC, page.id DESC
"""


S2_SQL = _s2_sql(False)
S2_AFTER_SQL = _s2_sql(True)


# --- ids and cursors, byte-compatible with cms/api/ids.py and cms/core/pagination.py ------------------------------


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, expected: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        if type_name != expected or not pk.isascii() or not pk.isdigit() or len(pk) > 18:
            return None
        return int(pk)
    except Exception:  # noqa: BLE001
        return None


def encode_cursor(created_at: Any, row_id: int) -> str:
    raw = json.dumps([ORDERING_NAME, created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    from datetime import datetime

    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    name, value, row_id = json.loads(raw)
    if name != ORDERING_NAME or not isinstance(row_id, int):
        raise ValueError("bad cursor")
    return datetime.fromisoformat(value), row_id


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _json(payload: Any, sql_queries: int, status: int = 200) -> Response:
    # Same encoder settings as Strawberry's view (json.dumps with compact separators).
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status, media_type="application/json", headers={"x-sql-queries": str(sql_queries)})


def _error(message: str) -> Response:
    return _json({"data": None, "errors": [{"message": message}]}, 0, 400)


# --- handlers -------------------------------------------------------------------------------------------------


async def episode_with_program(pool: asyncpg.Pool, variables: dict) -> Response:
    pk = from_global_id(str(variables.get("id", "")), "Episode")
    if pk is None:
        return _error("id is not a valid Episode id")
    row = await pool.fetchrow(S1_SQL, pk)
    if row is None:
        return _json({"data": {"episode": None}}, 1)
    episode = {
        "id": to_global_id("Episode", row["id"]),
        "title": row["title"],
        "slug": row["slug"],
        "publishAt": _iso(row["publish_at"]),
        "program": {"id": to_global_id("Program", row["p_id"]), "title": row["p_title"], "slug": row["p_slug"]},
    }
    return _json({"data": {"episode": episode}}, 1)


async def episode_feed(pool: asyncpg.Pool, variables: dict) -> Response:
    if variables.get("filter") or variables.get("orderBy"):
        return _error("the baseline implements only the default filter and ordering")
    first = variables.get("first")
    size = DEFAULT_PAGE_SIZE if first is None else int(first)
    if size < 0 or size > MAX_PAGE_SIZE:
        return _error(f"first must be between 0 and {MAX_PAGE_SIZE}")
    after = variables.get("after")
    # Like cms/core/pagination.py, `first: 0` still asks for one row: hasNextPage tells whether any follow.
    if after:
        try:
            created_at, row_id = decode_cursor(after)
        except Exception:  # noqa: BLE001
            return _error("after is not a valid cursor for this list and ordering")
        rows = await pool.fetch(S2_AFTER_SQL, size + 1, created_at, row_id)
    else:
        rows = await pool.fetch(S2_SQL, size + 1)
    queries = 1
    items = rows[:size]
    edges = []
    for r in items:
        a_id = r["a_id"]
        edges.append(
            {
                "cursor": encode_cursor(r["created_at"], r["id"]),
                "node": {
                    "id": to_global_id("Episode", r["id"]),
                    "title": r["title"],
                    "publishAt": _iso(r["publish_at"]),
                    "program": {"id": to_global_id("Program", r["p_id"]), "title": r["p_title"]},
                    "mediaAsset": None
                    if a_id is None
                    else {
                        "id": to_global_id("Asset", a_id),
                        "kind": r["a_kind"],
                        "status": r["a_status"],
                    },
                    "commentCount": r["n"],
                },
            }
        )
    page_info = {"hasNextPage": len(rows) > size, "endCursor": edges[-1]["cursor"] if edges else None}
    return _json({"data": {"episodes": {"edges": edges, "pageInfo": page_info}}}, queries)


HANDLERS = {"EpisodeWithProgram": episode_with_program, "EpisodeFeed": episode_feed}


async def graphql(request: Request) -> Response:
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return _error("body is not JSON")
    name = payload.get("operationName")
    if name is None:  # no operationName: recognise the operation by its name in the document
        query = payload.get("query") or ""
        name = next((n for n in HANDLERS if f"query {n}" in query), None)
    handler = HANDLERS.get(name)
    if handler is None:
        return _error(f"unsupported operation {name!r}")
    return await handler(request.app.state.pool, payload.get("variables") or {})


async def health(request: Request) -> Response:
    return _json({"status": "ok"}, 0)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ.get("BASELINE_DATABASE_URL") or os.environ["DATABASE_URL"]
    app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=int(os.environ.get("BASELINE_POOL_MAX", "20")))
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/health", health)], lifespan=lifespan)
