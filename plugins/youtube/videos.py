"""One discovered video, as both discovery paths (Data API, Atom feed) describe it, and the item a run keeps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

WATCH_URL = "https://www.youtube.com/watch?v={id}"
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


class YouTubeError(Exception):
    """YouTube's answer cannot be used (or refuses us); the message says why, in words an editor can act on."""


@dataclass(frozen=True, slots=True)
class Video:
    video_id: str
    title: str
    description: str  # plain text, as YouTube keeps it
    published_at: datetime | None
    thumbnail_url: str | None
    duration_seconds: int | None = None  # the Data API's; the Atom feed does not say
    channel_id: str | None = None


def to_item(video: Video, *, watch_url: str = WATCH_URL, max_duration_seconds: int | None = None) -> dict[str, Any]:
    """The run's item (JSON values only). `podcast` is the shape episodes keep in `metadata.ingest` for every
    source (duration, image), so clients read YouTube episodes like feed ones."""
    podcast = {"duration_seconds": video.duration_seconds, "image_url": video.thumbnail_url}
    item: dict[str, Any] = {
        "external_id": video.video_id,
        "title": video.title or video.video_id,
        "description": video.description,
        "url": watch_url.replace("{id}", video.video_id),
        "published_at": video.published_at.isoformat() if video.published_at else None,
        "podcast": {key: value for key, value in podcast.items() if value is not None},
        "youtube": {"video_id": video.video_id, "channel_id": video.channel_id},
    }
    if max_duration_seconds is not None:  # the editor's cap travels with the item: fetch() sees only the item
        item["max_duration_seconds"] = max_duration_seconds
    return item


def parse_datetime(value: object) -> datetime | None:
    """An RFC 3339 date-time (2026-11-30T10:00:00Z, or with an offset) as an aware datetime; None if unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_duration(value: object) -> int | None:
    """An ISO 8601 duration as the Data API gives it (PT1H2M3S, P1DT2H) in seconds; P0D (live, upcoming) is None."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    return total or None


def web_url(value: object) -> str | None:
    """The URL when it is an absolute http(s) one (thumbnails); anything else is dropped."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.hostname else None
