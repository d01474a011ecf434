"""Telling an outage from a bug: the exceptions that mean PostgreSQL, Redis or storage cannot be reached right now.

A request that fails for such a reason is answered 503 with `Retry-After` (GraphQL: an error with code
SERVICE_UNAVAILABLE, cms/api/errors_masking.py and cms/http/graphql.py; any other route: cms/http/unavailable.py)
instead of a 500 or a masked error: the client did nothing wrong and the same request will work once the part is
back. Everything else stays an unexpected error.

A statement PostgreSQL cancelled for running past CMS_DB_STATEMENT_TIMEOUT_SECONDS (QueryCanceledError, 57014) is
not an outage: the database answered, the query was too costly, and retrying would cost as much again. It stays an
unexpected error (GraphQL: INTERNAL_SERVER_ERROR with a correlation id, logged with the statement's error). A bare
TimeoutError raised inside asyncpg is an outage: connecting (5 s), or the client's own bound on a statement, which
cms/core/db.py sets NO_ANSWER_MARGIN past the server's, so it fires only when the server stopped answering.
"""

from __future__ import annotations

import types
from typing import Literal

import asyncpg

Part = Literal["database", "redis", "storage"]
RETRY_AFTER_SECONDS = 5  # what 503s ask clients to wait: about how long a PostgreSQL restart or failover takes
DESCRIPTIONS: dict[Part, str] = {"database": "the database", "redis": "the job queue (Redis)", "storage": "storage"}

# PostgreSQL refusing or dropping sessions: shutting down, starting up, crashed, out of connection slots.
_PG_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # class 08, and the client's own "connection was closed in the middle"
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # asyncpg's protocol caught mid-operation by the server going away ("cannot switch to state N; another
    # operation is in progress", seen when a pooled connection is reset while PostgreSQL shuts down).
    asyncpg.exceptions.InternalClientError,
)
# Packages whose frames identify which part a bare socket error (refused, reset, timed out) came from.
_FRAME_PARTS: tuple[tuple[str, Part], ...] = (
    ("asyncpg", "database"),
    ("tortoise", "database"),
    ("redis", "redis"),
    ("arq", "redis"),
    ("botocore", "storage"),
    ("urllib3", "storage"),
    ("boto3", "storage"),
)
_S3_BUSY = frozenset({"ServiceUnavailable", "SlowDown", "RequestTimeout", "InternalError", "503", "500"})


class Unavailable(Exception):
    """Raised on purpose when code knows a part is unreachable (e.g. a readiness result); answered with a 503."""

    def __init__(self, part: Part, detail: str = "") -> None:
        super().__init__(f"{DESCRIPTIONS[part]} is unavailable{': ' + detail if detail else ''}")
        self.part: Part = part


def unavailable_part(exc: BaseException | None) -> Part | None:
    """The part whose outage caused `exc` (looking through its causes), or None when it is not an outage."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 20:
        seen.add(id(exc))
        if statement_cancelled(exc):
            return None  # whatever else went wrong before, the server answered: this request's own failure
        part = _classify(exc)
        if part is not None:
            return part
        exc = exc.__cause__ or exc.__context__
    return None


def statement_cancelled(exc: BaseException) -> bool:
    """PostgreSQL cancelled the statement: its statement_timeout, or a cancel request (the query's fault, not an
    outage)."""
    return isinstance(exc, asyncpg.exceptions.QueryCanceledError)


def message(part: Part) -> str:
    return f"{DESCRIPTIONS[part].capitalize()} is unavailable right now; retry in a few seconds."


def _classify(exc: BaseException) -> Part | None:
    if isinstance(exc, Unavailable):
        return exc.part
    if isinstance(exc, _PG_UNAVAILABLE):
        return "database"
    mro = [(cls.__module__, cls.__name__) for cls in type(exc).__mro__]
    if any(module == "botocore.exceptions" and name in ("HTTPClientError", "ConnectionError") for module, name in mro):
        return "storage"
    if any(module == "botocore.exceptions" and name == "ClientError" for module, name in mro):
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return "storage" if code in _S3_BUSY or status == "503" else None
    if any(module.startswith("redis") and name in ("ConnectionError", "TimeoutError") for module, name in mro):
        return "redis"
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ == "gaierror":
        return _part_from_frames(exc.__traceback__)
    return None


def _part_from_frames(tb: types.TracebackType | None) -> Part | None:
    """A socket error raised inside a client library: the innermost library frame says which part it was."""
    found: Part | None = None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        top = module.partition(".")[0]
        for package, part in _FRAME_PARTS:
            if top == package:
                found = part
        tb = tb.tb_next
    return found
