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

from cms.plugins.hookspecs import ConfigError, ConfigField, ConfigFieldType

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
    "the address of a YouTube channel (https://www.youtube.com/channel/UC...) or playlist "
    "(https://www.youtube.com/playlist?list=PL...)"
)
_HANDLE_HELP = (
    "a channel's @handle or custom address cannot be followed as it is: on the channel's page choose "
    "'more about this channel', then 'Share channel' and 'Copy channel ID', and give that as channelId (UC...)"
)
_CHANNEL_HELP = (
    "a channel id is UC followed by 22 letters, digits, '-' or '_' (the part after /channel/ in the channel's address)"
)
_PLAYLIST_HELP = (
    "a playlist id such as PL... or UU... (the list=... part of the playlist's address); "
    "mixes (RD...), Watch later and Liked videos cannot be followed"
)
_ONE_OF = "Give one of the channel or playlist address, a channel id or a playlist id."
DESCRIPTION = _ONE_OF + " Without an API key only the 15 newest videos (the public feed) are read."


def config_fields(*, max_duration_minutes: int) -> tuple[ConfigField, ...]:
    """The config described for editors' forms; `check_config` with the same cap decides."""
    return (
        ConfigField(
            "url",
            "Channel or playlist URL",
            ConfigFieldType.URL,
            help="https://www.youtube.com/channel/UC... or https://www.youtube.com/playlist?list=PL... "
            f"(not an @handle: give its channel id instead). {_ONE_OF}",
        ),
        ConfigField(
            "channelId",
            "Channel id",
            ConfigFieldType.STRING,
            help=f"UC followed by 22 characters (the part after /channel/ in the channel's address). {_ONE_OF}",
        ),
        ConfigField(
            "playlistId",
            "Playlist id",
            ConfigFieldType.STRING,
            help=f"PL..., UU... (the list=... part of the playlist's address). {_ONE_OF}",
        ),
        ConfigField(
            "maxItems",
            "Most videos per run",
            ConfigFieldType.INTEGER,
            help=f"The newest videos taken on each run, 1 to {MAX_ITEMS:,}; empty: all of them (up to {MAX_ITEMS:,}).",
            min=1,
            max=MAX_ITEMS,
        ),
        ConfigField(
            "maxDurationMinutes",
            "Longest video (minutes)",
            ConfigFieldType.INTEGER,
            help=f"Longer videos are refused; empty: up to {max_duration_minutes} minutes, this CMS's own cap.",
            min=1,
            max=max_duration_minutes,
        ),
        ConfigField(
            "apiKey",
            "YouTube Data API key",
            ConfigFieldType.SECRET,
            help="Optional: a YouTube Data API v3 key from the Google Cloud console reads every video of the channel "
            "or playlist; without one only its 15 newest videos (the public feed) are read.",
        ),
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
    """The config to store (an address becomes the id it names), or ConfigError (a ValueError) with a message for
    the editor and the field at fault."""
    unknown = sorted(set(config) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown fields {unknown}: a youtube source takes {', '.join(_FIELDS)}")
    given = {name: config[name] for name in ("channelId", "playlistId", "url") if config.get(name) is not None}
    if not given:
        raise ConfigError(_WHICH)
    if len(given) > 1:
        raise ConfigError(f"give only one of channelId, playlistId and url, not {' and '.join(given)}")
    [(name, value)] = given.items()
    if not isinstance(value, str):
        raise ConfigError("a string", field=name)
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
            raise ConfigError(
                "a YouTube Data API v3 key from the Google Cloud console (letters, digits, '-' and '_'), "
                "or no apiKey at all to read the channel's public feed (its 15 newest videos)",
                field="apiKey",
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


def _id(name: str, value: str, *, given_as: str | None = None) -> str:
    """`value` if it is a `name` id; `given_as` is the field the editor gave it in (`url`: an id inside an address)."""
    if name == "channelId" and not CHANNEL_ID.fullmatch(value):
        raise ConfigError(_CHANNEL_HELP, field=given_as or name)
    if name == "playlistId" and not PLAYLIST_ID.fullmatch(value):
        raise ConfigError(_PLAYLIST_HELP, field=given_as or name)
    return value


def _from_url(url: str) -> tuple[str, str]:
    """("channelId" or "playlistId", the id) named by a YouTube address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in _HOSTS:
        raise ConfigError(_URL_HELP, field="url")
    query = parse_qs(parts.query)
    segments = [segment for segment in parts.path.split("/") if segment]
    if "list" in query:  # /playlist?list=..., and a video watched inside a playlist
        return "playlistId", _id("playlistId", query["list"][0].strip(), given_as="url")
    if segments == ["feeds", "videos.xml"]:
        for key, name in (("channel_id", "channelId"), ("playlist_id", "playlistId")):
            if key in query:
                return name, _id(name, query[key][0].strip(), given_as="url")
    if len(segments) >= 2 and segments[0] == "channel":
        return "channelId", _id("channelId", segments[1], given_as="url")
    if segments and (segments[0].startswith("@") or segments[0] in ("c", "user")):
        raise ConfigError(_HANDLE_HELP, field="url")
    if segments and segments[0] in ("watch", "shorts", "live"):
        raise ConfigError(
            f"{_URL_HELP}; this is one video's address, give its channel or playlist instead", field="url"
        )
    raise ConfigError(_URL_HELP, field="url")


def _whole(value: Any, name: str, low: int, high: int, meaning: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"a whole number from {low} to {high} ({meaning})", field=name)
    return value
