"""Signed edge URLs for preview objects: pure functions, no I/O.

URL layout (the token lives IN THE PATH, so relative URIs in an HLS playlist inherit it unchanged)::

    /edge/<kid>/<expires>/<scope_b64>/<signature>/<key...>

* ``kid``: which configured key signed it (``[A-Za-z0-9_-]{1,32}``).
* ``expires``: unix seconds, canonical decimal (no sign, no leading zeros); the URL is refused once
  ``now > expires``.
* ``scope_b64``: unpadded base64url of the scope, a PREVIEWS key prefix. A scope ending in ``/``
  (``<sha256>/hls-<fp>/hls/``) grants every key below it; any other scope grants that one key only.
  Never a bare string prefix: ``abc/hls`` does not grant ``abc/hls-other/...``.
* ``signature``: unpadded base64url of ``HMAC-SHA256(secret, canonical)`` where the canonical string is::

      "v1\\n{kid}\\n{expires}\\n{scope}"

  (``scope`` decoded, UTF-8/ASCII; the fields cannot contain ``\\n``, so the encoding is unambiguous).
  The object key itself is not signed: the scope is, and the key must lie inside it.
* ``key``: the full PREVIEWS object key; percent-decoded exactly once, then checked again.

Rotation: ``EDGE_KEYS`` holds several keys; new URLs are signed with ``EDGE_ACTIVE_KID`` and URLs signed
with any other still-configured kid keep verifying until they expire. Removing a kid retires its URLs.

Every refusal raises :class:`EdgeRefused` with the same generic message, whichever check failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote

EDGE_PREFIX = "/edge"
CANONICAL_VERSION = "v1"
MIN_SECRET_BYTES = 16
MAX_RAW_PATH = 2048  # whole raw request path, checked before any other work
MAX_KEY_LENGTH = 512  # same limit as cms.media.storage.base.MAX_KEY_LENGTH
MAX_SCOPE_B64 = 700

_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_EXPIRES = re.compile(r"(?:0|[1-9][0-9]{0,11})")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, unpadded
_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")
_RAW_PATH_CHARS = re.compile(r"[A-Za-z0-9._~/%-]+")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a '%' not followed by two hex digits

_GENERIC = "forbidden"


class EdgeRefused(Exception):
    """The URL does not grant access. The message is always the same: it never says which check failed."""

    def __init__(self) -> None:
        super().__init__(_GENERIC)


def parse_keys(spec: str) -> dict[str, bytes]:
    """``"kid1:secret1,kid2:secret2"`` -> ``{"kid1": b"secret1", ...}``. Errors never quote a secret."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("EDGE_KEYS is empty")
    keys: dict[str, bytes] = {}
    for index, entry in enumerate(spec.split(","), start=1):
        kid, sep, secret = entry.strip().partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise ValueError(f"EDGE_KEYS entry {index} needs the form kid:secret")
        if not _KID.fullmatch(kid):
            raise ValueError(f"EDGE_KEYS entry {index}: kid must match [A-Za-z0-9_-]{{1,32}}")
        if kid in keys:
            raise ValueError(f"EDGE_KEYS has the kid {kid!r} twice")
        raw = secret.strip().encode("utf-8")
        if len(raw) < MIN_SECRET_BYTES:
            raise ValueError(f"EDGE_KEYS secret for kid {kid!r} is shorter than {MIN_SECRET_BYTES} bytes")
        keys[kid] = raw
    return keys


def canonical_string(kid: str, expires: int, scope: str) -> str:
    return f"{CANONICAL_VERSION}\n{kid}\n{expires}\n{scope}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(secret: bytes, kid: str, expires: int, scope: str) -> str:
    mac = hmac.new(secret, canonical_string(kid, expires, scope).encode("ascii"), hashlib.sha256)
    return _b64(mac.digest())


def _valid_key(key: str) -> bool:
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY_CHARS.fullmatch(key):
        return False
    return all(segment not in ("", ".", "..") for segment in key.split("/"))


def _valid_scope(scope: str) -> bool:
    return _valid_key(scope[:-1] if scope.endswith("/") else scope)


def in_scope(scope: str, key: str) -> bool:
    """A ``/``-terminated scope covers keys below it; any other scope covers exactly that key."""
    return key.startswith(scope) and len(key) > len(scope) if scope.endswith("/") else key == scope


