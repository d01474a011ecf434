"""Helpers shared by the backends: blocking calls off the event loop, and size/hash metering of streams."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar, cast

from cms.media.storage.base import ObjectTooLarge, WriteResult

CHUNK_SIZE = 1 << 20  # read/write granularity: big enough to amortise thread hops, small enough to stay flat

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` in a worker thread. If the caller is cancelled, wait for the thread to finish first:
    a thread cannot be stopped, and cleanup must not race it (closing a file it still writes to,
    aborting an upload while a part is still in flight)."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the caller has gone, so asyncio need not log it as lost
        raise


async def run_undoable(fn: Callable[[], T], undo: Callable[[T], object]) -> T:
    """Like run_blocking for calls that create something (a temp file, an upload, an open file): when the
    caller is cancelled after the thread already succeeded, the result would be lost, so undo it here."""
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None:
            await run_blocking(undo, task.result())
        raise


async def open_file(path: Path, mode: str) -> BinaryIO:
    # `mode` is a binary mode; open() is typed by its mode literal and cannot tell from a str.
    opener = cast("Callable[[], BinaryIO]", functools.partial(open, path, mode))
    return await run_undoable(opener, lambda file: file.close())


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A local file's bytes in CHUNK_SIZE chunks, each read in a thread (to hand a file to `Storage.write`)."""
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK_SIZE):
            yield chunk


def check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range start={start} end={end}")


def b64(digest: bytes) -> str:
    """S3 checksum headers carry base64 of the raw digest."""
    return base64.b64encode(digest).decode("ascii")


class Meter:
    """Counts and hashes a stream; raises ObjectTooLarge as soon as more than max_size bytes arrived."""

    def __init__(self, max_size: int | None) -> None:
        self.max_size = max_size
        self.size = 0
        self._hash = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        self.count(chunk)
        self._hash.update(chunk)

    def count(self, chunk: bytes) -> None:
        """Size and limit only (cheap, on the event loop); pair with `hash` for the bytes, e.g. in a thread."""
        self.size += len(chunk)
        if self.max_size is not None and self.size > self.max_size:
            raise ObjectTooLarge(self.max_size)

    def hash(self, block: bytes | bytearray) -> None:
        self._hash.update(block)  # hashlib releases the GIL for large buffers

    @property
    def digest(self) -> bytes:
        return self._hash.digest()

    def result(self, key: str) -> WriteResult:
        return WriteResult(key=key, size=self.size, sha256=self._hash.hexdigest())


async def drain(key: str, chunks: AsyncIterable[bytes], max_size: int | None) -> WriteResult:
    """Consume and hash a stream without storing it (the object already exists)."""
    meter = Meter(max_size)
    async for chunk in chunks:
        meter.feed(chunk)
    return meter.result(key)


def normalize_sha256(expected: str | None) -> str | None:
    return expected.lower() if expected is not None else None
