"""A development identity provider inside the app, used when OIDC_ISSUER is unset.

It only signs tokens for local use; production settings refuse to run without a
real issuer, so this key never protects real data.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from cms.auth.jwks import StaticKeys

_ALG = "RS256"


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
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": [_ALG],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "roles", "name", "email"],
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
    ) -> str:
        """A signed token for `subject`, valid for `ttl` seconds from now."""
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = int(time.time())
        claims: dict[str, Any] = {
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
        return jwt.encode({"alg": _ALG, "kid": self.kid}, claims, self._key, algorithms=[_ALG])


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
