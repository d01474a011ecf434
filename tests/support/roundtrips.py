"""Count what asyncpg sends to PostgreSQL from the app's pool: one entry per request/response exchange.

A statement with arguments (fetch, fetchrow, execute with args) goes through Connection._execute; one without
(BEGIN, ROLLBACK, the pool's reset statement) through Connection.execute's simple-query path. Both are wrapped while
the counter is entered, calling straight through: PostgreSQL still answers every one of them. Only connections of the
app's pools (cms.core.db.PooledConnection) are counted, not the change feed's LISTEN session or the test's own.
"""

from __future__ import annotations

from typing import Any

from asyncpg.connection import Connection

from cms.core.db import PooledConnection


def _pooled(conn: Any) -> bool:
    # A pooled connection reaches user code through a proxy; Connection methods run on the connection itself.
    return isinstance(conn, PooledConnection)


class RoundTripCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __enter__(self) -> RoundTripCounter:
        self._saved = (Connection.execute, Connection._execute)
        original_execute, original__execute = self._saved
        counter = self

        async def execute(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if not args and _pooled(conn):  # with args it goes on to _execute, counted there
                counter.statements.append(query)
            return await original_execute(conn, query, *args, **kwargs)

        async def _execute(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            if _pooled(conn):
                counter.statements.append(query)
            return await original__execute(conn, query, *args, **kwargs)

        Connection.execute, Connection._execute = execute, _execute  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Connection.execute, Connection._execute = self._saved  # type: ignore[method-assign]

    def __len__(self) -> int:
        return len(self.statements)
