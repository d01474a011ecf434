"""A development identity provider inside the app, used when OIDC_ISSUER is unset.

It only signs tokens for local use; production settings refuse to run without a
real issuer, so this key never protects real data.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from cms.auth.jwks import StaticKeys

_ALG = "RS256"
# What the sign-in of cms/auth/dev_login.py grants; `openid` is required, the others are accepted and ignored
# (the tokens always carry name and roles, the claims the CMS needs).
SCOPES = ("openid", "profile", "email", "roles", "offline_access")


class DevIssuer:
    def __init__(self, data_dir: Path, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.key_path = self.key_file(data_dir)
        self._key = _load_or_create_key(self.key_path)
        # The public half only: what the validator and the /jwks endpoint see.
        self._public = RSAKey.import_key(self._key.as_dict(private=False))

    @staticmethod
    def key_file(data_dir: Path) -> Path:
        return Path(data_dir) / "dev-issuer" / "key.json"

    @property
    def kid(self) -> str:
        return str(self._key.kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public.as_dict(private=False, use="sig", alg=_ALG)]}

    def discovery(self) -> dict[str, Any]:
        """OpenID Provider metadata: the browser sign-in (code + PKCE) that cms/auth/dev_login.py implements."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/logout",
            "id_token_signing_alg_values_supported": [_ALG],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["none"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                *("iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "azp", "sid"),
                *("roles", "name", "email"),
            ],
            # RFC 9207: the redirect back carries `iss`, so a client can tell which issuer answered.
            "authorization_response_iss_parameter_supported": True,
        }

    def key_source(self) -> StaticKeys:
        return StaticKeys(KeySet([self._public]))

    def mint(
        self,
        subject: str,
        roles: list[str],
        *,
        audience: str,
        ttl: int = 3600,
        name: str | None = None,
        email: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed access token for `subject`, valid for `ttl` seconds from now; `extra` claims are added."""
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = int(time.time())
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "roles": list(roles),
        }
        if name is not None:
            claims["name"] = name
        if email is not None:
            claims["email"] = email
        return self.sign(claims)

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        """`claims` signed with the issuer's key. `typ` tells token kinds apart (RFC 8725 section 3.11): a token
        minted for one use (an access token, say) is refused where another kind is expected (`verify`)."""
        return jwt.encode({"alg": _ALG, "kid": self.kid, "typ": typ}, dict(claims), self._key, algorithms=[_ALG])

    def verify(self, token: str, *, typ: str, audience: str, leeway: int = 0) -> dict[str, Any]:
        """The claims of a token this issuer signed with header `typ` for `audience`, not expired; ValueError
        otherwise (whatever the reason: the caller answers the same way to all of them)."""
        try:
            decoded = jwt.decode(token, self._public, algorithms=[_ALG])
            if decoded.header.get("typ") != typ:
                raise ValueError(f"not a {typ} token")
            jwt.JWTClaimsRegistry(
                leeway=leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, TypeError) as error:
            raise ValueError(f"token refused: {error}") from error
        return decoded.claims


def _load_or_create_key(path: Path) -> RSAKey:
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = RSAKey.generate_key(2048, private=True, auto_kid=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # 0600 from the start (not chmod after), so the private key is never readable by others.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(key.as_dict(private=True), out)
        out.flush()
        os.fsync(out.fileno())
    try:
        # link, unlike replace, fails when the file exists: if two processes start at
        # once, the first key on disk wins and both sign with it.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return RSAKey.import_key(json.loads(path.read_text()))
