"""The signed edge route: streams PREVIEWS objects to players, with ranges, validators, cache headers and CORS.

Range policy (RFC 9110 lets a server ignore Range; it never does work proportional to the header):

* exactly one well-formed ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range -> 206 with ``Content-Range``;
  a syntactically valid but unsatisfiable one (start past the end, ``-0``, any range on an empty object)
  -> 416 with ``Content-Range: bytes */<len>``;
* anything else -- several ranges (any ``,``), another unit, malformed or inverted specs, numbers longer
  than 19 digits, a header longer than 64 characters -- is IGNORED: 200 with the full body, decided by
  one bounded regex match, never by walking a list of ranges;
* ``If-Range`` that does not match the current ETag also means a 200 full body.

Refusals are 403 with one generic body; 404 only after the signature verified; storage failures are 503.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cms.media.storage.base import Area, ObjectInfo, ObjectMissing, Storage, StorageKeyInvalid
from plugins.edge.signing import EdgeRefused, split_edge_path, verify

log = logging.getLogger(__name__)

EDGE_ROUTE_PATH = "/edge/{kid}/{expires}/{scope}/{signature}/{path:path}"

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


def _plain(status: int, body: str, **extra: str) -> Response:
    headers = {**CORS_HEADERS, "cache-control": NO_STORE, "x-content-type-options": "nosniff", **extra}
    return Response(body, status_code=status, media_type="text/plain", headers=headers)


def forbidden() -> Response:
    return _plain(403, "forbidden\n")


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


async def _first_and_rest(chunks: AsyncIterator[bytes]) -> tuple[bytes | None, AsyncIterator[bytes]]:
    """Pull the first chunk before the status line is sent, so a vanished object is still a clean 404."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        return None, chunks
    return first, chunks


async def _stream(first: bytes | None, chunks: AsyncIterator[bytes], key: str) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        if first is None:
            return
        yield first
        try:
            async for chunk in chunks:
                yield chunk
        except Exception:  # headers are sent: all we can do is end the body short (the client sees it)
            log.exception("edge: storage read failed mid-stream for %s", key)


def edge_routes(
    *, storage: Storage, keys: Mapping[str, bytes], clock: Callable[[], float] = time.time
) -> list[Route]:
    """Routes serving ``GET``/``HEAD``/``OPTIONS`` on ``/edge/{kid}/{expires}/{scope}/{signature}/{path}``."""

    async def edge(request: Request) -> Response:
        if request.method == "OPTIONS":  # CORS preflight: carries no credentials, discloses nothing
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        # Verify the RAW path (still percent-encoded), not the decoded one routing matched on: that is the
        # only way to see '%2f' and to decode exactly once.
        raw = request.scope.get("raw_path")
        raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
        try:
            key = verify(keys, *split_edge_path(raw_path), now=clock())
        except EdgeRefused:
            return forbidden()
        return await _serve(request, key)

    async def _serve(request: Request, key: str) -> Response:
        try:
            info = await storage.stat(Area.PREVIEWS, key)
        except StorageKeyInvalid:
            info = None
        except Exception:
            log.exception("edge: stat failed for %s", key)
            return _plain(503, "unavailable\n", **{"retry-after": "5"})
        if info is None:
            return _plain(404, "not found\n")

        media_type, cache = media_type_for(key)
        etag = etag_for(info)
        headers = {
            **CORS_HEADERS,
            "etag": etag,
            "cache-control": cache,
            "accept-ranges": "bytes",
            "x-content-type-options": "nosniff",
        }
        if _none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)

        size = info.size
        wanted = parse_range(request.headers.get("range"), size)
        if_range = request.headers.get("if-range")
        if wanted is not None and if_range is not None and if_range.strip() != etag:
            wanted = None  # the client's copy is stale: send it all
        if wanted is False:
            return _plain(416, "range not satisfiable\n", **{"content-range": f"bytes */{size}"})

        status, start, end = 200, 0, size
        if isinstance(wanted, tuple):
            status, (start, end) = 206, wanted
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        headers["content-length"] = str(end - start)
        headers["content-type"] = media_type

        if request.method == "HEAD" or end == start:
            return Response(status_code=status, headers=headers)
        try:
            first, rest = await _first_and_rest(storage.read(Area.PREVIEWS, key, start=start, end=end))
        except (ObjectMissing, StorageKeyInvalid):
            return _plain(404, "not found\n")
        except Exception:
            log.exception("edge: read failed for %s", key)
            return _plain(503, "unavailable\n", **{"retry-after": "5"})
        return StreamingResponse(_stream(first, rest, key), status_code=status, headers=headers)

    return [Route(EDGE_ROUTE_PATH, edge, methods=["GET", "HEAD", "OPTIONS"])]
