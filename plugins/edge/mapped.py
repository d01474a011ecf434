"""Local previews served from the file itself: one open + fstat (headers and bytes come from the same inode), then
the body as memoryviews of read-only ``mmap`` windows that a worker thread pre-faults, so the event loop never
waits for the disk and no per-request heap buffers are filled and freed."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import mmap
import os
import sys
from collections.abc import Callable, Mapping
from typing import TypeGuard

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cms.media.storage import Area, LocalStorage, ObjectInfo, Storage, run_blocking
from plugins.edge.responses import Body, unavailable

log = logging.getLogger("plugins.edge.route")

WINDOW = 4 * 1024 * 1024  # bytes mapped (and sent) per body message on the local path; multiple of the page size
# Fault the window's pages in from the worker thread (reading from disk if needed), not later in the event loop
# while the socket write copies from them. MADV_POPULATE_READ is Linux >= 5.14 (Python names it from 3.13 on);
# elsewhere, or when the kernel refuses it, WILLNEED starts readahead instead.
_POPULATE: list[int] = [
    advice
    for advice in (
        getattr(mmap, "MADV_POPULATE_READ", 22 if sys.platform.startswith("linux") else None),
        getattr(mmap, "MADV_WILLNEED", None),
    )
    if advice is not None
]


def serves_local_files(storage: Storage) -> TypeGuard[LocalStorage]:
    """A plain LocalStorage: its objects are its files, so they can be mapped instead of read through ``read()``.
    A subclass that overrides how objects are found or read keeps going through its own methods."""
    cls = type(storage)
    return (
        isinstance(storage, LocalStorage)
        and cls.stat is LocalStorage.stat
        and cls.read is LocalStorage.read
        and cls.local_path is LocalStorage.local_path
    )


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
    return memoryview(mapped)[start - aligned :]


async def _until_disconnect(receive: Receive) -> None:
    with contextlib.suppress(Exception):  # a failing receive() means the client is gone as well
        while (await receive())["type"] != "http.disconnect":
            pass


class MappedFileResponse(Response):
    """Sends [start, end) of a file as memoryviews of mmap windows. The first window is mapped before the status
    line (a failing file is still a clean 503); `fd` (owned, closed when done) is only kept for longer bodies."""

    def __init__(
        self,
        fd: int | None,
        first: memoryview,
        start: int,
        end: int,
        key: str,
        status_code: int,
        headers: Mapping[str, str],
    ) -> None:
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
                assert self.fd is not None  # kept whenever the body is longer than the first window
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


def open_and_map(storage: LocalStorage, key: str, decide: Callable[[ObjectInfo], Response | Body]) -> Response | None:
    """Blocking, in a worker thread: open + fstat the object's file, decide the response from that inode's
    metadata, and map the body's first window. None when there is no such object."""
    opened = storage.open_object(Area.PREVIEWS, key)  # StorageKeyInvalid for a key that escapes its area
    if opened is None:
        return None
    fd, info = opened
    try:
        plan = decide(info)  # same ObjectInfo (ETag) as LocalStorage.stat
        if isinstance(plan, Response):
            os.close(fd)
            return plan
        try:
            first = _map_window(fd, plan.start, min(WINDOW, plan.end - plan.start))
        except Exception:
            log.exception("edge: read failed for %s", key)
            os.close(fd)
            return unavailable()
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    if plan.start + len(first) >= plan.end:
        os.close(fd)  # the whole body is mapped (a mapping outlives its descriptor)
        return MappedFileResponse(None, first, plan.start, plan.end, key, plan.status, plan.headers)
    return MappedFileResponse(fd, first, plan.start, plan.end, key, plan.status, plan.headers)


def close_mapped(response: Response | None) -> None:
    """Undo for a cancelled open_and_map: release the descriptor a long body kept."""
    if isinstance(response, MappedFileResponse):
        response._close()
