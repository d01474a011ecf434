"""Minimal raw Starlette upload sink: the baseline of bench/upload_bench.py (bench code, not product code).

PUT /sink/{name} streams request.stream() into $SINK_DIR/{name} with a plain open()/write() in a worker thread
per chunk (the natural "raw" way: no hashing, no sniffing, no temp file, no auth, no database). `?fsync=1` also
fsyncs the file before answering (a diagnostic: same durability as the CMS's staging write). Answers
{"size", "chunks", "max_chunk"}: the body chunk sizes uvicorn delivered, for the report.

Run: SINK_DIR=/tmp/x uvicorn --app-dir bench raw_sink:app
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SINK_DIR = Path(os.environ.get("SINK_DIR", "/tmp/raw-sink"))


def _open(name: str):
    SINK_DIR.mkdir(parents=True, exist_ok=True)
    return open(SINK_DIR / os.path.basename(name), "wb")


def _fsync_close(file) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


async def sink(request: Request) -> JSONResponse:
    file = await run_in_threadpool(_open, request.path_params["name"])
    size = chunks = max_chunk = 0
    try:
        async for chunk in request.stream():
            if chunk:
                size += len(chunk)
                chunks += 1
                max_chunk = max(max_chunk, len(chunk))
                await run_in_threadpool(file.write, chunk)
        if request.query_params.get("fsync") == "1":
            await run_in_threadpool(_fsync_close, file)
    finally:
        file.close()
    return JSONResponse({"size": size, "chunks": chunks, "max_chunk": max_chunk})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health", health), Route("/sink/{name}", sink, methods=["PUT"])])
