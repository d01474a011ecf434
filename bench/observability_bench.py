"""What the request-path observability costs: RequestIdMiddleware + ObservabilityMiddleware (metrics by route
template, log context, the access line, the server span) on a trivial Starlette route, driven by raw ASGI calls in one
event loop (no network, no server), against the same route without them, measured in the same run.

    .venv/bin/python bench/observability_bench.py [--requests 20000] [--rounds 3]

Prints microseconds per request (the best of the rounds) and the ratio to the bare route. Log lines are JSON
(CMS_LOG_FORMAT=json) written to /dev/null by the writer thread, as in production; tracing uses an in-memory
exporter with every request sampled (the worst case: production exports in batches and may sample).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from cms.core import tracing  # noqa: E402
from cms.core.logs import configure_logging  # noqa: E402
from cms.core.settings import Settings  # noqa: E402
from cms.http.observability import ObservabilityMiddleware  # noqa: E402
from cms.http.request_id import RequestIdMiddleware  # noqa: E402

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"bench")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def build(*, observed: bool, access_log: bool = False) -> Starlette:
    routes = [Route("/items/{item_id:int}", item)]
    middleware = (
        [Middleware(RequestIdMiddleware), Middleware(ObservabilityMiddleware, routes=routes, access_log=access_log)]
        if observed
        else []
    )
    return Starlette(routes=routes, middleware=middleware)


async def per_request(app: Starlette, requests: int) -> float:
    """Microseconds per request over `requests` calls, after a warm-up."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    for _ in range(500):
        await app(dict(SCOPE), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    os.environ["CMS_LOG_FORMAT"] = "json"
    settings = Settings()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the log lines' cost is in formatting and queueing them, not in a terminal
    configure_logging(settings)

    rows = [
        ("bare route (baseline)", lambda: build(observed=False), False),
        ("metrics + log context", lambda: build(observed=True), False),
        ("+ access line", lambda: build(observed=True, access_log=True), False),
        ("+ tracing (in-memory, all sampled)", lambda: build(observed=True, access_log=True), True),
    ]
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, make, traced in rows:
            if traced:
                tracing.configure_tracing(settings, "bench", exporter=InMemorySpanExporter())
            try:
                micros = await per_request(make(), args.requests)
            finally:
                if traced:
                    tracing.shutdown_tracing()
            best[name] = min(best.get(name, micros), micros)
    baseline = best[rows[0][0]]
    print(f"{os.cpu_count()} CPUs, {args.requests} requests x {args.rounds} rounds, best round", file=sys.stdout)
    print(f"{'setup':40} {'us/request':>10} {'ratio':>7}")
    for name, _, _ in rows:
        print(f"{name:40} {best[name]:10.1f} {best[name] / baseline:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
