"""Profile the uncached GraphQL path (issue 16, step 1): S1 and S2 of bench/api_bench.py under pyinstrument.

    .venv/bin/python bench/profile_graphql.py [--s1 300 --s2 50 --interval 0.0002 --pg-url URL]

Reuses bench/api_bench.py: a throw-away database (dropped at the end), `cms migrate`, its seed (50 programs, 5,000
public episodes), its S1/S2 bodies. The real app (cms.app.create_app, CMS_PUBLIC_CACHE_SECONDS=0, rate limits off,
`Cache-Control: no-cache` on every request) runs in this process under its own lifespan; requests go straight into
the ASGI app one after the other (no socket, no HTTP parsing, no client in the profile). Per scenario: a warm-up,
CPU time per request without the profiler, asyncpg calls per request (round trips; explicit BEGINs; statements sent
outside a transaction, i.e. autocommit transactions), then N requests under pyinstrument (async_mode="enabled").
Writes bench/results/profile-s1.html, profile-s2.html and profile-stats.json (self / cumulative / category totals).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HERE = BENCH / "results"  # where the profiles go (gitignored, like every bench's results)
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import api_bench  # noqa: E402
from _common import UNCACHED, add_database_args, app_settings, in_throwaway_database, log, migrate  # noqa: E402

# Cumulative categories: a sample counts for a category when any frame of its stack matches (file part, function).
CATEGORIES: list[tuple[str, str, str | None]] = [
    ("starlette BaseHTTPMiddleware (call_next, task group)", "starlette/middleware/base.py", None),
    ("AuthenticationMiddleware (+ backend)", "starlette/middleware/authentication.py", None),
    ("cms/http/* (all app middleware + endpoint code)", "cms/http/", None),
    ("cms/api/* (schema, resolvers, loaders)", "cms/api/", None),
    ("strawberry (all)", "strawberry/", None),
    ("graphql-core parse", "graphql/language/", None),
    ("graphql-core validate", "graphql/validation/", None),
    ("graphql-core execute (incl. resolvers below it)", "graphql/execution/", None),
    ("strawberry resolver wrappers (schema_converter)", "strawberry/schema/schema_converter.py", None),
    ("strawberry extensions (schema/field hooks)", "strawberry/extensions/", None),
    ("strawberry permission classes", "strawberry/permission.py", None),
    ("tortoise (all)", "tortoise/", None),
    ("tortoise model instantiation (_init_from_db)", "tortoise/models.py", "_init_from_db"),
    ("tortoise query building (queryset/pypika)", "pypika", None),
    ("tortoise executor / backends", "tortoise/backends/", None),
    ("tortoise transactions (in_transaction)", "tortoise/transactions.py", None),
    ("asyncpg (python side)", "asyncpg/", None),
    ("asyncpg pool acquire/release (+ reset query)", "asyncpg/pool.py", None),
    ("tortoise field to_python_value", "tortoise/fields/", "to_python_value"),
    ("enum construction (Enum.__call__)", "enum.py", "__call__"),
    ("awaiting I/O (PostgreSQL round trips)", "[await]", None),
    ("json (stdlib)", "json/", None),
    ("orjson", "orjson", None),
    ("logging", "logging/", None),
    ("pydantic", "pydantic", None),
]


def split_frame(identifier: str) -> tuple[str, str, str]:
    parts = identifier.split("\x01")[0].split("\x00")
    func = parts[0]
    path = parts[1] if len(parts) > 1 else ""
    line = parts[2] if len(parts) > 2 else ""
    return func, path, line


def short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def aggregate(session, n_requests: int) -> dict:
    total = sum(t for _, t in session.frame_records)
    self_t: collections.Counter = collections.Counter()
    cum_t: collections.Counter = collections.Counter()
    cat_t: collections.Counter = collections.Counter()
    for stack, t in session.frame_records:
        frames = [split_frame(f) for f in stack]
        func, path, line = frames[-1]
        self_t[f"{func}  {short(path)}:{line}"] += t
        seen = set()
        for func, path, line in frames:
            key = f"{func}  {short(path)}"
            if key not in seen:
                seen.add(key)
                cum_t[key] += t
        for name, path_part, func_name in CATEGORIES:
            if any(path_part in (p or f) and (func_name is None or f == func_name) for f, p, _ in frames):
                cat_t[name] += t

    def rows(counter, k):
        return [
            {"frame": key, "ms_per_req": v * 1000 / n_requests, "pct": 100 * v / total}
            for key, v in counter.most_common(k)
        ]

    return {
        "requests": n_requests,
        "profiled_ms_per_req": total * 1000 / n_requests,
        "top_self": rows(self_t, 40),
        "top_cumulative": rows(cum_t, 80),
        "categories": [
            {"category": name, "ms_per_req": cat_t[name] * 1000 / n_requests, "pct": 100 * cat_t[name] / total}
            for name, _, _ in CATEGORIES
        ],
    }


class AsyncpgCounter:
    """Counts asyncpg Connection.execute / _execute calls (each one a round trip, plus a prepare on a statement-cache
    miss), explicit BEGINs, and statements sent while the connection is not in a transaction (autocommit)."""

    def __init__(self) -> None:
        self.calls = 0
        self.begins = 0
        self.autocommit = 0
        self.texts: collections.Counter = collections.Counter()

    def __enter__(self) -> AsyncpgCounter:
        from asyncpg.connection import Connection

        self._orig = (Connection.execute, Connection._execute)
        counter = self
        orig_execute, orig__execute = self._orig

        def note(conn, query: str) -> None:
            counter.calls += 1
            q = query.strip().upper()
            if q.startswith(("BEGIN", "START TRANSACTION")):
                counter.begins += 1
            elif not conn.is_in_transaction():
                counter.autocommit += 1
            counter.texts[" ".join(query.split())[:120]] += 1

        async def execute(conn, query, *args, **kwargs):
            note(conn, query)
            return await orig_execute(conn, query, *args, **kwargs)

        async def _execute(conn, query, *args, **kwargs):
            note(conn, query)
            return await orig__execute(conn, query, *args, **kwargs)

        Connection.execute, Connection._execute = execute, _execute
        return self

    def __exit__(self, *exc: object) -> None:
        from asyncpg.connection import Connection

        Connection.execute, Connection._execute = self._orig


async def profile(db_url: str, data_dir: Path, scenarios: dict, interval: float, out: Path) -> dict:
    from pyinstrument import Profiler

    from cms.app import create_app
    from cms.core.db import PgTarget
    from cms.services import Services
    from tests.support.sql import QueryCounter

    settings = app_settings(db_url, data_dir, **UNCACHED)
    app = create_app(Services(settings, database=PgTarget.from_url(db_url)))
    results = {}
    async with app.router.lifespan_context(app):
        for name, (payloads, n) in scenarios.items():

            async def drive(count: int) -> None:
                for i in range(count):
                    status = await api_bench._asgi_post(app, payloads[i % len(payloads)])
                    assert status == 200, status

            await drive(max(20, n // 5))  # warm: parser/validation caches, pool, statement caches
            with QueryCounter() as qc:
                await drive(1)
            with AsyncpgCounter() as ac:
                await drive(n)
            t0, c0 = time.perf_counter(), time.process_time()
            await drive(n)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            profiler = Profiler(interval=interval, async_mode="enabled")
            profiler.start()
            await drive(n)
            session = profiler.stop()
            html = out / f"profile-{name.lower()}.html"
            html.write_text(profiler.output_html())
            stats = aggregate(session, n)
            stats.update(
                wall_ms_per_req_unprofiled=wall * 1000 / n,
                cpu_ms_per_req_unprofiled=cpu * 1000 / n,
                tortoise_sql_statements_per_req=len(qc.statements),
                tortoise_sql_statements=qc.statements,
                asyncpg_calls_per_req=ac.calls / n,
                explicit_begins_per_req=ac.begins / n,
                autocommit_statements_per_req=ac.autocommit / n,
                transactions_per_req=(ac.begins + ac.autocommit) / n,
                asyncpg_call_texts={k: v / n for k, v in ac.texts.most_common(20)},
                text=profiler.output_text(unicode=False, color=False, show_all=False),
            )
            results[name] = stats
            log(
                f"{name}: {n} req, unprofiled wall {stats['wall_ms_per_req_unprofiled']:.2f} ms/req, CPU "
                f"{stats['cpu_ms_per_req_unprofiled']:.2f} ms/req; profiled {stats['profiled_ms_per_req']:.2f} ms/req;"
                f" SQL {len(qc.statements)}, asyncpg calls {ac.calls / n:.1f}, transactions "
                f"{(ac.begins + ac.autocommit) / n:.1f}/req -> {html.relative_to(BENCH.parent)}"
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--s1", type=int, default=300, help="S1 requests profiled (default 300)")
    parser.add_argument("--s2", type=int, default=50, help="S2 requests profiled (default 50)")
    parser.add_argument("--interval", type=float, default=0.001, help="pyinstrument sampling interval, s")
    parser.add_argument("--seed", type=int, default=1234)
    add_database_args(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    def in_db(db_url: str, tmp: Path) -> int:
        data_dir = tmp / "data"
        data_dir.mkdir()
        migrate(db_url, data_dir)
        seeded = asyncio.run(api_bench.seed(db_url, rng))
        s1, s2 = api_bench.scenario_bodies(seeded, rng)
        HERE.mkdir(exist_ok=True)
        results = asyncio.run(
            profile(db_url, data_dir, {"S1": (s1, args.s1), "S2": (s2, args.s2)}, args.interval, HERE)
        )
        (HERE / "profile-stats.json").write_text(json.dumps(results, indent=2))
        return 0

    return in_throwaway_database(args, "cms-profile-", in_db)


if __name__ == "__main__":
    sys.exit(main())
