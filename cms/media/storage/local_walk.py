"""Directory walks for the local backend: listing by key prefix and age-based cleanup (run in a thread)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from cms.media.storage.base import ObjectInfo

# Temp files start with '~', a character keys cannot contain: they never collide with, or list as, objects.
TMP_PREFIX = "~"


def info_of(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",  # cheap validator: any rewrite changes the mtime
        modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


def scan(root: Path, start: Path, prefix: str) -> list[ObjectInfo]:
    found: list[ObjectInfo] = []
    stack = [start]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX):
                continue
            key = Path(entry.path).relative_to(root).as_posix()
            if entry.is_dir(follow_symlinks=False):
                if key.startswith(prefix[: len(key)]):  # prune subtrees that cannot match
                    stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                try:
                    found.append(info_of(key, entry.stat(follow_symlinks=False)))
                except FileNotFoundError:
                    continue  # deleted while we listed
    found.sort(key=lambda info: info.key)
    return found


def remove_older(root: Path, cutoff: float) -> int:
    """Remove files (objects and orphaned temp files) with mtime before cutoff, then empty old directories."""
    removed = 0
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue
        if dirpath != str(root):
            try:
                if os.lstat(dirpath).st_mtime < cutoff:
                    os.rmdir(dirpath)  # fails (harmlessly) when not empty
            except OSError:
                continue
    return removed
