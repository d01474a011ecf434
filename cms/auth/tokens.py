"""Validate OIDC bearer tokens (signed JWTs) and turn them into a Principal."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, NoReturn, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode

from cms.auth.principal import Principal
from cms.auth.roles import roles_from_claims
from cms.core.errors import Unauthenticated

log = logging.getLogger("cms.auth")

# Asymmetric algorithms only: a fixed list (never the token's own say) rules out
# `alg: none` and HS256 "signed" with a published RSA public key as the secret.
ALLOWED_ALGORITHMS = ("RS256", "ES256")
# Real access tokens are 1-3 KiB; anything far larger is refused before parsing.
MAX_TOKEN_BYTES = 8 * 1024


class KeySource(Protocol):
    async def get_key_set(self) -> KeySet: ...

    async def key_for(self, kid: str | None, alg: str) -> Key: ...


class TokenValidator:
    def __init__(
        self,
        issuer: str,
        audience: str,
        keys: KeySource,
        roles_claim: str | None = None,
        role_map: Mapping[str, str] | None = None,
        leeway: int = 30,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.roles_claim = roles_claim
        self.role_map = dict(role_map or {})
        self.leeway = leeway

    async def validate(self, token: str) -> Principal:
        """The caller the token speaks for; Unauthenticated for any invalid token.

        The error message is the same whatever check failed, so callers learn nothing
        about how to forge a better token; the reason is logged instead.
        """
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            _reject("token missing or larger than %d bytes", MAX_TOKEN_BYTES)
        header = _compact_header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            _reject("algorithm %r not allowed", alg)
        if not isinstance(kid, str) or not kid:
            _reject("token header has no kid")
        if "crit" in header:
            # No extension we understand is critical; RFC 7515 says refuse them all.
            _reject("critical header parameters %r", header["crit"])

        try:
            key = await self.keys.key_for(kid, alg)
        except Unauthenticated as error:
            # "invalid token" for an unknown kid, or "identity provider unavailable".
            log.info("bearer token refused: no usable key for kid %r (%s)", kid, error.message)
            raise
        claims = self._verified_claims(token, key, alg)

        return Principal(
            subject=claims["sub"],
            roles=roles_from_claims(claims, roles_claim=self.roles_claim, role_map=self.role_map),
            name=_string(claims.get("name")) or _string(claims.get("preferred_username")),
            email=_string(claims.get("email")),
        )

    def _verified_claims(self, token: str, key: Key, alg: str) -> dict[str, Any]:
        # strict_check_header=False: providers add their own header fields (x5t, ...).
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        try:
            claims = jwt.decode(token, key, registry=registry).claims
        except (JoseError, ValueError, TypeError) as error:
            _reject("signature or payload invalid: %r", error)
        checks = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            # Settings strip a trailing slash some providers keep in `iss`; accept both spellings.
            iss={"essential": True, "values": _issuer_spellings(self.issuer)},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            # Also checks nbf and iat when present (not before / not issued in the future).
            checks.validate(claims)
        except JoseError as error:
            _reject("claims refused: %r", error)
        return claims


def _compact_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, read before any key is touched."""
    parts = token.split(".")
    if len(parts) != 3:
        # Five parts would be a JWE; we only accept signed tokens.
        _reject("not a compact JWS (%d parts)", len(parts))
    try:
        header = json.loads(urlsafe_b64decode(parts[0].encode("ascii")))
    except (ValueError, UnicodeError) as error:
        _reject("header not base64url JSON: %s", error)
    if not isinstance(header, dict):
        _reject("header is not a JSON object")
    return header


def _issuer_spellings(issuer: str) -> list[str]:
    bare = issuer.rstrip("/")
    return [bare, bare + "/"]


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _reject(reason: str, *args: object) -> NoReturn:
    log.info("bearer token refused: " + reason, *args)
    raise Unauthenticated("invalid token")
