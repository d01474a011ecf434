"""OpenTelemetry traces of real requests, read from an in-memory exporter: HTTP server span, GraphQL operation span
and the SQL spans of the asyncpg instrumentation, in one trace, continuing the caller's W3C traceparent; and what
is left out of traces: probes, scrapes, and the background work a request happens to start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cms.app import create_app
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.core.tracing import configure_tracing, shutdown_tracing, tracing_enabled
from cms.services import Services
from tests.integration.test_metrics import scrape, value
from tests.support.api import Api
from tests.support.processes import eventually
from tests.support.server import LiveServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process for one test, off again afterwards (the live server is shared)."""
    shutdown_tracing()
    exporter = InMemorySpanExporter()
    configure_tracing(settings, "cms-api", exporter=exporter)
    assert tracing_enabled()
    try:
        yield exporter
    finally:
        shutdown_tracing()


def _hex(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def _parent(span: ReadableSpan) -> str | None:
    return format(span.parent.span_id, "016x") if span.parent is not None else None


async def test_a_mutation_is_one_trace_from_http_to_sql(api: Api, spans: InMemorySpanExporter) -> None:
    token = api.token("editor")
    response = await api.client.post(
        "/graphql",
        json={
            "query": "mutation TracedCreate($input: CreateProgramInput!) { createProgram(input: $input) { __typename } }",
            "variables": {"input": {"title": "Traced"}},
        },
        headers={"authorization": f"Bearer {token}", "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert response.status_code == 200 and not response.json().get("errors"), response.text

    def server_span() -> ReadableSpan | None:  # ended after the response went out
        return next((s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER), None)

    http = await eventually(server_span, what="the HTTP server span")
    finished = [s for s in spans.get_finished_spans() if _hex(s)[0] == TRACE_ID]
    assert http.name == "POST /graphql"
    assert _hex(http)[0] == TRACE_ID and _parent(http) == PARENT_ID  # the caller's trace continues
    assert http.attributes is not None and http.attributes["http.response.status_code"] == 200
    assert http.resource.attributes["service.name"] == "cms-api"

    graphql = next(s for s in finished if s.name == "mutation TracedCreate")
    assert _parent(graphql) == _hex(http)[1]
    assert graphql.attributes is not None
    assert graphql.attributes["graphql.operation.name"] == "TracedCreate"
    assert graphql.attributes["graphql.operation.type"] == "mutation"

    sql = [s for s in finished if s.attributes is not None and s.attributes.get("db.system") == "postgresql"]
    assert sql, [s.name for s in finished]
    by_id = {_hex(s)[1]: s for s in finished}

    def under_graphql(span: ReadableSpan) -> bool:
        while (parent := _parent(span)) is not None and parent in by_id:
            if parent == _hex(graphql)[1]:
                return True
            span = by_id[parent]
        return False

    assert any(under_graphql(s) for s in sql), [(s.name, _parent(s)) for s in sql]


async def test_without_a_traceparent_a_request_starts_its_own_trace(api: Api, spans: InMemorySpanExporter) -> None:
    assert (await api.client.get("/graphql", params={"query": "{ __typename }"})).status_code == 200
    http = await eventually(
        lambda: next((s for s in spans.get_finished_spans() if s.name == "GET /graphql"), None), what="the span"
    )
    assert http.parent is None and _hex(http)[0] != TRACE_ID


async def test_probes_and_scrapes_are_counted_but_not_traced(api: Api, spans: InMemorySpanExporter) -> None:
    """Kubelets and Prometheus call these every few seconds: no trace of their own, nor of their checks' SQL, Redis
    and S3 calls (/readyz), but the HTTP metrics count them."""
    before = await scrape(api.client)
    for path in ("/livez", "/readyz", "/health", "/ready", "/metrics"):
        assert (await api.client.get(path)).status_code == 200, path
    after = await scrape(api.client)
    assert [(s.name, s.attributes) for s in spans.get_finished_spans()] == []
    for route in ("/livez", "/readyz", "/health", "/ready", "/metrics"):
        grew = value(after, "cms_http_requests_total", route=route) - value(
            before, "cms_http_requests_total", route=route
        )
        assert grew >= 1, route


async def test_a_request_does_not_lend_its_trace_to_shared_background_work(
    settings: Settings, db_target: PgTarget, live_server: LiveServer, spans: InMemorySpanExporter
) -> None:
    """A cheap read is charged to the rate limit moments later, with other callers' reads, by a task the request
    starts: that task's Redis calls are not part of the request's trace (it has long ended), nor traced at all."""
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "rate_limit_prefix": f"cms-test-ratelimit:{uuid.uuid4().hex[:12]}"}
    )
    app = create_app(Services(limited, database=db_target))  # live_server opened the database: no lifespan here
    limiter = app.state.rate_limiter
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as client:
            response = await client.post(
                "/graphql",
                json={"query": "query ChargedLater { __typename }"},
                headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
            )
            assert response.status_code == 200, response.text
        flush = limiter._flush
        assert flush is not None  # the read waits to be charged with others
        await flush
        assert limiter._deferred == {}
    finally:
        await limiter.aclose()
    finished = spans.get_finished_spans()
    assert "POST /graphql" in {s.name for s in finished}
    redis = [s for s in finished if s.attributes is not None and s.attributes.get("db.system") == "redis"]
    assert redis == [], [(s.name, _hex(s)[0] == TRACE_ID) for s in redis]