def sign(keys: Mapping[str, bytes], active_kid: str, scope: str, path: str, expires_at: int | float | datetime) -> str:
    """The URL path (starting ``/edge/``) for the PREVIEWS key ``path``, valid for keys inside ``scope``
    until ``expires_at`` (unix seconds or an aware datetime). Raises ValueError on a misuse."""
    if active_kid not in keys:
        raise ValueError("the active kid is not among the configured keys")
    if not _valid_scope(scope):
        raise ValueError(f"invalid scope: {scope!r}")
    if not _valid_key(path) or not in_scope(scope, path):
        raise ValueError(f"path {path!r} is not a valid key inside the scope {scope!r}")
    if isinstance(expires_at, datetime):
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        expires_at = expires_at.timestamp()
    expires = int(expires_at)
    if not _EXPIRES.fullmatch(str(expires)):
        raise ValueError("expires_at is out of range")
    scope_b64 = _b64(scope.encode("ascii"))
    signature = _signature(keys[active_kid], active_kid, expires, scope)
    return f"{EDGE_PREFIX}/{active_kid}/{expires}/{scope_b64}/{signature}/{path}"


def _decode_scope(scope_b64: str) -> str:
    if len(scope_b64) > MAX_SCOPE_B64 or not _B64URL.fullmatch(scope_b64) or len(scope_b64) % 4 == 1:
        raise EdgeRefused()
    try:
        raw = base64.urlsafe_b64decode(scope_b64 + "=" * (-len(scope_b64) % 4))
        scope = raw.decode("ascii")
    except (binascii.Error, ValueError):
        raise EdgeRefused() from None
    if _b64(raw) != scope_b64 or not _valid_scope(scope):  # one canonical encoding per scope
        raise EdgeRefused()
    return scope


def _normalize_path(path: str) -> str:
    """The raw (still percent-encoded) key from the URL -> the key, decoded once and checked before and after."""
    if not isinstance(path, str) or not path or len(path) > MAX_RAW_PATH:
        raise EdgeRefused()
    # Raw form: unreserved characters and well-formed escapes only (no NUL, backslash, '?', '#', spaces...),
    # no empty, '.' or '..' segments (this also refuses '//' and a leading '/').
    if not _RAW_PATH_CHARS.fullmatch(path) or _PERCENT.search(path):
        raise EdgeRefused()
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise EdgeRefused()
    key = unquote(path, errors="strict") if "%" in path else path
    # Decoded once: '%2e%2e' -> '..', '%00' -> NUL, '%252e' -> '%2e' are all refused here, and an encoded
    # '/' ('%2f') is never a separator: the decoded key must have exactly the raw path's segments.
    if "%" in key or key.count("/") != path.count("/") or not _valid_key(key):
        raise EdgeRefused()
    return key


def verify(
    keys: Mapping[str, bytes],
    kid: str,
    expires: str,
    scope_b64: str,
    signature: str,
    path: str,
    now: float,
) -> str:
    """Check the URL components (raw, as they appear in the path) and return the PREVIEWS key they grant.

    Raises EdgeRefused (always the same message) for an unknown or retired kid, a malformed or past expiry,
    a tampered scope or signature, or a key that is malformed, traverses, or lies outside the scope.
    """
    try:
        if not all(isinstance(part, str) for part in (kid, expires, scope_b64, signature, path)):
            raise EdgeRefused()
        if not _KID.fullmatch(kid) or not _EXPIRES.fullmatch(expires) or not _SIGNATURE.fullmatch(signature):
            raise EdgeRefused()
        secret = keys.get(kid)
        if secret is None:
            raise EdgeRefused()
        scope = _decode_scope(scope_b64)
        expected = _signature(secret, kid, int(expires), scope)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise EdgeRefused()
        if now > int(expires):
            raise EdgeRefused()
        key = _normalize_path(path)
        if not in_scope(scope, key):
            raise EdgeRefused()
        return key
    except EdgeRefused:
        raise
    except Exception:  # anything unexpected in parsing is still a refusal, never a crash
        raise EdgeRefused() from None


def split_edge_path(raw_path: str) -> tuple[str, str, str, str, str]:
    """``/.../edge/<kid>/<expires>/<scope>/<sig>/<key...>`` (raw, percent-encoded) -> its five components.

    Anything before the first ``/edge/`` (a mount prefix) is ignored; the query string, if any, is dropped.
    """
    if not isinstance(raw_path, str) or len(raw_path) > MAX_RAW_PATH:
        raise EdgeRefused()
    raw_path = raw_path.partition("?")[0]
    marker = EDGE_PREFIX + "/"
    at = raw_path.find(marker)
    if at < 0:
        raise EdgeRefused()
    parts = raw_path[at + len(marker) :].split("/", 4)
    if len(parts) != 5:
        raise EdgeRefused()
    kid, expires, scope_b64, signature, path = parts
    return kid, expires, scope_b64, signature, path


def verify_url_path(keys: Mapping[str, bytes], raw_path: str, now: float) -> str:
    """Split a raw URL path and verify it: the PREVIEWS key it grants, or EdgeRefused."""
    return verify(keys, *split_edge_path(raw_path), now=now)
