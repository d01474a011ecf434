"""Prometheus metrics of the API process (prometheus-client, the default registry). Every name and label is listed in
docs/operations.md and drawn in deploy/grafana/cms-dashboard.json; the job-side metrics live in jobs/metrics.py.

Labels never carry per-user or per-asset values: routes are templates, GraphQL operation names are the project's
own operations plus a few first-come others (`operation_label`), everything else is a small fixed set."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "HTTP_REQUESTS",
    "HTTP_DURATION",
    "HTTP_IN_FLIGHT",
    "GRAPHQL_OPERATIONS",
    "GRAPHQL_DURATION",
    "GRAPHQL_ERRORS",
    "UPLOAD_BYTES",
    "UPLOAD_PARTS",
    "UPLOAD_ABORTS",
    "RATE_LIMIT_REFUSALS",
    "KNOWN_OPERATIONS",
    "operation_label",
    "reset_operation_names",
    "register_pool_collector",
    "start_metrics_server",
]

log = logging.getLogger("cms.metrics")

# Latency buckets from cached reads (sub-millisecond) to slow uploads and mutations.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "cms_http_requests", "HTTP requests answered, by route template, method and status", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "cms_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template and method",
    ["route", "method"],
    buckets=_SECONDS,
)
HTTP_IN_FLIGHT = Gauge("cms_http_requests_in_flight", "HTTP requests being handled now")

GRAPHQL_OPERATIONS = Counter(
    "cms_graphql_operations",
    "GraphQL operations executed (public-cache hits excluded), by operation name, type and outcome",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "cms_graphql_operation_duration_seconds",
    "GraphQL operation time, parse to result, by operation name and type",
    ["operation", "type"],
    buckets=_SECONDS,
)
GRAPHQL_ERRORS = Counter(
    "cms_graphql_errors", "Errors in GraphQL responses, by operation name and error code", ["operation", "code"]
)

UPLOAD_BYTES = Counter("cms_upload_bytes", "Bytes of completed uploads, by upload method", ["method"])
UPLOAD_PARTS = Counter("cms_upload_parts", "Parts of completed multipart uploads")
UPLOAD_ABORTS = Counter(
    "cms_upload_aborts",
    "Uploads that ended without their bytes: rejected (too large, wrong type or size), failed (the client went away"
    " or storage failed mid-body), expired (never completed)",
    ["reason"],
)

RATE_LIMIT_REFUSALS = Counter(
    "cms_rate_limit_refusals",
    "Requests refused with 429, by budget (reads, mutations, uploads, auth-failures)",
    ["kind"],
)

# --- GraphQL operation names come from clients: keep their number bounded ------------------------------------------

# The project's own operations (graphql/operations/*.graphql: the admin app's and the documented clients') are always
# labelled by name. Any other name takes one of MAX_OTHER_OPERATION_NAMES first-come places, "other" once they are
# taken: clients may send any name, so a flood of made-up names can fill the places for the process's life, but it
# never takes the label away from the known operations.
MAX_OTHER_OPERATION_NAMES = 50
OPERATIONS_DIR = "graphql/operations"
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")  # a GraphQL name, at most 100 characters
_names_lock = threading.Lock()


def _operations_dirs() -> list[Path]:
    """The source tree's graphql/operations, and the working directory's (the image copies graphql/ into its
    WORKDIR while the code runs from site-packages)."""
    return [Path(__file__).resolve().parents[2] / OPERATIONS_DIR, Path.cwd() / OPERATIONS_DIR]


def load_known_operations(directories: Iterable[Path] | None = None) -> frozenset[str]:
    """The operation names defined by the .graphql documents of the first directory that has any."""
    from graphql import GraphQLError, OperationDefinitionNode, parse

    for directory in _operations_dirs() if directories is None else directories:
        files = sorted(directory.glob("*.graphql")) if directory.is_dir() else []
        if not files:
            continue
        names: set[str] = set()
        for file in files:
            try:
                document = parse(file.read_text())
            except (OSError, GraphQLError) as exc:  # a broken document costs its names a label, nothing more
                log.warning("operation names of %s not read: %s", file, exc)
                continue
            names.update(
                d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name
            )
        return frozenset(names)
    log.info("no %s found: every GraphQL operation name shares the first-come labels", OPERATIONS_DIR)
    return frozenset()


KNOWN_OPERATIONS = load_known_operations()
_other_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The `operation` label for an operation name: "anonymous" when there is none; the name itself for a known
    operation (KNOWN_OPERATIONS) and for the first MAX_OTHER_OPERATION_NAMES other names this process sees; "other"
    past that, and for anything that is not a GraphQL name."""
    if not name:
        return "anonymous"
    if name in KNOWN_OPERATIONS or name in _other_names:
        return name
    if not _NAME.match(name):
        return "other"
    with _names_lock:
        if len(_other_names) >= MAX_OTHER_OPERATION_NAMES:
            return "other"
        _other_names.add(name)
    return name


def reset_operation_names() -> None:
    """Free the first-come places (tests: each starts with all of them free)."""
    with _names_lock:
        _other_names.clear()


# --- database pools, read at scrape time --------------------------------------------------------------------------


class DatabasePoolCollector(Collector):
    """cms_db_pool_connections{db, state}: each Tortoise connection's asyncpg pool ("default"; "replica" once the
    read replica's pool is open), read when scraped. Only looks: never opens a connection or a pool (each opens on
    its first query)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "cms_db_pool_connections",
            "Connections of each database pool by state (in_use, idle, max), per Tortoise connection name",
            labels=["db", "state"],
        )
        for name, pool in _pools():
            size, idle = pool.get_size(), pool.get_idle_size()
            family.add_metric([name, "in_use"], size - idle)
            family.add_metric([name, "idle"], idle)
            family.add_metric([name, "max"], pool.get_max_size())
        yield family


def _pools() -> Iterable[tuple[str, Any]]:
    try:
        from tortoise.context import get_current_context

        context = get_current_context()
        if context is None:
            return []
        # The storage itself, not connections.get(): that would create a client for a name not opened yet.
        clients = dict(context.connections._get_storage())
    except Exception:  # noqa: BLE001 - a scrape reports what it can; Tortoise internals may move between versions
        log.debug("database pools not readable", exc_info=True)
        return []
    found = []
    for name, client in sorted(clients.items()):
        # The client's own pool, and the read replica's that cms.core.replica.RoutingClient adds (DATABASE_READ_URL).
        for label, attribute in ((name, "_pool"), ("replica", "_replica_pool")):
            pool = getattr(client, attribute, None)
            if pool is not None and hasattr(pool, "get_idle_size"):
                found.append((label, pool))
    return found


_collector_lock = threading.Lock()
_collector_registered = False


def register_pool_collector() -> None:
    """Add the pool collector to the default registry, once per process."""
    global _collector_registered
    with _collector_lock:
        if not _collector_registered:
            REGISTRY.register(DatabasePoolCollector())
            _collector_registered = True


_servers: dict[tuple[str, int], int] = {}


def start_metrics_server(host: str, port: int) -> int:
    """Serve the default registry at http://host:port/metrics from a thread of this process (CMS_METRICS_PORT), so
    metrics stay off the public listener and are answered even while the event loop is busy. Port 0 picks a free
    port; the port is returned. A second call for the same address returns the running server's port."""
    register_pool_collector()
    if (host, port) in _servers:
        return _servers[(host, port)]
    server, _thread = start_http_server(port, addr=host)
    bound: int = server.server_address[1]
    _servers[(host, port)] = bound
    log.info("metrics served on http://%s:%d/metrics", host, bound)
    return bound
