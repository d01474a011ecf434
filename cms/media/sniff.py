"""What a file really is, from its first bytes (never from its name or the client's content type)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import filetype

from cms.media.models import AssetKind

SNIFF_BYTES = 8192  # enough for every signature filetype knows


@dataclass(frozen=True)
class Sniffed:
    kind: AssetKind
    mime: str


def _kind_of(mime: str) -> AssetKind | None:
    major = mime.split("/", 1)[0]
    if major == "video":
        return AssetKind.VIDEO
    if major == "audio":
        return AssetKind.AUDIO
    if major == "image":
        return AssetKind.IMAGE
    if mime == "application/pdf":
        return AssetKind.DOCUMENT
    return None


def sniff(head: bytes) -> Sniffed | None:
    """The kind and MIME type the leading bytes show, or None when they match nothing we accept."""
    guess = filetype.guess(head[:SNIFF_BYTES])
    if guess is None:
        return None
    kind = _kind_of(guess.mime)
    return Sniffed(kind, guess.mime) if kind else None


async def sniff_file(path: Path) -> Sniffed | None:
    """`sniff` of a local file's leading bytes (read in a thread)."""
    return sniff(await asyncio.to_thread(_head, path))


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(SNIFF_BYTES)


def kind_from_declared_type(content_type: str | None) -> AssetKind:
    """A first guess shown while uploading; the persist job replaces it with what the bytes say."""
    return _kind_of((content_type or "").lower()) or AssetKind.DOCUMENT
