"""Local filesystem backend: one directory per area under base_dir; atomic writes via temp file + rename."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import secrets
import stat as stat_mod
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from cms.media.storage._io import (
    CHUNK_SIZE,
    Meter,
    check_range,
    drain,
    normalize_sha256,
    open_file,
    run_blocking,
    run_undoable,
)
from cms.media.storage.base import (
    Area,
    ChecksumMismatch,
    ObjectInfo,
    ObjectMissing,
    Storage,
    StorageKeyInvalid,
    WriteResult,
    validate_key,
    validate_prefix,
)
from cms.media.storage.local_walk import TMP_PREFIX, info_of, remove_older, scan

_HASH_CHUNK = 8 * CHUNK_SIZE
_NO_HARDLINK = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK})  # then copy instead
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block open


class LocalStorage(Storage):
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).resolve()
        self._roots: dict[Area, Path] = {}
        for area in Area:
            root = self.base_dir / area.value
            root.mkdir(parents=True, exist_ok=True)
            self._roots[area] = root.resolve()

    async def ping(self) -> None:
        await run_blocking(self._check_roots)

    def _check_roots(self) -> None:
        """Each area's directory still exists and this process may create files in it (a lost mount, a full
        permission change): stat and access only, nothing written."""
        for area, root in self._roots.items():
            if not root.is_dir():
                raise OSError(errno.ENOENT, f"{area.value} directory is missing", str(root))
            if not os.access(root, os.W_OK | os.X_OK):
                raise OSError(errno.EACCES, f"{area.value} directory is not writable", str(root))

    def _path(self, area: Area, key: str) -> Path:
        validate_key(key)
        root = self._roots[Area(area)]
        path = (root / key).resolve()
        # validate_key already forbids '..'; this also catches symlinks pointing out of the area.
        if path == root or not path.is_relative_to(root):
            raise StorageKeyInvalid(f"storage key escapes its area: {key!r}")
        return path

    def local_path(self, area: Area, key: str) -> Path | None:
        return self._path(area, key)

    async def write(
        self,
        area: Area,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        max_size: int | None = None,
    ) -> WriteResult:
        result, _ = await self._write(self._path(area, key), key, chunks, max_size, exclusive=False)
        return result

    async def write_if_absent(
        self,
        area: Area,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        max_size: int | None = None,
    ) -> tuple[WriteResult, bool]:
        path = self._path(area, key)
        if await run_blocking(path.exists):  # skip the disk write; os.link below still guards the race
            return await drain(key, chunks, max_size), True
        return await self._write(path, key, chunks, max_size, exclusive=True)

    async def _write(
        self, path: Path, key: str, chunks: AsyncIterable[bytes], max_size: int | None, *, exclusive: bool
    ) -> tuple[WriteResult, bool]:
        fd, tmp_name = await run_undoable(functools.partial(_create_temp, path.parent), _drop_temp)
        tmp = Path(tmp_name)
        file = os.fdopen(fd, "wb")
        meter, pending, pending_size = Meter(max_size), [], 0
        try:
            async for chunk in chunks:
                meter.count(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= CHUNK_SIZE:  # batch chunks into fewer thread hops, without copying them
                    await run_blocking(_write_blocks, file, meter, pending)
                    pending, pending_size = [], 0
            if pending:
                await run_blocking(_write_blocks, file, meter, pending)
            await run_blocking(_flush_and_close, file)
            existed = await run_blocking(_publish, tmp, path, exclusive)
        except BaseException:  # incl. ObjectTooLarge and cancellation: nothing may remain
            file.close()
            tmp.unlink(missing_ok=True)
            raise
        return meter.result(key), existed

    async def read(self, area: Area, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        check_range(start, end)
        path = self._path(area, key)
        try:
            file = await open_file(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(f"no object {area}/{key}") from None
        try:
            await run_blocking(file.seek, start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                data = await run_blocking(file.read, want)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            file.close()

    async def stat(self, area: Area, key: str) -> ObjectInfo | None:
        path = self._path(area, key)
        try:
            st = await run_blocking(os.stat, path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _object_info(key, st)

    def open_object(self, area: Area, key: str) -> tuple[int, ObjectInfo] | None:
        """BLOCKING (call it in a thread, e.g. with run_undoable): open the object's file read-only and fstat it,
        so its metadata and bytes come from the same inode. Returns (file descriptor, the caller closes it; the
        ObjectInfo `stat` gives), or None when the object is absent or not a regular file (a directory, a FIFO:
        never blocks on one). StorageKeyInvalid for a key that escapes its area."""
        path = self._path(area, key)
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            info = _object_info(key, os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        if info is None:
            os.close(fd)
            return None
        return fd, info

    async def delete(self, area: Area, key: str) -> None:
        path = self._path(area, key)
        # A "directory" is only a prefix of other keys, not an object.
        with contextlib.suppress(IsADirectoryError, NotADirectoryError):
            await run_blocking(path.unlink, missing_ok=True)

    async def list(self, area: Area, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        validate_prefix(prefix)
        root = self._roots[Area(area)]
        start = (root / prefix.rpartition("/")[0]).resolve()  # the deepest directory the prefix names
        if not start.is_relative_to(root):
            raise StorageKeyInvalid(f"prefix escapes its area: {prefix!r}")
        for info in await run_blocking(scan, root, start, prefix):
            yield info

    async def promote(
        self, src_area: Area, src_key: str, dst_area: Area, dst_key: str, *, expected_sha256: str | None
    ) -> WriteResult:
        src, dst = self._path(src_area, src_key), self._path(dst_area, dst_key)
        if src == dst:
            raise ValueError("promote needs distinct source and destination")
        expected = normalize_sha256(expected_sha256)
        await run_blocking(dst.parent.mkdir, parents=True, exist_ok=True)
        tmp = dst.parent / f"{TMP_PREFIX}{secrets.token_hex(8)}.part"
        try:
            # Pin the source inode first (hard link, no copy on one filesystem), then hash exactly what
            # will be published; staging writes replace files rather than modify them, so it cannot change.
            try:
                await run_blocking(os.link, src, tmp)
                digest, size = await _hash_file(tmp)
            except FileNotFoundError:
                raise ObjectMissing(f"no object {src_area}/{src_key}") from None
            except OSError as exc:
                if exc.errno not in _NO_HARDLINK:
                    raise
                digest, size = await _copy_and_hash(src, tmp)  # areas on different filesystems
            if expected is not None and digest != expected:
                raise ChecksumMismatch(expected, digest)
            await run_blocking(_publish, tmp, dst, True)  # never overwrites an existing master
            await run_blocking(src.unlink, missing_ok=True)  # only after the destination is fsynced
        finally:
            tmp.unlink(missing_ok=True)
        return WriteResult(key=dst_key, size=size, sha256=digest)

    async def cleanup_staging(self, older_than: timedelta) -> int:
        cutoff = time.time() - older_than.total_seconds()
        return await run_blocking(remove_older, self._roots[Area.STAGING], cutoff)


def _object_info(key: str, st: os.stat_result) -> ObjectInfo | None:
    """What `stat` reports of a path's stat result: regular files only are objects."""
    return info_of(key, st) if stat_mod.S_ISREG(st.st_mode) else None


