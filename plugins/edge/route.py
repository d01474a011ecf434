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

Local storage (a plain :class:`LocalStorage`) is served from the file itself: one thread hop opens and fstats it
(headers and bytes then come from the same inode), and the body is sent as memoryviews of read-only ``mmap``
windows that a thread pre-faults (``MADV_POPULATE_READ``), so the event loop never waits for the disk and no
per-request heap buffers are allocated, filled and freed (the kernel copies straight from the page cache into the
socket). Any other storage (S3, or a LocalStorage subclass that changes ``stat``/``read``) streams
``storage.read()`` chunks as before. Headers are the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import mmap
import os
import re
import stat as stat_mod
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cms.media.storage._io import run_blocking, run_undoable
from cms.media.storage.base import Area, ObjectInfo, ObjectMissing, Storage, StorageKeyInvalid
from cms.media.storage.local import LocalStorage
from cms.media.storage.local_walk import info_of
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


# --- local files: one open + fstat, then mmap windows --------------------------------------------------------

WINDOW = 4 * 1024 * 1024  # bytes mapped (and sent) per body message on the local path; multiple of the page size
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block open
# Fault the window's pages in from the worker thread (reading from disk if needed), not later in the event loop
# while the socket write copies from them. MADV_POPULATE_READ is Linux >= 5.14 (Python names it from 3.13 on);
# elsewhere, or when the kernel refuses it, WILLNEED starts readahead instead.
_POPULATE: list[int] = [
    advice for advice in (getattr(mmap, "MADV_POPULATE_READ", 22 if sys.platform.startswith("linux") else None),
                          getattr(mmap, "MADV_WILLNEED", None))
    if advice is not None
]


def serves_local_files(storage: Storage) -> bool:
    """A plain LocalStorage: its objects are its files, so they can be mapped instead of read through ``read()``.
    A subclass that overrides how objects are found or read keeps going through its own methods."""
    cls = type(storage)
    return (isinstance(storage, LocalStorage) and cls.stat is LocalStorage.stat and cls.read is LocalStorage.read
            and cls.local_path is LocalStorage.local_path)


def _open_local(storage: LocalStorage, key: str) -> tuple[int, os.stat_result] | None:
    """Open and fstat the object's file (blocking; path checks as LocalStorage.stat). None when it is absent
    or not a regular file. StorageKeyInvalid for a key that escapes its area."""
    path = storage.local_path(Area.PREVIEWS, key)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat_mod.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def _populate(mapped: mmap.mmap) -> None:
    for advice in list(_POPULATE):
        try:
            mapped.madvise(advice)
            return
        except OSError as exc:
            if advice == _POPULATE[-1] or exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise  # a real failure (EFAULT: the file shrank; EIO), or nothing left to fall back to
            with contextlib.suppress(ValueError):  # another thread may have dropped it already
                _POPULATE.remove(advice)  # this kernel does not know POPULATE_READ: WILLNEED from now on


def _map_window(fd: int, start: int, length: int) -> memoryview:
    """Bytes [start, start+length) of the file as a read-only memoryview of a fresh mapping, pages faulted in.
    The mapping is unmapped when the last view of it is released (after the server wrote it out)."""
    aligned = start - start % mmap.ALLOCATIONGRANULARITY
    mapped = mmap.mmap(fd, start + length - aligned, offset=aligned, access=mmap.ACCESS_READ)
    _populate(mapped)
    return memoryview(mapped)[start - aligned:]


async def _until_disconnect(receive: Receive) -> None:
    with contextlib.suppress(Exception):  # a failing receive() means the client is gone as well
        while (await receive())["type"] != "http.disconnect":
            pass


class _MappedFileResponse(Response):
    """Sends [start, end) of a file as memoryviews of mmap windows. The first window is mapped before the status
    line (a failing file is still a clean 503); `fd` (owned, closed when done) is only kept for longer bodies."""

    def __init__(self, fd: int | None, first: memoryview, start: int, end: int, key: str, status_code: int,
                 headers: Mapping[str, str]) -> None:
        self.fd, self.first, self.start, self.end, self.key = fd, first, start, end, key
        self.status_code = status_code
        self.background = None
        self.init_headers(headers)

    def _close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:  # never called (cancelled before the response ran): do not leak the descriptor
        self._close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        first, self.first = self.first, None  # type: ignore[assignment]
        pos = self.start + len(first)
        # One window (the usual player range): nothing to watch. Longer bodies stop mapping more once the client
        # is gone (sends after a disconnect are dropped silently by ASGI 2.3 servers).
        gone = asyncio.ensure_future(_until_disconnect(receive)) if pos < self.end else None
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": first, "more_body": pos < self.end})
            del first
            while pos < self.end and not (gone is not None and gone.done()):
                try:
                    view = await run_blocking(_map_window, self.fd, pos, min(WINDOW, self.end - pos))
                except Exception:  # headers are sent: all we can do is end the body short (the client sees it)
                    log.exception("edge: storage read failed mid-stream for %s", self.key)
                    return
                pos += len(view)
                await send({"type": "http.response.body", "body": view, "more_body": pos < self.end})
                del view
        finally:
            if gone is not None:
                gone.cancel()
            self._close()


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


