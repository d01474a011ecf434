"""Where token signing keys come from: an OIDC provider's JWKS, or a fixed set."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, RSAKey, import_key

from cms.core.errors import IdentityProviderUnavailable, Unauthenticated

log = logging.getLogger("cms.auth")

# After a failed fetch, retry sooner than after a good one so an outage ends quickly,
# but not on every request so a dead provider is not hammered.
_RETRY_AFTER_FAILURE = 5.0
# JWKS documents are a few KiB; refuse anything absurd rather than parse it.
_MAX_DOCUMENT_BYTES = 512 * 1024


class _ProviderError(Exception):
    """The provider answered with something we cannot use."""


def select_key(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The key with this kid that may verify `alg` signatures, or None.

    The key type must match the algorithm so that, say, an RSA public key can never
    be used as an HMAC secret or an EC key for RS256.
    """
    for key in keys:
        if key.kid != kid or key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
            continue
        if alg == "RS256" and isinstance(key, RSAKey):
            return key
        if alg == "ES256" and isinstance(key, ECKey) and key.get("crv") == "P-256":
            return key
    return None


class StaticKeys:
    """A fixed key set (the development issuer); never fetches anything."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    async def get_key_set(self) -> KeySet:
        return self._keys

    async def key_for(self, kid: str | None, alg: str) -> Key:
        key = select_key(self._keys, kid, alg)
        if key is None:
            raise Unauthenticated("invalid token")
        return key


class RemoteJWKS:
    """Keys published by an OIDC provider, found through its discovery document.

    Keys are cached. A token with an unknown kid (the provider rotated its keys)
    triggers a refetch, at most once per `min_refetch_interval` seconds however many
    such tokens arrive, so forged kids cannot turn us into a traffic amplifier.
    The cache is also refreshed after `max_age` seconds so removed keys stop working.
    When the provider is unreachable, cached keys keep being served.
    """

    def __init__(
        self,
        issuer: str,
        http: httpx.AsyncClient | None = None,
        *,
        min_refetch_interval: float = 60.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._http = http if http is not None else httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._owns_http = http is None
        self._min_refetch_interval = min_refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._jwks_uri: str | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._next_attempt = float("-inf")

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def get_key_set(self) -> KeySet:
        if self._keys is None or self._clock() - self._fetched_at >= self._max_age:
            await self._refresh()
        if self._keys is None:
            raise IdentityProviderUnavailable("identity provider unavailable")
        return self._keys

    async def key_for(self, kid: str | None, alg: str) -> Key:
        key = select_key(await self.get_key_set(), kid, alg)
        if key is None:
            # Perhaps the provider rotated its keys since we last looked.
            await self._refresh()
            key = select_key(await self.get_key_set(), kid, alg)
        if key is None:
            raise Unauthenticated("invalid token")
        return key

    async def _refresh(self) -> None:
        # The lock makes a burst of callers wait for one fetch; the time check makes
        # every caller after it (within the interval) reuse that fetch's result.
        async with self._lock:
            now = self._clock()
            if now < self._next_attempt:
                return
            try:
                self._keys = await self._fetch_keys()
            except (httpx.HTTPError, _ProviderError, JoseError, ValueError) as error:
                log.warning("cannot fetch signing keys from %s: %s", self.issuer, error)
                self._next_attempt = now + min(self._min_refetch_interval, _RETRY_AFTER_FAILURE)
                return
            self._fetched_at = now
            self._next_attempt = now + self._min_refetch_interval

    async def _fetch_keys(self) -> KeySet:
        if self._jwks_uri is None:
            self._jwks_uri = await self._discover()
        document = await self._get_json(self._jwks_uri)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise _ProviderError("JWKS has no 'keys' list")
        keys: list[Key] = []
        for entry in entries:
            # One key we cannot read (a new key type, say) must not disable the others.
            try:
                keys.append(import_key(entry))
            except (JoseError, ValueError, TypeError, KeyError) as error:
                log.info("ignoring unusable JWKS key %r: %s", _kid_of(entry), error)
        log.info("fetched %d signing keys from %s", len(keys), self._jwks_uri)
        return KeySet(keys)

    async def _discover(self) -> str:
        document = await self._get_json(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        # OIDC Discovery 1.0 section 4.3: the document must name the issuer we asked,
        # otherwise another provider could be impersonating it.
        if str(document.get("issuer", "")).rstrip("/") != self.issuer.rstrip("/"):
            raise _ProviderError(f"discovery names issuer {document.get('issuer')!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _ProviderError("discovery document has no jwks_uri")
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _MAX_DOCUMENT_BYTES:
            raise _ProviderError(f"{url} answered {len(response.content)} bytes")
        document = response.json()
        if not isinstance(document, dict):
            raise _ProviderError(f"{url} did not answer a JSON object")
        return document


def _kid_of(entry: object) -> object:
    return entry.get("kid") if isinstance(entry, dict) else None