def _create_temp(parent: Path) -> tuple[int, str]:
    for _ in range(3):
        parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=parent, prefix=TMP_PREFIX, suffix=".part")
        except FileNotFoundError:
            continue  # cleanup_staging removed the (empty) directory in between: create it again
    raise FileNotFoundError(f"could not create a temp file in {parent}")


def _drop_temp(created: tuple[int, str]) -> None:
    os.close(created[0])
    os.unlink(created[1])


WRITEBACK_EVERY = 32 * 1024 * 1024


def _write_blocks(file: BinaryIO, meter: Meter, blocks: list[bytes]) -> None:
    """Hash and write received chunks off the event loop; every 32 MiB start writeback of what came before, so
    the final fsync has little left to flush (and staged bytes do not crowd the page cache)."""
    before = file.tell()
    for block in blocks:
        meter.hash(block)
        file.write(block)
    if before // WRITEBACK_EVERY != file.tell() // WRITEBACK_EVERY and hasattr(os, "posix_fadvise"):
        file.flush()
        done = (file.tell() // WRITEBACK_EVERY) * WRITEBACK_EVERY
        os.posix_fadvise(file.fileno(), max(0, done - 2 * WRITEBACK_EVERY), WRITEBACK_EVERY, os.POSIX_FADV_DONTNEED)


def _flush_and_close(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, path: Path, exclusive: bool) -> bool:
    """Move a complete temp file into place; returns True when `exclusive` found the object already there."""
    existed = False
    if exclusive:
        try:
            os.link(tmp, path)  # atomic create-if-absent: EEXIST instead of overwriting
        except FileExistsError:
            existed = True
        os.unlink(tmp)
    else:
        os.replace(tmp, path)
    _fsync_dir(path.parent)  # make the rename itself durable
    return existed


async def _hash_file(path: Path) -> tuple[str, int]:
    return await _hash_copy(path, None)


async def _copy_and_hash(src: Path, tmp: Path) -> tuple[str, int]:
    return await _hash_copy(src, tmp)


async def _hash_copy(src: Path, dst: Path | None) -> tuple[str, int]:
    """sha256 and size of `src`, optionally copying it to a new file `dst`; big blocks, all in threads."""
    digest, size = hashlib.sha256(), 0
    with await open_file(src, "rb") as reader:
        writer = await open_file(dst, "xb") if dst is not None else None

        def step() -> int:  # hashlib releases the GIL, so hashing in the thread keeps the loop free
            data = reader.read(_HASH_CHUNK)
            digest.update(data)
            if writer is not None:
                writer.write(data)
            return len(data)

        try:
            while read := await run_blocking(step):
                size += read
            if writer is not None:
                await run_blocking(_flush_and_close, writer)
        finally:
            if writer is not None:
                writer.close()
    return digest.hexdigest(), size
