"""HTTP for the development issuer (cms/auth/dev_issuer.py) and its browser sign-in (cms/auth/dev_login.py).

Mounted by cms/app.py only when OIDC_ISSUER is unset, which production settings refuse: none of these routes exists
in production. Under DEV_ISSUER_PATH (`/auth/dev`):

- `GET /.well-known/openid-configuration`, `GET /jwks`: discovery and the public key;
- `GET /authorize`: checks the authorization request and shows the sign-in page; `POST /authorize`: the page's form,
  answered 303 to the client's redirect URI with a code (or `error=access_denied` on Cancel);
- `POST /token`: `authorization_code` (with the PKCE verifier) and `refresh_token` grants, JSON answers;
- `GET|POST /userinfo`: the claims of the bearer access token (checked by the app's authentication middleware);
- `GET /logout`: ends the session, then 303 to `post_logout_redirect_uri` when it is allowed, else a page.

The machine endpoints (discovery, JWKS, token, userinfo) answer any origin (`IssuerCORSMiddleware`): the admin SPA
may run on another origin in development (vite on :5173, or the app reached at 127.0.0.1 while the issuer is named
localhost). Their answers hold nothing a cookie would unlock, so no credentials are allowed and `*` is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms.auth.dev_issuer import DevIssuer
from cms.auth.dev_login import (
    DevLogin,
    OAuthError,
    RedirectError,
    UntrustedClient,
    identity_from_form,
    origin,
    userinfo,
)
from cms.core.settings import DEV_ISSUER_PATH, Settings
from cms.http.auth import principal_of
from cms.http.body import BodyError, read_body
from cms.http.dev_issuer_pages import content_security_policy, refusal_page, sign_in_page, signed_out_page

FORM_LIMIT_BYTES = 16 * 1024  # a sign-in form or a token request is well under 4 KiB
FORM_FIELDS_LIMIT = 32
CORS_PATHS = frozenset(
    f"{DEV_ISSUER_PATH}/{name}" for name in (".well-known/openid-configuration", "jwks", "token", "userinfo")
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
Multi = dict[str, list[str]]


def dev_issuer_routes(dev: DevIssuer, settings: Settings) -> list[Route]:
    login = DevLogin(
        dev, client_id=settings.admin_client_id, audience=settings.oidc_audience, origins=settings.cors_origins
    )

    async def discovery(request: Request) -> Response:
        return JSONResponse(dev.discovery(), headers={"Cache-Control": "public, max-age=300"})

    async def jwks(request: Request) -> Response:
        return JSONResponse(dev.jwks(), headers={"Cache-Control": "public, max-age=300"})

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            return _authorize_get(login, request)
        return await _authorize_post(login, request)

    async def token(request: Request) -> Response:
        try:
            answer = login.token(await _read_form(request))
        except ValueError as error:  # the body itself is unreadable
            return _oauth_error(OAuthError("invalid_request", str(error)))
        except OAuthError as error:
            return _oauth_error(error)
        return JSONResponse(answer, headers=NO_STORE)

    async def user_info(request: Request) -> Response:
        principal = principal_of(request)  # set by the authentication middleware from a valid bearer token
        if principal is None:
            challenge = 'Bearer error="invalid_token", error_description="a bearer access token is required"'
            return JSONResponse({"error": "invalid_token"}, 401, {"WWW-Authenticate": challenge, **NO_STORE})
        return JSONResponse(userinfo(principal), headers=NO_STORE)

    async def logout(request: Request) -> Response:
        location = login.end_session(_multi(request.query_params.multi_items()))
        if location is not None:
            return RedirectResponse(location, 303, headers=NO_STORE)
        return _html(signed_out_page())

    return [
        Route(f"{DEV_ISSUER_PATH}/.well-known/openid-configuration", discovery),
        Route(f"{DEV_ISSUER_PATH}/jwks", jwks),
        Route(f"{DEV_ISSUER_PATH}/authorize", authorize, methods=["GET", "POST"]),
        Route(f"{DEV_ISSUER_PATH}/token", token, methods=["POST"]),
        Route(f"{DEV_ISSUER_PATH}/userinfo", user_info, methods=["GET", "POST"]),
        Route(f"{DEV_ISSUER_PATH}/logout", logout, methods=["GET"]),
    ]


def _authorize_get(login: DevLogin, request: Request) -> Response:
    try:
        auth = login.authorization_request(_multi(request.query_params.multi_items()))
    except UntrustedClient as error:
        return _html(refusal_page(error.message), 400)
    except RedirectError as error:
        return RedirectResponse(error.location, 303, headers=NO_STORE)
    page = sign_in_page(
        action=request.url.path,
        sealed=login.seal(auth),
        client_id=auth.client_id,
        returns_to=_origin_of(auth.redirect_uri),
    )
    return _html(page, form_targets=f"'self' {_origin_of(auth.redirect_uri)}")


# Anyone who can post the sign-in form chooses their own role: only browsers on this machine may, so a development
# server bound to 0.0.0.0 hands no admin token to its network (use a real OIDC_ISSUER for a shared server).
_LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})


async def _authorize_post(login: DevLogin, request: Request) -> Response:
    if request.client is None or request.client.host not in _LOOPBACK_CLIENTS:
        message = "The development issuer signs in browsers on this machine only. Set OIDC_ISSUER to serve others."
        return _html(refusal_page(message), 403)
    try:
        form = await _read_form(request)
        auth = login.unseal(_field(form, "request"))
    except ValueError as error:
        return _html(refusal_page(f"The sign-in form could not be read: {error}."), 400)
    except UntrustedClient as error:
        return _html(refusal_page(error.message), 400)
    if _field(form, "decision") == "deny":
        return RedirectResponse(login.deny(auth), 303, headers=NO_STORE)
    role, name = _field(form, "role"), _field(form, "name")
    try:
        identity = identity_from_form(role, name)
    except ValueError as error:  # only a hand-made post gets here: the page always sends a role
        page = sign_in_page(
            action=request.url.path,
            sealed=login.seal(auth),
            client_id=auth.client_id,
            returns_to=_origin_of(auth.redirect_uri),
            name=name,
            error=str(error),
        )
        return _html(page, 400, form_targets=f"'self' {_origin_of(auth.redirect_uri)}")
    return RedirectResponse(login.approve(auth, identity), 303, headers=NO_STORE)


async def _read_form(request: Request) -> Multi:
    """An application/x-www-form-urlencoded body, read up to FORM_LIMIT_BYTES; ValueError saying what is wrong."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise ValueError("the body must be application/x-www-form-urlencoded")
    try:
        body = await read_body(request.scope, request.receive, limit=FORM_LIMIT_BYTES)
    except BodyError:
        raise ValueError(f"the body is larger than {FORM_LIMIT_BYTES} bytes") from None
    try:
        text = body.decode("utf-8")
        return _multi(parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_FIELDS_LIMIT))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None


