"""create_app(services): the HTTP app, wired from the composition root's parts (cms/services.py)."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from cms.api.context import ContextParts
from cms.api.documents import TrustedDocuments
from cms.api.schema import build_schema, compiled_operations
from cms.auth import DevIssuer, RemoteJWKS, TokenValidator
from cms.auth.tokens import KeySource
from cms.content.visibility import next_scheduled_change
from cms.core import db, metrics, replica
from cms.core.outbox import ChangeFeed
from cms.core.settings import Settings
from cms.http.auth import BearerTokenBackend, on_auth_error
from cms.http.concurrency import ConcurrencyLimitMiddleware
from cms.http.cors import CORSMiddleware
from cms.http.dev_issuer import IssuerCORSMiddleware, dev_issuer_routes
from cms.http.graphiql import graphiql_routes
from cms.http.graphql import graphql_body_reader, graphql_endpoint
from cms.http.health import Readiness
from cms.http.observability import ObservabilityMiddleware, metric_routes
from cms.http.persisted import PersistedQueries
from cms.http.public_cache import PublicQueryCache
from cms.http.ratelimit import RateLimiter, RateLimitMiddleware
from cms.http.request_id import RequestIdMiddleware
from cms.http.security_headers import SecurityHeadersMiddleware
from cms.http.unavailable import UnavailableMiddleware
from cms.http.uploads import upload_receiver
from cms.ingest.registry import installed_sources
from cms.services import Services

log = logging.getLogger("cms.app")


def _validator(settings: Settings) -> tuple[TokenValidator, DevIssuer | None]:
    keys: KeySource
    if settings.uses_dev_issuer:
        dev = DevIssuer(settings.data_dir, settings.dev_issuer_url)
        issuer, keys = dev.issuer, dev.key_source()
    else:
        assert settings.oidc_issuer is not None  # not the dev issuer: an issuer is configured
        dev, issuer, keys = None, settings.oidc_issuer, RemoteJWKS(settings.oidc_issuer)
    validator = TokenValidator(
        issuer=issuer,
        audience=settings.oidc_audience,
        keys=keys,
        roles_claim=settings.oidc_roles_claim,
        role_map=settings.oidc_role_map,
        leeway=settings.oidc_leeway_seconds,
    )
    return validator, dev


def create_app(
    services: Services,
    *,
    background: Sequence[Callable[[Services], AbstractAsyncContextManager[object]]] = (),
    freeze_gc: bool = False,
) -> Starlette:
    """Build the ASGI app on `services`, which its lifespan runs (`Services.running`). `background` are services run
    for the app's lifetime once those are open (the CLI passes the inline worker). `freeze_gc`: the process serves
    this one app (`cms serve`, `app_from_env`), so what exists once it has started is frozen out of the garbage
    collector; a process making many apps (the tests) leaves its collector alone."""
    settings, plugins = services.settings, services.plugins
    validator, dev_issuer = _validator(settings)
    feed = ChangeFeed()
    limiter = RateLimiter(settings) if settings.rate_limit_enabled else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(services.running())
            stack.push_async_callback(readiness.aclose)
            if isinstance(validator.keys, RemoteJWKS):
                stack.push_async_callback(validator.keys.aclose)
            log.info("cms ready (env=%s, issuer=%s)", settings.env, validator.issuer)
            if settings.metrics_enabled and settings.metrics_port is not None:
                metrics.start_metrics_server(settings.metrics_host, settings.metrics_port)
            stack.push_async_callback(persisted.aclose)
            if limiter is not None:
                limiter.start()  # an embedded Redis is started here
                stack.push_async_callback(limiter.aclose)
            assert services.database is not None  # set by running()
            await stack.enter_async_context(feed.running(services.database))
            if (read_replica := db.replica_target(settings)) is not None:
                # Anonymous queries read from the replica while the probe finds it fresh (cms/core/replica.py).
                await stack.enter_async_context(
                    replica.probing(
                        primary=services.database,
                        replica=read_replica,
                        max_lag=settings.read_replica_max_lag_seconds,
                        changes=feed,
                    )
                )
            for service in background:
                await stack.enter_async_context(service(services))
            if freeze_gc:
                # Everything made at start-up (schema, plugins, settings, pools) lives as long as the process: out
                # of the collector's sight, a full collection no longer walks it (measured: p99 of uncached
                # queries 135-155 ms -> 21-23 ms, CPU per request -10 to -25 %, bench/api_bench.py).
                gc.collect()
                gc.freeze()
            yield

    # /livez, /readyz and aliases; the database as the pool reaches it (PgBouncer when there is one)
    readiness = Readiness(settings, services.storage, db.pool_target)

    plugin_types = plugins.graphql_types()
    schema = build_schema(
        query_types=plugin_types.query,
        mutation_types=plugin_types.mutation,
        cost_limit=settings.query_cost_limit,
        charge=limiter.charge_graphql if limiter else None,
    )
    compiled = (
        compiled_operations(
            schema, cost_limit=settings.query_cost_limit, charge=limiter.charge_graphql if limiter else None
        )
        if settings.graphql_compiled
        else None
    )
    gql: ASGIApp = graphql_endpoint(
        graphiql=settings.graphiql_enabled,
        validator=validator,
        schema=schema,
        compiled=compiled,
        parts=ContextParts(
            settings=settings,
            storage=services.storage,
            plugins=plugins,
            search=services.search,
            ingest_sources=installed_sources(plugins, settings),
        ),
    )
    if settings.public_cache_seconds > 0:
        gql = PublicQueryCache(
            gql,
            feed=feed,
            ttl=settings.public_cache_seconds,
            max_entries=settings.public_cache_entries,
            next_change=next_scheduled_change,
        )
    # Hashes become full documents (and trusted-only refuses others) before the cache keys on the document.
    persisted = gql = PersistedQueries.from_settings(gql, settings, TrustedDocuments.load())
    gql = graphql_body_reader(gql, limit=settings.max_body_bytes)  # outermost: the cache works on what it read
    routes = [
        *readiness.routes(),
        Route("/graphql", gql),
        WebSocketRoute("/graphql", gql),
        Route("/uploads/{upload_id}", upload_receiver(settings, services.storage), methods=["PUT"]),
    ]
    if dev_issuer is not None:
        routes += dev_issuer_routes(dev_issuer, settings)
    if settings.graphiql_enabled:
        routes += graphiql_routes()
    if settings.metrics_enabled:
        metrics.register_pool_collector()
        if settings.metrics_port is None:  # else on their own port only (started by the lifespan)
            routes += metric_routes()
    routes += plugins.routes(settings)  # after the core routes: core paths win on a clash

    middleware = [
        Middleware(RequestIdMiddleware),
        # Next: its metrics, span and access line cover every answer, the refusals of the middleware below included.
        Middleware(ObservabilityMiddleware, routes=routes, access_log=settings.access_log),
        # Outside the concurrency limit, so its 503 still carries the security and CORS headers.
        Middleware(SecurityHeadersMiddleware, https=settings.https),
        Middleware(CORSMiddleware, origins=settings.cors_origins),
        # The development issuer's machine endpoints answer any origin; outside authentication, so its 401s do too.
        *([Middleware(IssuerCORSMiddleware)] if dev_issuer is not None else []),
        # PostgreSQL, Redis or storage unreachable: 503 with Retry-After (with the headers above), never a 500.
        Middleware(UnavailableMiddleware),
        Middleware(ConcurrencyLimitMiddleware, limit=settings.http_limit_concurrency),
        Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(validator, limiter), on_error=on_auth_error),
    ]
    if limiter is not None:
        middleware.append(Middleware(RateLimitMiddleware, limiter=limiter))  # after authentication: knows the caller
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    app.state.rate_limiter = limiter
    app.state.persisted = persisted
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory cms.app:app_from_env`: settings from the environment."""
    from cms.core.logs import configure_logging
    from cms.core.tracing import configure_tracing

    settings = Settings()
    configure_logging(settings)
    configure_tracing(settings, "cms-api")
    return create_app(Services(settings), freeze_gc=True)
