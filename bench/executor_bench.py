"""The compiled executor against Strawberry's standard one, in-process, on the same seeded database.

    .venv/bin/python bench/executor_bench.py [--s1 2000 --s2 200 --rounds 3]

Seed as bench/api_bench.py (50 programs, 5,000 public episodes; S1 = EpisodeWithProgram over 200 ids, S2 =
EpisodeFeed first: 100). Two apps (cms.app.create_app) on that database, CMS_GRAPHQL_COMPILED=false (the baseline,
measured in the same run) and true, public cache and rate limits off. First every S1 id and three S2 pages are
asked of both and the JSON compared (the bench stops on any difference); then requests go straight into each ASGI
app one at a time (no socket, no HTTP parsing), alternating apps per round; CPU (process time) and wall time per
request are the best round's. Prints a table with the ratio of the compiled app's CPU per request to the standard's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

import api_bench
from _common import (
    ROOT,
    UNCACHED,
    add_database_args,
    app_settings,
    asgi_post,
    in_throwaway_database,
    log,
    migrate,
    print_table,
)

sys.path.insert(0, str(ROOT))


async def run(db_url: str, data_dir: Path, s1: list[bytes], s2: list[bytes], counts: dict[str, int], rounds: int):
    from cms.app import create_app
    from cms.core.db import PgTarget
    from cms.services import Services

    def app(compiled: bool):
        settings = app_settings(db_url, data_dir, **UNCACHED, CMS_GRAPHQL_COMPILED=compiled)
        return create_app(Services(settings, database=PgTarget.from_url(db_url)))

    standard, compiled = app(False), app(True)
    rows = []
    async with standard.router.lifespan_context(standard), compiled.router.lifespan_context(compiled):
        # Identical answers first: every S1 id, and S2 over three pages.
        checked = 0
        pages = list(s2)
        for payload in [*s1, *pages]:
            a, b = await asgi_post(standard, payload), await asgi_post(compiled, payload)
            if a[0] != 200 or a != b or json.loads(a[1]).get("errors"):
                log(
                    f"DIFFERENT or failed answer for {payload[:120]!r}:\n  standard {a[:1]} {a[1][:300]!r}\n"
                    f"  compiled {b[:1]} {b[1][:300]!r}"
                )
                return 1, rows
            checked += 1
        log(f"{checked} answers identical (standard vs compiled)")
        for name, payloads in (("S1", s1), ("S2", s2)):
            n = counts[name]
            best: dict[str, tuple[float, float]] = {}
            for label, target in (("standard", standard), ("compiled", compiled)):
                for i in range(max(20, n // 10)):  # warm-up
                    await asgi_post(target, payloads[i % len(payloads)])
            for _ in range(rounds):
                for label, target in (("standard", standard), ("compiled", compiled)):
                    t0, c0 = time.perf_counter(), time.process_time()
                    for i in range(n):
                        status, _ = await asgi_post(target, payloads[i % len(payloads)])
                        assert status == 200, status
                    wall, cpu = (time.perf_counter() - t0) * 1000 / n, (time.process_time() - c0) * 1000 / n
                    if label not in best or cpu < best[label][1]:
                        best[label] = (wall, cpu)
            base = best["standard"][1]
            for label in ("standard", "compiled"):
                wall, cpu = best[label]
                rows.append(
                    {
                        "scenario": name,
                        "executor": label,
                        "requests": n,
                        "wall ms/req": round(wall, 3),
                        "CPU ms/req": round(cpu, 3),
                        "CPU vs standard": f"{cpu / base:.2f}x",
                    }
                )
    return 0, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--s1", type=int, default=2000, help="S1 requests per round (default 2000)")
    parser.add_argument("--s2", type=int, default=200, help="S2 requests per round (default 200)")
    parser.add_argument("--rounds", type=int, default=3)
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
        code, rows = asyncio.run(run(db_url, data_dir, s1, s2, {"S1": args.s1, "S2": args.s2}, args.rounds))
        if rows:
            columns = list(rows[0])
            widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
            print_table(
                "  ".join(c.ljust(w) for c, w in zip(columns, widths)),
                ["  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths)) for r in rows],
            )
        return code

    os.environ.setdefault("CMS_LOG_LEVEL", "warning")
    return in_throwaway_database(args, "cms-executor-", in_db)


if __name__ == "__main__":
    sys.exit(main())