@dataclass(slots=True)
class _Body:
    """A body to send: bytes [start, end) of the object, start < end."""

    status: int
    headers: dict[str, str]
    start: int
    end: int


def _plan(method: str, key: str, if_none_match: str | None, range_header: str | None, if_range: str | None,
          info: ObjectInfo) -> Response | _Body:
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
        return _plain(416, "range not satisfiable\n", **{"content-range": f"bytes */{size}"})

    status, start, end = 200, 0, size
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    headers["content-length"] = str(end - start)
    headers["content-type"] = media_type

    if method == "HEAD" or end == start:
        return Response(status_code=status, headers=headers)
    return _Body(status, headers, start, end)


def _open_and_map(storage: LocalStorage, key: str, decide: Callable[[ObjectInfo], Response | _Body]) -> Response | None:
    """Blocking, in a worker thread: open + fstat the object's file, decide the response from that inode's
    metadata, and map the body's first window. None when there is no such object."""
    opened = _open_local(storage, key)
    if opened is None:
        return None
    fd, st = opened
    try:
        plan = decide(info_of(key, st))  # same ObjectInfo (ETag) as LocalStorage.stat
        if isinstance(plan, Response):
            os.close(fd)
            return plan
        try:
            first = _map_window(fd, plan.start, min(WINDOW, plan.end - plan.start))
        except Exception:
            log.exception("edge: read failed for %s", key)
            os.close(fd)
            return _plain(503, "unavailable\n", **{"retry-after": "5"})
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    if plan.start + len(first) >= plan.end:
        os.close(fd)  # the whole body is mapped (a mapping outlives its descriptor)
        return _MappedFileResponse(None, first, plan.start, plan.end, key, plan.status, plan.headers)
    return _MappedFileResponse(fd, first, plan.start, plan.end, key, plan.status, plan.headers)


def _close_mapped(response: Response | None) -> None:
    """Undo for a cancelled _open_and_map: release the descriptor a long body kept."""
    if isinstance(response, _MappedFileResponse):
        response._close()


def edge_routes(
    *, storage: Storage, keys: Mapping[str, bytes], clock: Callable[[], float] = time.time
) -> list[Route]:
    """Routes serving ``GET``/``HEAD``/``OPTIONS`` on ``/edge/{kid}/{expires}/{scope}/{signature}/{path}``."""
    local = storage if serves_local_files(storage) else None

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
        decide = functools.partial(
            _plan, request.method, key, request.headers.get("if-none-match"), request.headers.get("range"),
            request.headers.get("if-range"))
        if local is not None:  # one thread hop: open, fstat, decide, map the first window
            try:
                done = await run_undoable(functools.partial(_open_and_map, local, key, decide), _close_mapped)
            except StorageKeyInvalid:
                done = None
            except Exception:
                log.exception("edge: stat failed for %s", key)
                return _plain(503, "unavailable\n", **{"retry-after": "5"})
            return _plain(404, "not found\n") if done is None else done

        try:
            info = await storage.stat(Area.PREVIEWS, key)
        except StorageKeyInvalid:
            info = None
        except Exception:
            log.exception("edge: stat failed for %s", key)
            return _plain(503, "unavailable\n", **{"retry-after": "5"})
        if info is None:
            return _plain(404, "not found\n")
        plan = decide(info)
        if isinstance(plan, Response):
            return plan
        try:
            first, rest = await _first_and_rest(storage.read(Area.PREVIEWS, key, start=plan.start, end=plan.end))
        except (ObjectMissing, StorageKeyInvalid):
            return _plain(404, "not found\n")
        except Exception:
            log.exception("edge: read failed for %s", key)
            return _plain(503, "unavailable\n", **{"retry-after": "5"})
        return StreamingResponse(_stream(first, rest, key), status_code=plan.status, headers=plan.headers)

    return [Route(EDGE_ROUTE_PATH, edge, methods=["GET", "HEAD", "OPTIONS"])]
