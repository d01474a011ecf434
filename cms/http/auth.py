"""Bearer tokens on every request: valid ones become the request's principal, invalid ones get 401 and no data."""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from cms.auth.principal import Principal
from cms.auth.tokens import TokenValidator
from cms.errors import IdentityProviderUnavailable, Unauthenticated


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
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class BearerTokenBackend(AuthenticationBackend):
    def __init__(self, validator: TokenValidator) -> None:
        self.validator = validator

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _AuthFailed(401, "invalid token")
        try:
            principal = await self.validator.validate(token.strip())
        except IdentityProviderUnavailable as exc:
            raise _AuthFailed(503, exc.message) from exc
        except Unauthenticated as exc:
            raise _AuthFailed(401, exc.message) from exc
        return AuthCredentials(sorted(principal.roles)), PrincipalUser(principal)


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    status = getattr(exc, "status", 401)
    message = getattr(exc, "message", "invalid token")
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {"Retry-After": "5"}
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}, status, headers)


def principal_of(conn: HTTPConnection) -> Principal | None:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else None
