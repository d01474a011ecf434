"""OpenTelemetry tracing: on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test hands an exporter).

Off, nothing is installed: the API's no-op tracer is used and the HTTP middleware skips span work entirely, so the
cost is one attribute check per request. On, a TracerProvider exports through OTLP/HTTP in batches, and the asyncpg,
redis and botocore instrumentations add SQL, Redis and S3 spans under the current span. The SDK reads its standard
variables itself (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*, ...)."""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from cms.core.settings import Settings

__all__ = ["configure_tracing", "tracer", "tracing_enabled", "shutdown_tracing"]

log = logging.getLogger("cms.tracing")
INSTRUMENTATION = "cms"

_provider: TracerProvider | None = None
_NO_OP = trace.NoOpTracer()


def tracing_enabled() -> bool:
    """True once configure_tracing installed a provider in this process."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """The CMS's tracer (a no-op one while tracing is off: never the global provider, which may be one a test shut
    down)."""
    if _provider is None:
        return _NO_OP
    return trace.get_tracer(INSTRUMENTATION, tracer_provider=_provider)


def configure_tracing(
    settings: Settings, service_name: str, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install a TracerProvider for this process and the SQL/Redis/S3 instrumentations, when an OTLP endpoint is
    configured or `exporter` is given (exported span by span: tests read an InMemorySpanExporter right after a
    request). `service_name` ("cms-api", "cms-worker") applies unless OTEL_SERVICE_NAME is set. Returns the provider,
    or None when tracing stays off. A second call returns the provider installed before (until shutdown_tracing).
    OpenTelemetry's global provider can be set once per process: this module hands its own provider to the
    instrumentations and to `tracer()`, so a provider installed after a shutdown still gets the spans."""
    global _provider
    if _provider is not None:
        return _provider
    if exporter is None and settings.otlp_endpoint is None:
        return None
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME (read by Settings) wins over our default.
    resource = Resource.create({SERVICE_NAME: settings.otel_service_name or service_name})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
    trace.set_tracer_provider(provider)
    _provider = provider
    _instrument(provider)
    log.info("tracing on: service %s", resource.attributes.get(SERVICE_NAME))
    return provider


def shutdown_tracing() -> None:
    """Flush the spans still queued and turn tracing off in this process: the instrumentations are removed and the
    middleware stops making spans (tests that turned it on; the provider's own atexit hook flushes at exit)."""
    global _provider
    if _provider is None:
        return
    provider, _provider = _provider, None
    for instrumentor in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    provider.shutdown()


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL) wins, as the specification says; the generic endpoint is a
    # base URL the exporter appends the signal's path to.
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return OTLPSpanExporter()
    assert settings.otlp_endpoint is not None  # checked by the caller
    return OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")


def _instrumentors() -> list[Any]:  # BaseInstrumentor, which its package does not export to type checkers
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    return [
        AsyncPGInstrumentor(),  # type: ignore[no-untyped-call]  # its __init__ is unannotated
        RedisInstrumentor(),
        BotocoreInstrumentor(),  # type: ignore[no-untyped-call]
    ]


def _instrument(provider: TracerProvider) -> None:
    """SQL (asyncpg), Redis and S3 (botocore) client spans; each instrumentation patches its library once (they are
    singletons)."""
    for instrumentor in _instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
