"""A slow statement is not a database outage; a database that does not answer is.

CMS_DB_STATEMENT_TIMEOUT_SECONDS is PostgreSQL's statement_timeout on every pooled connection (cms/core/db.py): a
statement past it is cancelled by the server (QueryCanceledError), an error of that request or job, never a 503 with
Retry-After. asyncpg's own timeouts (connecting, and a safety net NO_ANSWER_MARGIN past the server's bound) mean the
server did not answer: an outage. And a job whose own code raises TimeoutError is recorded as that error, not as
its kind's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.asyncpg import AsyncpgDBClient

from cms.core.db import PgTarget, tortoise_config
from cms.core.settings import Settings
from cms.core.unavailable import unavailable_part
from cms.media.storage import open_storage_from_settings
from jobs.runner import JobDeps, JobKind, run_job
from jobs.store import service as jobstore
from jobs.store.models import Job
from tests.support import database
from tests.support.api import Api, operation
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import eventually, free_port
from tests.support.serve import cms_serve

UPDATE_PROGRAM = """mutation($id: ID!, $title: String!) {
  updateProgram(id: $id, input: {title: $title}) { __typename ... on Program { id title } }
}"""


@contextlib.asynccontextmanager
async def app_client(target: PgTarget, **options: Any) -> AsyncIterator[AsyncpgDBClient]:
    """A Tortoise client configured exactly as the app's "default" connection (tortoise_config), outside the global
    Tortoise state, which the suite's in-process app owns."""
    credentials = tortoise_config(target, pool_max=2, **options)["connections"]["default"]["credentials"]
    client = AsyncpgDBClient(connection_name=f"timeout-{uuid.uuid4().hex[:8]}", **credentials)
    await client.create_connection(with_db=True)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def scratch_db(pg_server: PgTarget) -> AsyncIterator[PgTarget]:
    target = await database.create_database(pg_server, prefix="cms_timeout")
    yield target
    await database.drop_database(target)


async def test_a_statement_past_the_bound_is_cancelled_by_the_server_and_is_no_outage(scratch_db: PgTarget) -> None:
    async with app_client(scratch_db, statement_timeout=0.3) as client:
        assert (await client.execute_query_dict("SHOW statement_timeout"))[0]["statement_timeout"] == "300ms"
        with pytest.raises(asyncpg.exceptions.QueryCanceledError) as cancelled:
            await client.execute_query("SELECT pg_sleep(3)")
        assert "statement timeout" in str(cancelled.value)
        assert unavailable_part(cancelled.value) is None
        # The connection is fine afterwards: the server cancelled one statement, nothing else.
        assert (await client.execute_query_dict("SELECT 1 AS one"))[0]["one"] == 1


async def test_migrations_are_unbounded_even_where_the_database_sets_a_bound(scratch_db: PgTarget) -> None:
    admin = await scratch_db.connect()
    try:
        await admin.execute(f"ALTER DATABASE \"{scratch_db.database}\" SET statement_timeout = '1s'")
    finally:
        await admin.close()
    async with app_client(scratch_db, statement_timeout=None) as client:  # what `cms migrate` uses
        assert (await client.execute_query_dict("SHOW statement_timeout"))[0]["statement_timeout"] == "0"
        await client.execute_query("SELECT pg_sleep(1.2)")  # past the database's own bound


async def test_a_database_that_does_not_answer_is_an_outage(scratch_db: PgTarget) -> None:
    # Nothing listens: refused while connecting.
    refused = PgTarget("127.0.0.1", free_port(), "postgres", None, "cms")
    with pytest.raises(OSError) as error:
        async with app_client(refused, statement_timeout=60):
            pass
    assert unavailable_part(error.value) == "database"

    # Something accepts the connection and never answers (a stalled server): asyncpg's connect timeout.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        with pytest.raises(TimeoutError) as timed_out:
            await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="cms", timeout=0.5)
        assert unavailable_part(timed_out.value) == "database"
    finally:
        silent.close()

    # The client's own bound on a statement (past the server's in the app: the server stopped answering).
    conn = await scratch_db.connect()
    try:
        with pytest.raises(TimeoutError) as no_answer:
            await conn.fetchval("SELECT pg_sleep(3)", timeout=0.3)
        assert unavailable_part(no_answer.value) == "database"
    finally:
        await conn.close()


async def test_a_statement_past_the_bound_in_a_request_is_an_error_of_that_request_not_a_503(
    pg_server: PgTarget, settings: Settings, issuer: TestIssuer, tmp_path: Path
) -> None:
    """An edit that waits past CMS_DB_STATEMENT_TIMEOUT_SECONDS for a row lock held elsewhere (a long transaction of
    another tool): its statement is cancelled, the answer is an error of that request, not 'unavailable'."""
    env = {"OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": "cms", "CMS_DB_STATEMENT_TIMEOUT_SECONDS": "1"}
    async with (
        cms_serve(pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path, env=env) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
    ):
        api = Api(client, issuer)
        created = await api.data(operation("CreateProgram"), {"input": {"title": "Locked"}}, role="editor")
        program_id = created["createProgram"]["id"]
        holder = await asyncpg.connect(served.env["DATABASE_URL"])
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM program FOR UPDATE")  # every program row, until rollback
                response = await api.post(UPDATE_PROGRAM, {"id": program_id, "title": "Waited"}, role="editor")
                assert response.status_code == 200, response.text
                assert "retry-after" not in response.headers
                [error] = response.json()["errors"]
                assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
                assert error["extensions"].get("code") != "SERVICE_UNAVAILABLE"
                # Meanwhile the database is up, and says so.
                ready = await client.get("/readyz")
                assert ready.status_code == 200, ready.text
        finally:
            await holder.close()
        # The lock is gone: the same edit succeeds, and the server log names the cancelled statement.
        updated = await api.data(UPDATE_PROGRAM, {"id": program_id, "title": "Waited"}, role="editor")
        assert updated["updateProgram"]["title"] == "Waited"
        # Log lines reach the file from the server's writer thread, a moment after the answer.
        await eventually(
            lambda: "canceling statement due to statement timeout" in served.process.tail(400),
            what="the cancelled statement in the server log",
            processes=(served.process,),
        )


async def _raises_timeout(deps: JobDeps, payload: dict[str, Any]) -> None:
    raise TimeoutError("the source did not answer")


async def _sleeps(deps: JobDeps, payload: dict[str, Any]) -> None:
    await asyncio.sleep(30)


async def test_a_job_that_raises_timeout_error_is_recorded_as_that_not_as_its_deadline(
    api: Api, settings: Settings
) -> None:
    deps = JobDeps(settings=settings, storage=open_storage_from_settings(settings))
    kind = f"timeout_{uuid.uuid4().hex[:8]}"

    own = await jobstore.enqueue(kind, {}, max_attempts=3)
    kinds = {kind: JobKind(name=kind, run=_raises_timeout, timeout=timedelta(hours=6))}
    assert await run_job(own.id, deps=deps, kinds=kinds) == "retry"
    assert (await Job.get(id=own.id)).last_error == "TimeoutError: the source did not answer"

    late = await jobstore.enqueue(kind, {}, max_attempts=3)
    kinds = {kind: JobKind(name=kind, run=_sleeps, timeout=timedelta(seconds=0.2))}
    assert await run_job(late.id, deps=deps, kinds=kinds) == "retry"
    assert (await Job.get(id=late.id)).last_error == "timed out after 0.2 s"
