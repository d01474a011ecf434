"""Logging for every process: structlog over the standard library, so `logging.getLogger(...)` calls and uvicorn's
own loggers render through the same formatter. JSON lines in production (or CMS_LOG_FORMAT=json), a readable console
format in development. Every line carries the context bound with `structlog.contextvars` (request_id, user, job_id,
...) and, when an OpenTelemetry span is current, its trace_id and span_id.

Lines are formatted where they are logged (the context lives in the logging task's contextvars), queued, and
written to stderr by a thread of their own: a slow reader of stderr (a full pipe, a stalled log shipper) holds up
that thread, never the event loop. What is queued is written at exit."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import math
import queue
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from opentelemetry import trace

from cms.core.settings import Settings

__all__ = ["configure_logging", "add_trace_context"]

MAX_QUEUED_LINES = 100_000  # past this many unwritten lines (stderr not read at all), further ones are dropped
STOP_WAIT_SECONDS = 10.0  # at exit, how long a blocked stderr may hold the process to take the last lines
WRITE_EVERY_SECONDS = 0.05  # a line is written at most this long after it is logged
_BATCH = 1000  # lines in one write at most
_STOP = object()


class _LineQueueHandler(logging.handlers.QueueHandler):
    """Formats each record on the thread that logs it (structlog's contextvars and the current span are only
    readable there) and queues the finished line for the writer; drops lines past MAX_QUEUED_LINES, counting them."""

    def __init__(self, lines: queue.SimpleQueue[Any]) -> None:
        super().__init__(lines)
        self.lines = lines
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> Any:
        return self.format(record)

    def enqueue(self, record: Any) -> None:
        if self.lines.qsize() >= MAX_QUEUED_LINES:
            self.dropped += 1  # never handleError: it would write to the stderr that is not being read
            return
        self.lines.put_nowait(record)


class _LineWriter:
    """Writes the queued lines from a daemon thread, every WRITE_EVERY_SECONDS all those waiting in one write.

    Polls rather than waits on the queue: a thread woken by each line then waits for the GIL, and a thread waiting
    for the GIL slows the event loop's (measured: +10-25 µs a request, as much as formatting the line; polling: no
    difference from writing directly). Not logging's QueueListener, for that reason and because it hands records
    one at a time to a handler that formats them again and, stderr being line-buffered, makes a system call per
    line."""

    def __init__(self, handler: _LineQueueHandler, stream: TextIO) -> None:
        self.handler, self.stream = handler, stream
        self.thread = threading.Thread(target=self._run, name="cms-log-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        lines = self.handler.lines
        stopping = False
        while not stopping:
            time.sleep(WRITE_EVERY_SECONDS)
            while not stopping and (not lines.empty() or self.handler.dropped):
                batch: list[object] = []
                while len(batch) < _BATCH and not lines.empty():
                    batch.append(lines.get_nowait())
                stopping = any(line is _STOP for line in batch)
                self._write("".join(f"{line}\n" for line in batch if line is not _STOP) + self._dropped())

    def _dropped(self) -> str:
        if not self.handler.dropped:
            return ""
        dropped, self.handler.dropped = self.handler.dropped, 0  # a race may lose a count: no matter
        notice = logging.LogRecord(
            "cms.logs", logging.WARNING, __file__, 0, "%d log lines dropped: stderr was not read", (dropped,), None
        )
        return f"{self.handler.format(notice)}\n"

    def _write(self, text: str) -> None:
        if text:
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:  # noqa: BLE001, S110 - stderr closed or broken: nowhere left to say so
                pass

    def stop(self) -> None:
        self.handler.lines.put_nowait(_STOP)
        self.thread.join(STOP_WAIT_SECONDS)


_writer: _LineWriter | None = None

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


_PLAIN = frozenset({str, int, bool, type(None)})


def _is_plain(value: object) -> bool:
    """A value orjson writes as json.dumps does: not a UUID, datetime, enum, ... (json.dumps writes their repr, orjson
    a value of its own), nor a NaN or infinity (orjson: null)."""
    return type(value) in _PLAIN or (type(value) is float and math.isfinite(value))


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """The JSON formatter, with a fast path for plain standard-library records (the access line, most others).

    ProcessorFormatter takes ~14 µs for the access line (copying the record, json.dumps, logging.Formatter): ~9% of
    a small request's CPU in a profile of `cms serve`. The fast path runs the same foreign_pre_chain on the record
    itself, so the event dict is the same, and renders it with orjson: ~6 µs. Records from structlog's BoundLogger,
    with an exception or a stack, or with a value orjson would write differently from json.dumps (or refuses) take
    the full path. tests/unit/test_log_format.py holds the two to the same output."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.stack_info or "_logger" in record.__dict__:  # _logger: wrap_for_formatter's
            return super().format(record)
        event: Any = {"event": record.getMessage(), "_record": record, "_from_structlog": False}
        method = record.levelname.lower()
        for processor in self.foreign_pre_chain or ():
            event = processor(self.logger, method, event)
        del event["_record"], event["_from_structlog"]
        if all(_is_plain(value) for value in event.values()):
            try:
                return orjson.dumps(event).decode()
            except orjson.JSONEncodeError:  # an int past 64 bits, a lone surrogate, a key not a string
                pass
        return super().format(record)


def _formatter(json: bool) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of every line: JSON lines (production) or a readable console format."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    return (_JsonFormatter if json else structlog.stdlib.ProcessorFormatter)(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # JSON: tracebacks as a string field, not a multi-line dump that breaks the one-line-per-event rule
            *([structlog.processors.dict_tracebacks] if json else []),
            renderer,
        ],
    )


def configure_logging(settings: Settings) -> None:
    """Route all logging through one structlog formatter on stderr, at CMS_LOG_LEVEL. Safe to call again (tests,
    the worker after the API in one process): it replaces the handler it installed before."""
    handler = _LineQueueHandler(queue.SimpleQueue())
    handler.setFormatter(_formatter(settings.log_json))
    handler.set_name("cms")
    root = logging.getLogger()
    # Ours from an earlier call, and logging.basicConfig's plain stream handler; test harness handlers stay.
    for old in [h for h in root.handlers if h.get_name() == "cms" or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    _stop_writer()  # after removing its handler: lines logged meanwhile went to the old queue and are written
    global _writer
    _writer = _LineWriter(handler, sys.stderr)
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


def _stop_writer() -> None:
    """Write what is still queued and stop the writer thread (at exit, and before configure_logging replaces it)."""
    global _writer
    writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


# At exit (atexit runs at interpreter shutdown, after the main thread returns or sys.exit; not on SIGKILL): the
# daemon writer thread would otherwise be stopped with lines still queued.
atexit.register(_stop_writer)
