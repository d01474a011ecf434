"""Logs and OTLP export of a real `cms serve`: JSON lines carrying the request id the client sent, the trace id and
the caller's token subject; the spans reach an OTLP/HTTP collector (a small one in this test). A request's log
context ends with it; lines are written by a thread of their own, so a stalled reader of stderr stalls no request,
and the last of them are written at exit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.http.observability import QUIET_PATHS
from tests.support import database
from tests.support.api import Api
from tests.support.jobs import database_url
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import CMS, ROOT, child_env, eventually, free_port
from tests.support.serve import cms_serve
from tests.support.server import LiveServer

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


class Collector:
    """An OTLP/HTTP trace receiver: keeps every ExportTraceServiceRequest POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/v1/traces":
                    collector.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[tuple[str, str, str]]:
        """(service.name, span name, trace id) of every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append((attributes.get("service.name", ""), span.name, span.trace_id.hex()))
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_json_logs_carry_request_trace_and_user(
    pg_server: PgTarget, settings: Settings, issuer: TestIssuer, collector: Collector, tmp_path: Path
) -> None:
    env = {
        "OIDC_ISSUER": issuer.url,
        "CMS_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: export soon after the request
    }
    token = issuer.mint("logged-user-42", ("editor",))
    async with (
        cms_serve(pg_server, redis_url=settings.redis_url or "", log_dir=tmp_path, env=env, log_level="info") as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
    ):
        response = await client.post(
            "/graphql",
            json={"query": "query LoggedProbe { programs(first: 1) { totalCount } }"},
            headers={
                "authorization": f"Bearer {token}",
                "x-request-id": "req-logs-0001",
                "traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01",
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == "req-logs-0001"

        def request_lines() -> list[dict[str, Any]]:
            return [e for e in json_lines(served.process.log) if e.get("request_id") == "req-logs-0001"]

        def access_line() -> dict[str, Any] | None:
            return next((e for e in request_lines() if e.get("logger") == "cms.access"), None)

        for path in ("/livez", "/health", "/metrics"):  # probes and scrapes: counted, not logged
            assert (await client.get(path)).status_code == 200, path
        line = await eventually(access_line, what="the request's access line", processes=(served.process,))
        assert line["user"] == "logged-user-42"
        assert line["trace_id"] == TRACE_ID and len(line["span_id"]) == 16
        assert line["level"] == "info" and "timestamp" in line
        # Every line logged while serving the request (here: fetching the issuer's keys) carries its context too.
        assert len(request_lines()) > 1
        assert all(e["trace_id"] == TRACE_ID for e in request_lines())
        assert line["route"] == "/graphql" and line["method"] == "POST" and line["status"] == 200
        assert line["duration_ms"] >= 0
        # Nothing else in another format: every line the server wrote is a JSON object.
        text = served.process.log.read_text(errors="replace")
        assert all(line.startswith("{") for line in text.splitlines() if line.strip()), text[-2000:]

        def exported() -> list[tuple[str, str, str]] | None:  # batches arrive as spans end, in any order
            spans = [s for s in collector.spans() if s[2] == TRACE_ID]
            return spans if {"POST /graphql", "query LoggedProbe"} <= {name for _s, name, _t in spans} else None

        spans = await eventually(
            exported, what="the request's spans at the OTLP collector", processes=(served.process,)
        )
        assert {service for service, _name, _trace in spans} == {"cms-api"}
        quiet = {f"GET {path}" for path in QUIET_PATHS}
        assert not quiet & {name for _s, name, _t in collector.spans()}  # the startup wait polled /ready too
    # Stopped (SIGTERM): what was still queued was written before the process ended, its very last line included.
    lines = json_lines(served.process.log)
    assert not [e for e in lines if e.get("logger") == "cms.access" and e.get("route") in QUIET_PATHS]
    assert lines[-1]["event"].startswith("Finished server process"), lines[-3:]


async def test_a_request_leaves_no_log_context_behind(live_server: LiveServer, issuer: TestIssuer, caplog) -> None:
    """In-process transports run requests one after another in the caller's task: the user a signed-in request
    bound is gone before the next, anonymous one (and from the caller)."""
    seen: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(structlog.contextvars.get_contextvars())  # what cms/core/logs.py would render

    access = logging.getLogger("cms.access")
    capture = Capture()
    access.addHandler(capture)
    try:
        with caplog.at_level(logging.INFO, logger="cms.access"):  # the access line is skipped whole below INFO
            transport = httpx.ASGITransport(app=live_server.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as client:
                api = Api(client, issuer)
                await api.data("query SignedIn { __typename }", role="editor", sub="context-user-1")
                await api.data("query Anonymous { __typename }")
    finally:
        access.removeHandler(capture)
    assert len(seen) == 2, seen
    assert seen[0]["user"] == "context-user-1"
    assert "user" not in seen[1], seen[1]
    assert seen[0]["request_id"] != seen[1]["request_id"]
    assert not {"user", "request_id"} & structlog.contextvars.get_contextvars().keys()


async def test_a_stalled_log_reader_does_not_stall_requests(
    pg_server: PgTarget, settings: Settings, tmp_path: Path
) -> None:
    """`cms serve` with stderr on a pipe nobody reads for a while (a stuck log shipper): requests are answered while
    far more than the pipe holds is logged; once read again, every line comes out, the exit's last one included."""
    target = await database.create_database(pg_server, prefix="cms_serve")
    port = free_port()
    env = child_env(
        {
            "DATABASE_URL": database_url(target),
            "REDIS_URL": settings.redis_url or "",
            "CMS_DATA_DIR": str(tmp_path / "data"),
            "CMS_QUEUE_NAME": f"cms-test-serve:{uuid.uuid4().hex[:12]}",
            "OIDC_ISSUER": settings.oidc_issuer or "",
            "CMS_LOG_FORMAT": "json",
        }
    )
    argv = [str(CMS), "serve", "--no-worker", "--port", str(port), "--log-level", "info"]
    child = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    assert child.stderr is not None
    requests = 1000  # ~250 bytes a line: about four times what a Linux pipe holds (64 KiB)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def up() -> bool:
                assert child.poll() is None, "cms serve exited"
                try:
                    return (await client.get("/livez")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, what="cms serve answering")
            for n in range(requests):  # each is answered, though its access line cannot be written yet
                assert (await client.get(f"/no/such/{n}")).status_code == 404
        reading = asyncio.create_task(asyncio.to_thread(child.stderr.read))
        os.killpg(child.pid, signal.SIGTERM)
        output = (await reading).decode(errors="replace")
        child.wait(30)  # its exit status after SIGTERM is uvicorn's business
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        child.stderr.close()
        await database.drop_database(target)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("logger") == "cms.access" and e.get("route") == "other"]
    assert len(access) == requests
    assert lines[-1]["event"].startswith("Finished server process"), lines[-3:]
