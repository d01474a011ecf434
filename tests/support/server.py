"""Run the real app under uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.applications import Starlette


class LiveServer:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the startup error
                raise RuntimeError("server exited during startup")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server and self._task:
            self._server.should_exit = True
            await self._task
