"""The JSON log formatter's fast path (cms/core/logs.py) writes what structlog's ProcessorFormatter writes: the same
object for every kind of standard-library record, in and out of a span, with and without log context; records it
does not take (exceptions, stacks, values json.dumps and orjson write differently, structlog's own) still render."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from cms.core import logs

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")
ACCESS = {"route": "/graphql", "method": "POST", "status": 200, "duration_ms": 0.52}  # as cms/http/observability.py

FORMATTER = logs._formatter(json=True)
tracer = TracerProvider().get_tracer(__name__)  # a real SDK span, without setting the global provider


class Both(logging.Handler):
    """Formats each record both ways where it is logged (context and span are read there): fast, structlog's."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        reference = structlog.stdlib.ProcessorFormatter.format(FORMATTER, record)
        self.lines.append((FORMATTER.format(record), reference))


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, Both]]:
    logger = logging.getLogger("cms.test.log_format")
    both = Both()
    logger.addHandler(both)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, both
    finally:
        logger.removeHandler(both)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def access_line(log: logging.Logger) -> None:
    log.info("%s %s %d", "POST", "/graphql", 200, extra=ACCESS)


def in_request(log: logging.Logger) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-0001", user="user-1"):
        access_line(log)


def extra_over_context(log: logging.Logger) -> None:
    # An extra replaces a context value of the same name; a context "event" never replaces the message.
    with structlog.contextvars.bound_contextvars(user="from-context", event="not the message"):
        log.warning("%d of %s done in %.2f s", 3, "items", 1.5, extra={"user": "from-extra", "none": None})


def exception(log: logging.Logger) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-0002"):
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            log.exception("failed %s", "badly")


FAST: dict[str, Callable[[logging.Logger], None]] = {
    "plain": lambda log: log.info("plain message"),
    "debug with args": lambda log: log.debug("%s: %r", "value", {"a": 1}),
    "access line": access_line,
    "access line in a request": in_request,
    "extra over context": extra_over_context,
    "not ascii": lambda log: log.error("café %s", "☕ \u2028", extra={"title": "Zoë"}),
}
FULL: dict[str, Callable[[logging.Logger], None]] = {
    "exception": exception,
    "stack": lambda log: log.info("where", stack_info=True),
    "uuid extra": lambda log: log.info("x", extra={"id": uuid.UUID(int=7)}),  # json.dumps: its repr
    "nested extra": lambda log: log.info("x", extra={"ids": [1, 2], "by": {"a": 1}}),
    "int past 64 bits": lambda log: log.info("x", extra={"big": 2**70}),  # orjson refuses it
    "bad string": lambda log: log.info("x", extra={"s": "\ud800"}),  # a lone surrogate: orjson refuses it
}


def same_but_timestamp(fast: str, reference: str) -> dict[str, Any]:
    got: dict[str, Any] = json.loads(fast)
    expected: dict[str, Any] = json.loads(reference)
    assert TIMESTAMP.fullmatch(got["timestamp"]), got["timestamp"]
    assert TIMESTAMP.fullmatch(expected["timestamp"]), expected["timestamp"]
    apart = datetime.fromisoformat(got.pop("timestamp")) - datetime.fromisoformat(expected.pop("timestamp"))
    assert abs(apart.total_seconds()) < 1
    assert got == expected
    return got


@pytest.mark.parametrize("in_span", [False, True], ids=["no span", "in a span"])
@pytest.mark.parametrize("case", [*FAST, *FULL])
def test_fast_path_writes_what_structlog_writes(log: tuple[logging.Logger, Both], case: str, in_span: bool) -> None:
    logger, both = log
    emit = FAST.get(case) or FULL[case]
    if in_span:
        with tracer.start_as_current_span("request") as span:
            emit(logger)
        context = span.get_span_context()
    else:
        emit(logger)
    [(fast, reference)] = both.lines
    line = same_but_timestamp(fast, reference)
    # orjson's compact separators: the fast path was taken, not the structlog formatter twice
    assert fast.startswith('{"event":"') == (case in FAST), fast
    assert line["logger"] == "cms.test.log_format" and "level" in line
    if in_span:
        assert (line["trace_id"], line["span_id"]) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    else:
        assert "trace_id" not in line and "span_id" not in line
    if case == "access line in a request":
        assert line["event"] == "POST /graphql 200" and line["request_id"] == "req-0001" and line["user"] == "user-1"
        assert {key: line[key] for key in ACCESS} == ACCESS
    if case == "extra over context":
        assert line["event"] == "3 of items done in 1.50 s" and line["user"] == "from-extra"
    if case == "exception":
        assert line["exception"][0]["exc_type"] == "ZeroDivisionError" and line["event"] == "failed badly"


def test_structlog_bound_logger_lines_still_render(log: tuple[logging.Logger, Both]) -> None:
    logger, both = log
    bound = structlog.wrap_logger(  # set up as configure_logging sets up structlog
        logger,
        processors=[
            structlog.stdlib.filter_by_level,
            *logs._shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    with structlog.contextvars.bound_contextvars(request_id="req-0003"):
        bound.bind(job_id=42).warning("moved %d files", 3, to="archive")
    [(fast, reference)] = both.lines
    line = same_but_timestamp(fast, reference)
    assert line == {
        "event": "moved 3 files",
        "job_id": 42,
        "to": "archive",
        "request_id": "req-0003",
        "level": "warning",
        "logger": "cms.test.log_format",
    }


def test_console_format_is_structlogs_own() -> None:
    assert type(logs._formatter(json=False)) is structlog.stdlib.ProcessorFormatter
