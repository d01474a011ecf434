"""create_app(settings): the only place where the parts are wired together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from cms import db
from cms.api.schema import build_schema
from cms.auth import DevIssuer, RemoteJWKS, TokenValidator
from cms.changefeed import ChangeFeed
from cms.content.visibility import next_scheduled_change
from cms.http.auth import BearerTokenBackend, on_auth_error
from cms.http.concurrency import ConcurrencyLimitMiddleware
from cms.http.cors import CORSMiddleware
from cms.http.graphiql import graphiql_routes
from cms.http.graphql import graphql_body_reader, graphql_endpoint
from cms.http.public_cache import PublicQueryCache
from cms.http.ratelimit import RateLimiter, RateLimitMiddleware
from cms.http.request_id import RequestIdMiddleware
from cms.http.security_headers import SecurityHeadersMiddleware
from cms.http.uploads import receive_upload
from cms.media.storage import open_storage_from_settings
from cms.plugins import PluginHost
from cms.settings import DEV_ISSUER_PATH, Settings
from search.backend import SearchBackend
from search.factory import open_search_backend

log = logging.getLogger("cms.app")


def _validator(settings: Settings) -> tuple[TokenValidator, DevIssuer | None]:
    if settings.uses_dev_issuer:
        dev = DevIssuer(settings.data_dir, settings.dev_issuer_url)
        issuer, keys = dev.issuer, dev.key_source()
    else:
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
    settings: Settings,
    *,
    target: db.PgTarget | None = None,
    background: Sequence[Callable[[Settings], AbstractAsyncContextManager]] = (),
    plugins: PluginHost | None = None,
    search: SearchBackend | None = None,
) -> Starlette:
    """Build the ASGI app. `target` overrides where the database is (tests pass their own); `background`
    are services run for the app's lifetime once the database is open (the CLI passes the inline worker);
    `plugins` replaces the host loaded from entry points (plugin tests pass `cms_plugin_host`); `search`
    replaces the backend opened from the settings (the CLI shares one with the inline worker); the app closes it."""
    if plugins is None:
        plugins = PluginHost(disabled=settings.plugins_disabled).load()
    validator, dev_issuer = _validator(settings)
    storage = open_storage_from_settings(settings)
    if search is None:
        search = open_search_backend(settings)

    feed = ChangeFeed()
    limiter = RateLimiter(settings) if settings.rate_limit_enabled else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resolved = target or db.resolve_target(settings)
        await db.open_database(settings, resolved)
        log.info("cms ready (env=%s, issuer=%s)", settings.env, validator.issuer)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await plugins.startup(settings)
                stack.push_async_callback(plugins.shutdown)  # runs last, before the database closes
                if limiter is not None:
                    limiter.start()  # an embedded Redis is started here
                    stack.push_async_callback(limiter.aclose)
                await stack.enter_async_context(feed.running(resolved))
                for service in background:
                    await stack.enter_async_context(service(settings))
                yield
        finally:
            await search.close()
            await db.close_database()
            if isinstance(validator.keys, RemoteJWKS):
                await validator.keys.aclose()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> JSONResponse:
        ok = await db.database_ready()
        return JSONResponse({"status": "ready" if ok else "unavailable", "database": ok}, 200 if ok else 503)

    plugin_types = plugins.graphql_types()
    schema = build_schema(
        query_types=plugin_types.query,
        mutation_types=plugin_types.mutation,
        cost_limit=settings.query_cost_limit,
        charge=limiter.charge_graphql if limiter else None,
    )
    gql = graphql_endpoint(graphiql=settings.graphiql_enabled, validator=validator, schema=schema)
    if settings.public_cache_seconds > 0:
        gql = PublicQueryCache(
            gql,
            feed=feed,
            ttl=settings.public_cache_seconds,
            max_entries=settings.public_cache_entries,
            next_change=next_scheduled_change,
        )
    gql = graphql_body_reader(gql, limit=settings.max_body_bytes)  # outermost: the cache works on what it read
    routes = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/graphql", gql),
        WebSocketRoute("/graphql", gql),
        Route("/uploads/{upload_id}", receive_upload, methods=["PUT"]),
    ]
    if dev_issuer is not None:
        routes += _dev_issuer_routes(dev_issuer)
    if settings.graphiql_enabled:
        routes += graphiql_routes()
    routes += plugins.routes(settings)  # after the core routes: core paths win on a clash

    middleware = [
        Middleware(RequestIdMiddleware),
        # Outside the concurrency limit, so its 503 still carries the security and CORS headers.
        Middleware(SecurityHeadersMiddleware, https=settings.https),
        Middleware(CORSMiddleware, origins=settings.cors_origins),
        Middleware(ConcurrencyLimitMiddleware, limit=settings.http_limit_concurrency),
        Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(validator, limiter), on_error=on_auth_error),
    ]
    if limiter is not None:
        middleware.append(Middleware(RateLimitMiddleware, limiter=limiter))  # after authentication: knows the caller
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.storage = storage
    app.state.plugins = plugins
    app.state.search = search
    app.state.rate_limiter = limiter
    return app


def _dev_issuer_routes(dev: DevIssuer) -> list[Route]:
    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(dev.discovery())

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(dev.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return [
        Route(f"{DEV_ISSUER_PATH}/.well-known/openid-configuration", discovery),
        Route(f"{DEV_ISSUER_PATH}/jwks", jwks),
    ]


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory cms.app:app_from_env`: settings from the environment."""
    return create_app(Settings())
