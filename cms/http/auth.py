"""Bearer tokens on every request: valid ones become the request's principal, invalid ones get 401 and no data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import structlog
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from cms.auth.principal import Principal
from cms.auth.tokens import TokenValidator
from cms.core.errors import IdentityProviderUnavailable, Unauthenticated
from cms.core.metrics import RATE_LIMIT_REFUSALS

if TYPE_CHECKING:
    from cms.http.ratelimit import RateLimiter


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name or self.principal.subject


class _AuthFailed(AuthenticationError):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class BearerTokenBackend(AuthenticationBackend):
    """`limiter`: counts failed authentications per client IP; past its budget, tokens from that IP get 429."""

    def __init__(self, validator: TokenValidator, limiter: RateLimiter | None = None) -> None:
        self.validator = validator
        self.limiter = limiter

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        if self.limiter is not None and (refusal := self.limiter.auth_blocked(conn.scope)) is not None:
            RATE_LIMIT_REFUSALS.labels(kind=refusal.budget.key).inc()
            raise _AuthFailed(429, refusal.message, refusal.headers())  # not even checked: no work for floods
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("invalid token")
            principal = await self.validator.validate(token.strip())
        except IdentityProviderUnavailable as exc:
            raise _AuthFailed(503, exc.message) from exc
        except Unauthenticated as exc:
            if self.limiter is not None and (refusal := await self.limiter.auth_failed(conn.scope)) is not None:
                RATE_LIMIT_REFUSALS.labels(kind=refusal.budget.key).inc()
                raise _AuthFailed(429, refusal.message, refusal.headers()) from exc
            raise _AuthFailed(401, exc.message) from exc
        # Every later log line of this request names the caller (its token's subject: no name, no e-mail), the access
        # line included. Bound for the rest of the request only: ObservabilityMiddleware, outside this, put "no user"
        # in place before and resets it to what was there before once the request is done.
        structlog.contextvars.bind_contextvars(user=principal.subject)
        return AuthCredentials(sorted(principal.roles)), PrincipalUser(principal)


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    status = getattr(exc, "status", 401)
    message = getattr(exc, "message", "invalid token")
    if status == 429:
        headers, code = getattr(exc, "headers", None) or {}, "RATE_LIMITED"
    else:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {"Retry-After": "5"}
        code = "UNAUTHENTICATED"
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers)


class HasScope(Protocol):
    """What principal_of reads: an HTTPConnection, or a stand-in holding only the ASGI scope."""

    @property
    def scope(self) -> Scope: ...


def principal_of(conn: HasScope) -> Principal | None:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else None
