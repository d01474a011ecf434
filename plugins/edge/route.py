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
socket): plugins/edge/mapped.py. Any other storage (S3, or a LocalStorage subclass that changes ``stat``/``read``)
streams ``storage.read()`` chunks. Headers are the same either way, decided by plugins/edge/responses.py.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cms.media.storage import Area, ObjectMissing, Storage, StorageKeyInvalid, run_undoable
from plugins.edge.mapped import close_mapped, open_and_map, serves_local_files
from plugins.edge.responses import PREFLIGHT_HEADERS, forbidden, plain, plan_response, unavailable
from plugins.edge.signing import EdgeRefused, split_edge_path, verify

log = logging.getLogger(__name__)

EDGE_ROUTE_PATH = "/edge/{kid}/{expires}/{scope}/{signature}/{path:path}"


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


def edge_routes(*, storage: Storage, keys: Mapping[str, bytes], clock: Callable[[], float] = time.time) -> list[Route]:
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
            plan_response,
            request.method,
            key,
            request.headers.get("if-none-match"),
            request.headers.get("range"),
            request.headers.get("if-range"),
        )
        if local is not None:  # one thread hop: open, fstat, decide, map the first window
            try:
                done = await run_undoable(functools.partial(open_and_map, local, key, decide), close_mapped)
            except StorageKeyInvalid:
                done = None
            except Exception:
                log.exception("edge: stat failed for %s", key)
                return unavailable()
            return plain(404, "not found\n") if done is None else done

        try:
            info = await storage.stat(Area.PREVIEWS, key)
        except StorageKeyInvalid:
            info = None
        except Exception:
            log.exception("edge: stat failed for %s", key)
            return unavailable()
        if info is None:
            return plain(404, "not found\n")
        plan = decide(info)
        if isinstance(plan, Response):
            return plan
        try:
            first, rest = await _first_and_rest(storage.read(Area.PREVIEWS, key, start=plan.start, end=plan.end))
        except (ObjectMissing, StorageKeyInvalid):
            return plain(404, "not found\n")
        except Exception:
            log.exception("edge: read failed for %s", key)
            return unavailable()
        return StreamingResponse(_stream(first, rest, key), status_code=plan.status, headers=plan.headers)

    return [Route(EDGE_ROUTE_PATH, edge, methods=["GET", "HEAD", "OPTIONS"])]
