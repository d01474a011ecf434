"""The schema extension that measures each GraphQL operation: a span "query OperationName" (when tracing is on),
cms_graphql_operations_total / _duration_seconds / cms_graphql_errors_total. Listed first among the schema's
extensions, so it wraps the others: refusals by the cost limit count, and error codes are read after masking."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry import trace
from strawberry.extensions import SchemaExtension

from cms.core import metrics, tracing
from graphql import GraphQLError

_UNKNOWN = "unknown"  # the type of an operation that could not be parsed

# Label children by their labels: labels() takes a lock and builds a tuple per call. Bounded, as the labels are
# (operation_label caps the names; types, outcomes and error codes are small fixed sets).
_operation_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_error_children: dict[tuple[str, str], Any] = {}


class OperationMetrics(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # an async generator hook, as Strawberry allows
        started = time.perf_counter()
        span: trace.Span | None = None
        try:
            if tracing.tracing_enabled():
                # Child of the HTTP server span; current while the resolvers run, so SQL/Redis/S3 spans and the
                # outbox's trace context hang under it.
                span = tracing.tracer().start_span("graphql")
                with trace.use_span(span, end_on_exit=False):
                    yield
            else:
                yield
        finally:
            self._record(time.perf_counter() - started, span)

    def _record(self, seconds: float, span: trace.Span | None) -> None:
        context = self.execution_context
        name, kind = _name_and_type(self)
        result = context.result
        errors: list[GraphQLError] = list(getattr(result, "errors", None) or context.pre_execution_errors or [])
        record(name, kind, result is not None, getattr(result, "data", None), errors, seconds, span)


def record(
    name: str | None,
    kind: str,
    has_result: bool,
    data: object,
    errors: list[GraphQLError],
    seconds: float,
    span: trace.Span | None,
) -> None:
    """Count and time one operation (and end its span); also used by the compiled executor's path."""
    operation = metrics.operation_label(name)
    if not errors and has_result:
        outcome = "success"
    elif not has_result or (data is None and all(e.path is None for e in errors)):
        outcome = "rejected"  # parse, validation, cost: nothing ran
    else:
        outcome = "error"
    counted, timed = _operation_metrics(operation, kind, outcome)
    counted.inc()
    timed.observe(seconds)
    for error in errors:
        _error_metric(operation, _code(error)).inc()
    if span is not None:
        span.update_name(f"{kind} {name}" if name else kind)
        span.set_attributes({"graphql.operation.type": kind, "graphql.operation.name": name or ""})
        if outcome != "success":
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{len(errors)} GraphQL error(s)"))
        span.end()


def _operation_metrics(operation: str, kind: str, outcome: str) -> tuple[Any, Any]:
    key = (operation, kind, outcome)
    children = _operation_children.get(key)
    if children is None:
        children = (
            metrics.GRAPHQL_OPERATIONS.labels(operation=operation, type=kind, outcome=outcome),
            metrics.GRAPHQL_DURATION.labels(operation=operation, type=kind),
        )
        _operation_children[key] = children
    return children


def _error_metric(operation: str, code: str) -> Any:
    child = _error_children.get((operation, code))
    if child is None:
        child = _error_children[(operation, code)] = metrics.GRAPHQL_ERRORS.labels(operation=operation, code=code)
    return child


def _name_and_type(extension: SchemaExtension) -> tuple[str | None, str]:
    """The operation's name and type; a document that did not parse (or names no such operation) has no type."""
    context = extension.execution_context
    try:
        name = context.operation_name
    except Exception:  # noqa: BLE001 - the request's errors say what is wrong with it
        name = None
    try:
        kind = context.operation_type.value
    except Exception:  # noqa: BLE001 - same
        kind = _UNKNOWN
    return name, kind


def _code(error: GraphQLError) -> str:
    """The error's extensions.code (set by cms.api.errors_masking and the cost limit); parse and validation errors
    have none."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str) and code.isupper() and len(code) <= 40:
        return code
    return "GRAPHQL_VALIDATION_FAILED" if error.path is None else "UNKNOWN"
