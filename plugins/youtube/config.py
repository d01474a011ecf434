"""What a youtube source's config names, checked: a channel or a playlist, given by id or by an address an editor
copied from the browser, plus the optional `maxItems`, `maxDurationMinutes` and the write-only `apiKey`.

Addresses are turned into ids here and only the ids are stored, so the stored config checks again unchanged.
Nothing is fetched: a channel's @handle or custom address would need a request to resolve, so it is refused with
directions to the channel id instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_ITEMS = 5000
CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
# PL: an editor's playlist, UU (and UUSH, UULF... variants): a channel's uploads, OL: an album, FL: favourites.
# Mixes (RD...) are made per viewer and Watch later / Liked (WL, LL) are private: none can be followed.
PLAYLIST_ID = re.compile(r"(?:PL|UU|OL|FL)[A-Za-z0-9_-]{10,62}")
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_API_KEY = re.compile(r"[A-Za-z0-9_.-]{20,200}")
_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
_FIELDS = ("channelId", "playlistId", "url", "maxItems", "maxDurationMinutes", "apiKey")

_WHICH = (
    "give channelId (the channel's id, UC followed by 22 characters), playlistId (PL...) or url "
    "(the address of the channel or playlist)"
)
_URL_HELP = (
    "url: the address of a YouTube channel (https://www.youtube.com/channel/UC...) or playlist "
    "(https://www.youtube.com/playlist?list=PL...)"
)
_HANDLE_HELP = (
    "url: a channel's @handle or custom address cannot be followed as it is: on the channel's page choose "
    "'more about this channel', then 'Share channel' and 'Copy channel ID', and give that as channelId (UC...)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked config: exactly one of `channel_id` and `playlist_id` is set."""

    channel_id: str | None
    playlist_id: str | None
    max_items: int
    max_duration_seconds: int | None  # the editor's own cap; the source's cap applies in any case
    api_key: str | None


def check_config(config: Mapping[str, Any], *, max_duration_minutes: int) -> dict[str, Any]:
    """The config to store (an address becomes the id it names), or ValueError with a message for the editor."""
    unknown = sorted(set(config) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown fields {unknown}: a youtube source takes {', '.join(_FIELDS)}")
    given = {name: config[name] for name in ("channelId", "playlistId", "url") if config.get(name) is not None}
    if not given:
        raise ValueError(_WHICH)
    if len(given) > 1:
        raise ValueError(f"give only one of channelId, playlistId and url, not {' and '.join(given)}")
    [(name, value)] = given.items()
    if not isinstance(value, str):
        raise ValueError(f"{name}: a string")
    checked: dict[str, Any] = dict([_from_url(value)]) if name == "url" else {name: _id(name, value.strip())}
    limit = config.get("maxItems")
    if limit is not None:
        checked["maxItems"] = _whole(limit, "maxItems", 1, MAX_ITEMS, "the newest videos taken per run")
    minutes = config.get("maxDurationMinutes")
    if minutes is not None:
        checked["maxDurationMinutes"] = _whole(
            minutes, "maxDurationMinutes", 1, max_duration_minutes, "longer videos are refused"
        )
    key = config.get("apiKey")
    if key is not None:
        if not isinstance(key, str) or not _API_KEY.fullmatch(key.strip()):
            # never echo the value: it is a secret, and error messages are shown and logged
            raise ValueError(
                "apiKey: a YouTube Data API v3 key from the Google Cloud console (letters, digits, '-' and '_'), "
                "or no apiKey at all to read the channel's public feed (its 15 newest videos)"
            )
        checked["apiKey"] = key.strip()
    return checked


def target(config: Mapping[str, Any], *, max_duration_minutes: int) -> Target:
    checked = check_config(config, max_duration_minutes=max_duration_minutes)
    minutes = checked.get("maxDurationMinutes")
    return Target(
        channel_id=checked.get("channelId"),
        playlist_id=checked.get("playlistId"),
        max_items=checked.get("maxItems", MAX_ITEMS),
        max_duration_seconds=minutes * 60 if minutes is not None else None,
        api_key=checked.get("apiKey"),
    )


def _id(name: str, value: str) -> str:
    if name == "channelId" and not CHANNEL_ID.fullmatch(value):
        raise ValueError(
            "channelId: a channel id is UC followed by 22 letters, digits, '-' or '_' "
            "(the part after /channel/ in the channel's address)"
        )
    if name == "playlistId" and not PLAYLIST_ID.fullmatch(value):
        raise ValueError(
            "playlistId: a playlist id such as PL... or UU... (the list=... part of the playlist's address); "
            "mixes (RD...), Watch later and Liked videos cannot be followed"
        )
    return value


def _from_url(url: str) -> tuple[str, str]:
    """("channelId" or "playlistId", the id) named by a YouTube address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in _HOSTS:
        raise ValueError(_URL_HELP)
    query = parse_qs(parts.query)
    segments = [segment for segment in parts.path.split("/") if segment]
    if "list" in query:  # /playlist?list=..., and a video watched inside a playlist
        return "playlistId", _id("playlistId", query["list"][0].strip())
    if segments == ["feeds", "videos.xml"]:
        for key, name in (("channel_id", "channelId"), ("playlist_id", "playlistId")):
            if key in query:
                return name, _id(name, query[key][0].strip())
    if len(segments) >= 2 and segments[0] == "channel":
        return "channelId", _id("channelId", segments[1])
    if segments and (segments[0].startswith("@") or segments[0] in ("c", "user")):
        raise ValueError(_HANDLE_HELP)
    if segments and segments[0] in ("watch", "shorts", "live"):
        raise ValueError(f"{_URL_HELP}; this is one video's address, give its channel or playlist instead")
    raise ValueError(_URL_HELP)


def _whole(value: Any, name: str, low: int, high: int, meaning: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}: a whole number from {low} to {high} ({meaning})")
    return value
