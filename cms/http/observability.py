"""Per request: Prometheus metrics by route template, an OpenTelemetry server span (when tracing is on), the log
context (request_id; cms/http/auth.py adds the user) and one structured access log line; probes and scrapes
(QUIET_PATHS) get the metrics only. Pure ASGI and cheap: the route's labels are resolved once per (endpoint, method,
status) and the span work is skipped while tracing is off.

Also the GET /metrics endpoint (Prometheus text exposition) for when CMS_METRICS_PORT is unset."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.core import metrics, tracing

access_log = logging.getLogger("cms.access")
OTHER = "other"  # the route label of paths no route matches (404s): raw paths would explode the label set
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CONVERTOR = re.compile(r"{([^}:]+):[^}]+}")  # "{path:path}" -> "{path}"


def _template(path: str) -> str:
    return _CONVERTOR.sub(r"{\1}", path) or "/"


class _Routes:
    """Finds a request's route template: by the endpoint Starlette's router left in the scope when that endpoint
    belongs to one template, else by matching the routes again (404s, 405s, shared endpoints)."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = [r for r in routes if not isinstance(r, WebSocketRoute)]
        templates: dict[int, set[str]] = {}
        for route in self.routes:
            if isinstance(route, Route):
                templates.setdefault(id(route.endpoint), set()).add(_template(route.path))
        self.by_endpoint = {key: next(iter(found)) for key, found in templates.items() if len(found) == 1}

    def template(self, scope: Scope) -> str:
        endpoint = scope.get("endpoint")
        if endpoint is not None and (found := self.by_endpoint.get(id(endpoint))) is not None:
            return found
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.NONE:
                continue
            path = _template(route.path + "/{path}" if isinstance(route, Mount) else getattr(route, "path", ""))
            if match is Match.FULL:
                return path
            partial = partial or path  # the path matched, the method did not (405)
        return partial or OTHER


class _HeaderGetter(Getter[list[tuple[bytes, bytes]]]):
    """W3C trace context from the ASGI scope's raw headers."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.encode()
        found = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return found or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_getter = _HeaderGetter()


# Probes and scrapes: every few seconds from each kubelet and Prometheus, answering the same thing. Counted in the
# metrics like any request, but no span (nor SQL/Redis spans of their checks: instrumentation is suppressed while
# they run) and no access line, which would bury the requests that matter.
QUIET_PATHS = frozenset({"/livez", "/readyz", "/health", "/ready", "/metrics"})


class ObservabilityMiddleware:
    """After RequestIdMiddleware (it reads the id from the scope), before everything else, so its duration and
    status cover the refusals of the middleware inside it (401, 429, 503).

    Owns the request's log context: binds request_id (and "no user" until cms/http/auth.py binds the caller) and puts
    back what was there before once the request is done, so nothing bound while serving it (the user included)
    outlives it: in-process ASGI transports run requests one after another in the caller's task, and tasks started
    while it is bound would inherit it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        access_log: bool = True,
        quiet_paths: frozenset[str] = QUIET_PATHS,
    ) -> None:
        self.app = app
        self.routes = _Routes(routes)
        self.access_log = access_log
        self.quiet_paths = quiet_paths
        # (template, method, status) -> (counter child, histogram child): labels() costs a lock and a dict per call
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        # Ellipsis is structlog's "not bound" (what unbind_contextvars sets): no user until authentication binds one.
        # The tokens put back the values from before, whatever was bound in between.
        tokens = structlog.contextvars.bind_contextvars(request_id=scope.get("state", {}).get("request_id"), user=...)
        try:
            if scope["type"] == "websocket":  # log context only: no metrics or spans for a subscription
                await self.app(scope, receive, send)
            elif scope["path"] in self.quiet_paths:
                if tracing.tracing_enabled():
                    with suppress_instrumentation():
                        await self._serve(scope, receive, send, None, log=False)
                else:
                    await self._serve(scope, receive, send, None, log=False)
            elif tracing.tracing_enabled():
                parent = propagate.extract(scope["headers"], getter=_getter)
                # Named "METHOD route" when it ends: the route is known once the router ran.
                span = tracing.tracer().start_span("HTTP", context=parent, kind=SpanKind.SERVER)
                token = otel_context.attach(trace.set_span_in_context(span, parent))
                try:
                    await self._serve(scope, receive, send, span, log=self.access_log)
                finally:
                    otel_context.detach(token)
            else:
                await self._serve(scope, receive, send, None, log=self.access_log)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, span: trace.Span | None, *, log: bool) -> None:
        status = 500  # the app raised before answering
        started = time.perf_counter()
        method = scope["method"] if scope["method"] in _METHODS else OTHER

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            seconds = time.perf_counter() - started
            route = self.routes.template(scope)
            self._observe(route, method, status, seconds)
            if span is not None:
                _end_span(span, method, route, status, scope)
            if log and access_log.isEnabledFor(logging.INFO):  # ~30 µs a line: skip it whole when off
                # Still under the span (trace_id, span_id) and the request's log context (request_id, user).
                access_log.info(
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={"route": route, "method": method, "status": status, "duration_ms": round(seconds * 1000, 2)},
                )

    def _observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                metrics.HTTP_REQUESTS.labels(route=route, method=method, status=str(status)),
                metrics.HTTP_DURATION.labels(route=route, method=method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def _end_span(span: trace.Span, method: str, route: str, status: int, scope: Scope) -> None:
    span.update_name(f"{method} {route}")
    span.set_attributes(
        {
            "http.request.method": method,
            "http.route": route,
            "url.path": scope["path"],
            "http.response.status_code": status,
        }
    )
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics: every metric of this process in Prometheus' text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def metric_routes() -> Iterable[BaseRoute]:
    return [Route("/metrics", metrics_endpoint, methods=["GET"])]
