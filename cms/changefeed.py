"""Listen for committed changes (PostgreSQL NOTIFY from `cms.events.record`) and count them in a generation
number that caches compare against. While the listening connection is down, `live` is False."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from cms.db import PgTarget
from cms.events import CHANNEL

log = logging.getLogger("cms.changefeed")


class ChangeFeed:
    def __init__(self, *, reconnect_seconds: float = 1.0) -> None:
        self.target: PgTarget | None = None
        self.generation = 0
        self.live = False
        self._reconnect_seconds = reconnect_seconds
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None

    def bump(self) -> None:
        self.generation += 1

    def _on_notify(self, *_: object) -> None:
        self.bump()

    def _on_lost(self, *_: object) -> None:
        self.live = False
        self.bump()  # changes may be missed while reconnecting: forget everything

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self.target.connect()
                    await self._conn.add_listener(CHANNEL, self._on_notify)
                    self._conn.add_termination_listener(self._on_lost)
                    self.bump()
                    self.live = True
            except (OSError, asyncpg.PostgresError) as exc:
                self._on_lost()
                log.warning("change feed disconnected (%s); retrying", exc)
            await asyncio.sleep(self._reconnect_seconds)

    @contextlib.asynccontextmanager
    async def running(self, target: PgTarget) -> AsyncIterator[ChangeFeed]:
        self.target = target
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()
            self.live = False
