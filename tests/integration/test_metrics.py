"""Prometheus metrics over HTTP: GET /metrics on the API after real requests, and CMS_METRICS_PORT moving them to a
port of their own (a real `cms serve`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cms.core.db import PgTarget
from cms.core.metrics import (
    KNOWN_OPERATIONS,
    MAX_OTHER_OPERATION_NAMES,
    register_pool_collector,
    reset_operation_names,
)
from cms.core.settings import Settings

# The rate-limited app of the rate limit tests (same process, so the same registry as the shared app's /metrics).
from tests.integration.test_rate_limits import caller, limited  # noqa: F401  # fixtures
from tests.support import media
from tests.support.api import OPERATIONS, Api
from tests.support.processes import free_port
from tests.support.serve import cms_serve
from tests.support.uploads import create_upload, make_episode, put_direct, upload_direct


@pytest.fixture(autouse=True)
def operation_names() -> Iterator[None]:
    """Every test starts with the first-come operation names free, and leaves them free for the tests after it."""
    reset_operation_names()
    yield
    reset_operation_names()


async def scrape(client: httpx.AsyncClient, url: str = "/metrics") -> list[Sample]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


async def test_http_metrics_are_labelled_by_route_template(api: Api) -> None:
    before = await scrape(api.client)
    await api.data("query MetricsProbe { programs(first: 1) { totalCount } }", role="editor", sub="user-7f3a")
    missing = uuid.uuid4()
    put = await api.client.put(f"/uploads/{missing}", content=b"x")
    assert put.status_code in (401, 403, 404), put.text
    assert (await api.client.get(f"/no/such/{missing}")).status_code == 404
    assert (await api.client.delete("/graphql")).status_code == 405
    after = await scrape(api.client)

    def grew(**labels: str) -> float:
        name = "cms_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(route="/graphql", method="POST", status="200") >= 1
    assert grew(route="/uploads/{upload_id}", method="PUT") >= 1
    assert grew(route="other", method="GET", status="404") >= 1
    assert grew(route="/graphql", method="DELETE", status="405") >= 1
    assert value(after, "cms_http_request_duration_seconds_count", route="/graphql", method="POST") >= 1
    assert any(s.name == "cms_http_requests_in_flight" for s in after)
    # No raw paths, ids or users in any label, and no per-user label at all.
    for sample in after:
        assert not {"user", "sub", "asset", "upload_id"} & sample.labels.keys(), sample
        for label in sample.labels.values():
            assert str(missing) not in label and "user-7f3a" not in label, sample
    # The database pool, read when scraped: the API's connection is open after the query above.
    assert value(after, "cms_db_pool_connections", db="default", state="max") == Settings().db_pool_max
    assert value(after, "cms_db_pool_connections", db="default", state="idle") >= 0


async def test_graphql_operations_and_errors_are_counted(api: Api) -> None:
    before = await scrape(api.client)
    await api.data("query CountedProbe { programs(first: 1) { totalCount } }", role="editor")
    broken = await api.post("query BrokenProbe { noSuchField }", role="editor")
    assert broken.status_code in (200, 400) and broken.json()["errors"]
    mutation = await api.gql(
        "mutation MetricsCreate($input: CreateProgramInput!) { createProgram(input: $input) { __typename } }",
        {"input": {"title": "Counted"}},
        role="editor",
    )
    assert not mutation.get("errors"), mutation
    after = await scrape(api.client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ops = "cms_graphql_operations_total"
    assert grew(ops, operation="CountedProbe", type="query", outcome="success") == 1
    assert grew(ops, operation="MetricsCreate", type="mutation", outcome="success") == 1
    assert grew(ops, operation="BrokenProbe", type="query", outcome="rejected") == 1
    assert grew("cms_graphql_errors_total", operation="BrokenProbe", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew("cms_graphql_operation_duration_seconds_count", operation="CountedProbe", type="query") == 1


async def test_operation_names_from_clients_are_capped(api: Api) -> None:
    """Names come from clients: the project's own operations are always labelled by name; past
    MAX_OTHER_OPERATION_NAMES other distinct names, further ones count as "other"."""
    # The known names are those of graphql/operations/ (each file is named after its operation).
    assert {path.stem for path in OPERATIONS.glob("*.graphql")} == KNOWN_OPERATIONS
    before = await scrape(api.client)
    flood = [f"Flood{uuid.uuid4().hex[:8]}" for _ in range(MAX_OTHER_OPERATION_NAMES + 5)]
    for name in flood:  # an anonymous client making up names
        await api.data(f"query {name} {{ __typename }}")
    await api.data("query Programs { __typename }")  # a known name, after the flood (any document may use it)
    await api.data("query LateComer { __typename }")
    after = await scrape(api.client)

    def grew(**labels: str) -> float:
        name = "cms_graphql_operations_total"
        return value(after, name, **labels) - value(before, name, **labels)

    labelled = [name for name in flood if grew(operation=name) == 1]
    assert labelled == flood[:MAX_OTHER_OPERATION_NAMES]  # first come, first served
    assert grew(operation="other") == 5 + 1  # the rest of the flood, and the late one
    assert grew(operation="LateComer") == 0
    assert grew(operation="Programs", type="query", outcome="success") == 1


async def test_upload_bytes_and_aborts(api: Api) -> None:
    before = await scrape(api.client)
    episode = await make_episode(api)
    image = media.png_image()
    await upload_direct(api, episode, image, filename="still.png", content_type="image/png")
    # Bytes that are not what the upload declared: refused, counted as an abort.
    upload = await create_upload(api, filename="x.png", size=len(image), episodeId=episode, contentType="image/png")
    refused = await put_direct(api, upload["url"], media.garbage(len(image)))
    assert refused.status_code == 415, refused.text
    after = await scrape(api.client)
    assert value(after, "cms_upload_bytes_total", method="direct") - value(
        before, "cms_upload_bytes_total", method="direct"
    ) == len(image)
    assert (
        value(after, "cms_upload_aborts_total", reason="rejected")
        - value(before, "cms_upload_aborts_total", reason="rejected")
        == 1
    )


async def test_metrics_port_serves_metrics_apart_from_the_api(
    pg_server: PgTarget, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = {"OIDC_ISSUER": settings.oidc_issuer or "", "CMS_METRICS_PORT": str(port)}
    async with (
        cms_serve(pg_server, redis_url=settings.redis_url or "", log_dir=tmp_path, env=env) as served,
        httpx.AsyncClient(timeout=30) as client,
    ):
        assert (await client.get(f"{served.url}/health")).status_code == 200
        # A query opens the database pool (lazily, on first use), which the pool gauge then shows.
        read = await client.post(f"{served.url}/graphql", json={"query": "{ programs(first: 1) { totalCount } }"})
        assert read.status_code == 200, read.text
        assert (await client.get(f"{served.url}/metrics")).status_code == 404  # not on the public listener
        samples = await scrape(client, f"http://127.0.0.1:{port}/metrics")
        assert value(samples, "cms_http_requests_total", route="/health", method="GET", status="200") >= 1
        assert value(samples, "cms_http_requests_total", route="other", status="404") >= 1
        assert value(samples, "cms_db_pool_connections", db="default", state="max") > 0


async def test_rate_limit_refusals_are_counted_by_budget(api: Api, caller) -> None:  # noqa: F811
    before = await scrape(api.client)
    passed, refused = await caller().until_refused("query { __typename }")
    assert refused.status_code == 429 and passed > 0
    after = await scrape(api.client)
    kind = "cms_rate_limit_refusals_total"
    assert value(after, kind, kind="reads") - value(before, kind, kind="reads") >= 1


def test_every_metric_is_documented_and_on_the_dashboard() -> None:
    """docs/operations.md and the Grafana dashboard name every cms_* metric the API and the workers define."""
    import json

    from prometheus_client import REGISTRY

    import jobs.metrics  # noqa: F401  # registers the job-side metrics

    register_pool_collector()  # as create_app does
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "operations.md").read_text()
    dashboard = json.loads((root / "deploy" / "grafana" / "cms-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", []))
    assert {v["type"] for v in dashboard["templating"]["list"]} >= {"datasource"}
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("cms_")}
    assert "cms_http_requests" in names and "cms_db_pool_connections" in names
    for name in names:
        assert name in docs, f"{name} is not in docs/operations.md"
        assert name in exprs, f"{name} has no panel in deploy/grafana/cms-dashboard.json"
