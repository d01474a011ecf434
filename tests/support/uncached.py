"""The session's app again with the public cache off, beside the session server, for tests that must see the
endpoint without the cache in front. No lifespan of its own: it uses the database the session server opened."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from cms.app import create_app
from cms.core.settings import Settings
from cms.services import Services


@pytest.fixture(scope="module")
async def uncached_url(live_server, settings: Settings) -> AsyncIterator[str]:
    """Import it into a test module to use it (`from tests.support.uncached import uncached_url`)."""
    app = create_app(Services(settings.model_copy(update={"public_cache_seconds": 0})))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
