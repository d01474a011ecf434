"""What the edge route answers, decided from the request headers and the object's metadata alone (no I/O):
content types and cache policy per extension, CORS, validators (ETag, If-None-Match, If-Range) and the range
policy described in plugins/edge/route.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.responses import Response

from cms.media.storage import ObjectInfo

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
NO_STORE = "no-store"

# extension -> (content type, cache policy)
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    ".m3u8": ("application/vnd.apple.mpegurl", SHORT),
    ".vtt": ("text/vtt; charset=utf-8", SHORT),
    ".m4s": ("video/iso.segment", IMMUTABLE),
    ".ts": ("video/mp2t", IMMUTABLE),
    ".mp4": ("video/mp4", IMMUTABLE),
    ".jpg": ("image/jpeg", IMMUTABLE),
    ".webp": ("image/webp", IMMUTABLE),
}
DEFAULT_MEDIA_TYPE = ("application/octet-stream", SHORT)

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "Content-Range, Content-Length, ETag, Accept-Ranges",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "access-control-allow-methods": "GET, HEAD, OPTIONS",
    "access-control-allow-headers": "Range, If-None-Match, If-Range",
    "access-control-max-age": "86400",
}

MAX_RANGE_HEADER = 64
MAX_VALIDATOR_HEADER = 1024
_SINGLE_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})")
_ETAG_SAFE = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def plain(status: int, body: str, **extra: str) -> Response:
    headers = {**CORS_HEADERS, "cache-control": NO_STORE, "x-content-type-options": "nosniff", **extra}
    return Response(body, status_code=status, media_type="text/plain", headers=headers)


def forbidden() -> Response:
    return plain(403, "forbidden\n")


def unavailable() -> Response:
    """Storage failed: a 503 that asks clients to come back shortly."""
    return plain(503, "unavailable\n", **{"retry-after": "5"})


def media_type_for(key: str) -> tuple[str, str]:
    dot = key.rfind(".")
    return MEDIA_TYPES.get(key[dot:].lower(), DEFAULT_MEDIA_TYPE) if dot > key.rfind("/") else DEFAULT_MEDIA_TYPE


def etag_for(info: ObjectInfo) -> str:
    tag = info.etag.strip('"') if info.etag else ""
    if not _ETAG_SAFE.fullmatch(tag):
        tag = f"{info.size:x}-{int(info.modified.timestamp() * 1_000_000):x}"
    return f'"{tag}"'


def _none_match(header: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2), bounded: an overlong header is ignored."""
    if not header or len(header) > MAX_VALIDATOR_HEADER:
        return False
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """One byte range -> (start, end EXCLUSIVE); None: serve the full body; False: unsatisfiable (416)."""
    if header is None or len(header) > MAX_RANGE_HEADER:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None:  # multi-range, other units, garbage: ignored
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        if last and int(last) < start:
            return None  # invalid spec: ignored
        if start >= size:
            return False
        end = min(int(last) + 1, size) if last else size
        return start, end
    if not last:
        return None  # "bytes=-"
    suffix = int(last)
    if suffix == 0 or size == 0:
        return False
    return max(0, size - suffix), size


@dataclass(slots=True)
class Body:
    """A body to send: bytes [start, end) of the object, start < end."""

    status: int
    headers: dict[str, str]
    start: int
    end: int


def plan_response(
    method: str,
    key: str,
    if_none_match: str | None,
    range_header: str | None,
    if_range: str | None,
    info: ObjectInfo,
) -> Response | Body:
    """Everything decided from the object's metadata and the request headers (pure, no I/O): a headers-only
    response (304, 416, HEAD, empty object) or the body to send, with its status and headers."""
    media_type, cache = media_type_for(key)
    etag = etag_for(info)
    headers = {
        **CORS_HEADERS,
        "etag": etag,
        "cache-control": cache,
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
    }
    if _none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)

    size = info.size
    wanted = parse_range(range_header, size)
    if wanted is not None and if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's copy is stale: send it all
    if wanted is False:
        return plain(416, "range not satisfiable\n", **{"content-range": f"bytes */{size}"})

    status, start, end = 200, 0, size
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    headers["content-length"] = str(end - start)
    headers["content-type"] = media_type

    if method == "HEAD" or end == start:
        return Response(status_code=status, headers=headers)
    return Body(status, headers, start, end)
