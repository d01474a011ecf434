"""The composition root: what the app, the worker and the CLI share, built once from the settings.

`Services(settings)` builds the parts (nothing connects yet); `async with services.running():` opens the database
and starts the plugins, and the last user to leave closes everything in reverse order. It is re-entrant, so the app
and the worker it runs inline share one set by construction: each simply enters `running()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from cms.core import db
from cms.core.settings import Settings
from cms.media.storage import Storage, open_storage_from_settings
from cms.media.transcode.capabilities import Capabilities, detect
from cms.plugins.host import PluginHost
from search.backend import SearchBackend
from search.factory import open_search_backend


class Services:
    def __init__(
        self, settings: Settings, *, plugins: PluginHost | None = None, database: db.PgTarget | None = None
    ) -> None:
        """`plugins`: a host to use instead of the installed plugins (tests register their own); `database`: where
        PostgreSQL is, instead of the settings' DATABASE_URL or the embedded server."""
        self.settings = settings
        self.plugins = plugins if plugins is not None else PluginHost(disabled=settings.plugins_disabled).load()
        self.storage: Storage = open_storage_from_settings(settings)
        self.search: SearchBackend = open_search_backend(settings)
        self.database = database  # where it is once running
        self._users = 0
        self._stack: contextlib.AsyncExitStack | None = None
        self._capabilities: Capabilities | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Services]:
        if self._users == 0:
            self._stack = await self._open()
        self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._stack is not None:
                stack, self._stack = self._stack, None
                await stack.aclose()

    async def _open(self) -> contextlib.AsyncExitStack:
        async with contextlib.AsyncExitStack() as stack:
            self.database = await stack.enter_async_context(db.database(self.settings, self.database))
            stack.push_async_callback(self.storage.close)
            stack.push_async_callback(self.search.close)
            # Plugins start after the database opens and stop before it closes: their hooks may use it.
            await stack.enter_async_context(self.plugins.running(self.settings))
            return stack.pop_all()
        raise AssertionError("unreachable")  # pragma: no cover - pop_all returned above

    async def capabilities(self) -> Capabilities:
        """What this machine's media encoders can do (GPU or CPU), probed once, on first use (the worker's start)."""
        if self._capabilities is None:
            self._capabilities = await asyncio.to_thread(detect, try_gpu=self.settings.try_gpu)
        return self._capabilities
