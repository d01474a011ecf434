"""A real OIDC identity provider for tests, served over HTTP on loopback.

It publishes a discovery document and a JWKS (one RSA and one EC P-256 key),
counts JWKS fetches, mints good tokens and forges every kind of bad one.
Keycloak-style claims by default (`realm_access.roles`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Every token `TestIssuer.forge` can make; each must be refused by a validator
# configured for this issuer and the audience "cms".
BAD_TOKEN_CASES = (
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "wrong_issuer",
    "wrong_audience",
    "missing_audience",
    "missing_subject",
    "missing_exp",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "missing_kid",
    "bad_signature",
    "payload_tampered",
    "wrong_key_type",
    "jwe",
    "garbage",
    "empty",
    "oversized",
)

_KEYCLOAK_STYLE = "realm_access"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class TestIssuer:
    """Use as a context manager, or call start()/stop(); `url` is the issuer."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(self) -> None:
        self.rsa_key = RSAKey.generate_key(2048, private=True, parameters={"kid": "rsa-1"})
        self.ec_key = ECKey.generate_key("P-256", private=True, parameters={"kid": "ec-1"})
        # Never published: tokens it signs carry a kid the JWKS does not know.
        self.stranger_key = RSAKey.generate_key(2048, private=True, parameters={"kid": "stranger"})
        self.published: list[Key] = [self.rsa_key, self.ec_key]
        self.jwks_fetches = 0
        # Set to make the discovery document name another issuer (an impersonation test).
        self.advertised_issuer: str | None = None
        self.discovery_fetches = 0
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- serving -----------------------------------------------------------------

    def start(self) -> TestIssuer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("test issuer failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> TestIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            self.discovery_fetches += 1
            return JSONResponse(
                {
                    "issuer": self.advertised_issuer or self.url,
                    "jwks_uri": f"{self.url}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                }
            )

        async def jwks(request: Request) -> JSONResponse:
            self.jwks_fetches += 1
            return JSONResponse({"keys": [key.as_dict(private=False, use="sig") for key in self.published]})

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", jwks)])

    # -- keys --------------------------------------------------------------------

    def rotate_in(self, alg: str = "RS256", kid: str | None = None) -> str:
        """Publish a new signing key (as a provider does when rotating); returns its kid."""
        kid = kid or f"rotated-{len(self.published)}"
        key: Key
        if alg == "ES256":
            key = ECKey.generate_key("P-256", private=True, parameters={"kid": kid})
        else:
            key = RSAKey.generate_key(2048, private=True, parameters={"kid": kid})
        self.published.append(key)
        return kid

    def _signing_key(self, alg: str, kid: str | None) -> Key:
        if kid is None:
            return self.ec_key if alg == "ES256" else self.rsa_key
        # A kid nobody published is signed by the stranger key.
        return next((key for key in self.published if key.kid == kid), self.stranger_key)

    # -- tokens ------------------------------------------------------------------

    def claims(
        self,
        sub: str | None = "user-1",
        roles: Iterable[str] = ("editor",),
        *,
        aud: str | list[str] | None = "cms",
        exp_in: int | None = 300,
        nbf_in: int | None = None,
        iat_in: int | None = 0,
        iss: str | None = None,
        claims_extra: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Claims relative to now; a None time/value omits the claim, `drop` removes any."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": iss or self.url,
            "sub": sub,
            "aud": aud,
            "exp": None if exp_in is None else now + exp_in,
            "nbf": None if nbf_in is None else now + nbf_in,
            "iat": None if iat_in is None else now + iat_in,
            _KEYCLOAK_STYLE: {"roles": list(roles)},
            "preferred_username": sub,
        }
        claims.update(claims_extra or {})
        for name in drop:
            claims.pop(name, None)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self,
        sub: str | None = "user-1",
        roles: Iterable[str] = ("editor",),
        *,
        alg: str = "RS256",
        kid: str | None = None,
        header_extra: Mapping[str, Any] | None = None,
        **claim_options: Any,
    ) -> str:
        """A token signed by a published key (or the key named by `kid`)."""
        key = self._signing_key(alg, kid)
        header = {"alg": alg, "kid": kid or key.kid, **(header_extra or {})}
        return jwt.encode(header, self.claims(sub, roles, **claim_options), key, algorithms=[alg])

    def forge(self, case: str) -> str:
        """A token for one of BAD_TOKEN_CASES."""
        if case == "expired":
            return self.mint(exp_in=-600, iat_in=-900)
        if case == "not_yet_valid":
            return self.mint(nbf_in=600)
        if case == "issued_in_future":
            return self.mint(iat_in=600, exp_in=1200)
        if case == "wrong_issuer":
            return self.mint(iss="http://127.0.0.1:9/not-the-issuer")
        if case == "wrong_audience":
            return self.mint(aud="some-other-app")
        if case == "missing_audience":
            return self.mint(aud=None)
        if case == "missing_subject":
            return self.mint(sub=None)
        if case == "missing_exp":
            return self.mint(exp_in=None)
        if case == "alg_none":
            return f"{_b64json({'alg': 'none', 'kid': 'rsa-1', 'typ': 'JWT'})}.{_b64json(self.claims())}."
        if case == "hs256_with_public_key":
            # The classic key-confusion attack: HMAC keyed with the RSA public key's PEM,
            # which a naive verifier would accept as the "secret".
            header = _b64json({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"})
            signing_input = f"{header}.{_b64json(self.claims())}"
            secret = self.rsa_key.as_pem(private=False)
            signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(signature)}"
        if case == "unknown_kid":
            return self.mint(kid="stranger")
        if case == "missing_kid":
            header = {"alg": "RS256", "typ": "JWT"}
            return jwt.encode(header, self.claims(), self.rsa_key, algorithms=["RS256"])
        if case == "bad_signature":
            # Signed by the stranger key but claiming the published key's kid.
            header = {"alg": "RS256", "kid": "rsa-1"}
            return jwt.encode(header, self.claims(), self.stranger_key, algorithms=["RS256"])
        if case == "payload_tampered":
            header, _, signature = self.mint(roles=("viewer",)).split(".")
            return f"{header}.{_b64json(self.claims(roles=('admin',)))}.{signature}"
        if case == "wrong_key_type":
            # Claims ES256 but names the RSA key: key type must match the algorithm.
            _, payload, signature = self.mint(alg="ES256").split(".")
            return f"{_b64json({'alg': 'ES256', 'kid': 'rsa-1', 'typ': 'JWT'})}.{payload}.{signature}"
        if case == "jwe":
            header = _b64json({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rsa-1"})
            return ".".join([header, _b64(b"k" * 32), _b64(b"iv"), _b64(b"ct"), _b64(b"tag")])
        if case == "garbage":
            return "this.is-not-a.jwt!"
        if case == "empty":
            return ""
        if case == "oversized":
            return self.mint(claims_extra={"padding": "x" * 10_000})
        raise ValueError(f"unknown bad token case {case!r}")
