"""Logging for every process: structlog over the standard library, so `logging.getLogger(...)` calls and uvicorn's
own loggers render through the same formatter. JSON lines in production (or CMS_LOG_FORMAT=json), a readable console
format in development. Every line carries the context bound with `structlog.contextvars` (request_id, user, job_id,
...) and, when an OpenTelemetry span is current, its trace_id and span_id."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

from cms.core.settings import Settings

__all__ = ["configure_logging", "add_trace_context"]

# Loggers that must not keep handlers of their own: their records go to the root handler, formatted like the rest.
_HANDLED_ELSEWHERE = ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker", "arq.jobs")


def add_trace_context(_logger: object, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add trace_id/span_id (W3C hex) of the current span, when there is a valid one, to join logs to traces."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _shared_processors() -> list[structlog.types.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
    ]


def configure_logging(settings: Settings) -> None:
    """Route all logging through one structlog formatter on stderr, at CMS_LOG_LEVEL. Safe to call again (tests,
    the worker after the API in one process): it replaces the handler it installed before."""
    json = settings.log_json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # JSON: tracebacks as a string field, not a multi-line dump that breaks the one-line-per-event rule
            *([structlog.processors.dict_tracebacks] if json else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("cms")
    root = logging.getLogger()
    # Ours from an earlier call, and logging.basicConfig's plain stream handler; test harness handlers stay.
    for old in [h for h in root.handlers if h.get_name() == "cms" or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in _HANDLED_ELSEWHERE:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # One structured access line per request comes from cms/http/observability.py; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