def _multi(pairs: Iterable[tuple[str, str]]) -> Multi:
    out: Multi = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _field(form: Multi, name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _origin_of(uri: str) -> str:
    return origin(uri) or "'none'"  # the URI passed the redirect check, so it has an origin


def _oauth_error(error: OAuthError) -> Response:
    return JSONResponse({"error": error.error, "error_description": error.description}, 400, headers=NO_STORE)


def _html(page: str, status: int = 200, *, form_targets: str = "'none'") -> Response:
    headers = {"Content-Security-Policy": content_security_policy(form_targets), **NO_STORE}
    return HTMLResponse(page, status, headers=headers)


class IssuerCORSMiddleware:
    """`Access-Control-Allow-Origin: *` on CORS_PATHS, preflights answered here (pure ASGI, outside authentication so
    a 401 from /userinfo carries it too and the browser can read it)."""

    _ALLOW: list[tuple[bytes, bytes]] = [(b"access-control-allow-origin", b"*")]
    _PREFLIGHT: list[tuple[bytes, bytes]] = [
        *_ALLOW,
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", b"authorization, content-type, dpop, x-request-id"),
        (b"access-control-max-age", b"600"),
    ]

    def __init__(self, app: ASGIApp, *, paths: Iterable[str] = CORS_PATHS) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        names = {name for name, _ in scope["headers"]}
        if scope["method"] == "OPTIONS" and {b"origin", b"access-control-request-method"} <= names:
            await send({"type": "http.response.start", "status": 204, "headers": self._PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or []), *self._ALLOW]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
