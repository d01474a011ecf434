"""Discovery without an API key: the channel's (or playlist's) public Atom feed, its 15 newest videos.

The feed is fetched with a conditional GET (ETag, Last-Modified kept in the run state; a 304 means nothing
changed) and parsed by defusedxml before anything reads it: YouTube's feeds have no DOCTYPE, so any DTD, entity
or external reference is refused outright, stricter than the rss source has to be. Only the few elements YouTube
writes are read (yt:videoId, title, published, media:group's description and thumbnail), as plain text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, cast
from urllib.parse import urlencode

import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

from cms.ingest.http import FetchFailed, SafeClient
from plugins.youtube.config import VIDEO_ID
from plugins.youtube.videos import Video, YouTubeError, parse_datetime, web_url

FEED_URL = "https://www.youtube.com/feeds/videos.xml"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}


def feed_url(base: str, *, channel_id: str | None, playlist_id: str | None) -> str:
    query = {"channel_id": channel_id} if channel_id else {"playlist_id": playlist_id or ""}
    return f"{base}?{urlencode(query)}"


async def feed_videos(client: SafeClient, url: str, state: dict[str, Any]) -> list[Video] | None:
    """The feed's videos, newest first; None when it has not changed since the run that left `state`."""
    headers = {}
    if state.get("feed") == url:  # validators belong to the address they came from
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("last_modified"):
            headers["If-Modified-Since"] = str(state["last_modified"])
    try:
        fetched = await client.get_document(url, headers=headers)
    except FetchFailed as exc:
        if exc.status == 404:
            raise YouTubeError(
                f"YouTube has no public feed at {url} (HTTP 404): check the channel or playlist id"
            ) from None
        raise
    if fetched.status == 304:
        return None
    videos = parse_feed(fetched.content)
    state.clear()
    state.update(feed=url, etag=fetched.headers.get("etag"), last_modified=fetched.headers.get("last-modified"))
    return videos


def parse_feed(content: bytes) -> list[Video]:
    """A YouTube Atom feed's entries, in document order; entries without a valid video id are skipped."""
    if content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html")):
        raise YouTubeError(
            "YouTube sent a web page instead of the feed (a consent or error page): the next run tries again; "
            "an apiKey avoids the feed altogether"
        )
    try:
        root = cast(ET.Element, defused_et.fromstring(content, forbid_dtd=True))
    except DefusedXmlException as exc:
        raise YouTubeError(f"the YouTube feed uses an XML feature that is refused ({exc})") from None
    except ET.ParseError as exc:
        raise YouTubeError(f"the YouTube feed is not well-formed XML ({exc})") from None
    if root.tag != f"{{{NS['atom']}}}feed":
        raise YouTubeError(f"the YouTube feed's document is not an Atom feed (its root is {root.tag[:100]!r})")
    videos = []
    for entry in root.findall("atom:entry", NS):
        video_id = _text(entry, "yt:videoId")
        if not VIDEO_ID.fullmatch(video_id):
            continue
        thumbnail = entry.find("media:group/media:thumbnail", NS)
        videos.append(
            Video(
                video_id=video_id,
                title=_text(entry, "atom:title") or _text(entry, "media:group/media:title"),
                description=_text(entry, "media:group/media:description"),
                published_at=parse_datetime(_text(entry, "atom:published")),
                thumbnail_url=web_url(thumbnail.get("url")) if thumbnail is not None else None,
                channel_id=_text(entry, "yt:channelId") or None,
            )
        )
    return videos


def _text(element: ET.Element, path: str) -> str:
    return (element.findtext(path, default="", namespaces=NS) or "").strip()
