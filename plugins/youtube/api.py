"""Discovery through the YouTube Data API v3, with quota-cheap calls only (1 unit each; never `search.list`, 100).

A channel's uploads are a playlist of their own: `channels.list?part=contentDetails` names it, then
`playlistItems.list` pages through it newest first, 50 a page, and `videos.list?part=contentDetails` for each page's
ids adds the durations and leaves out what is private or deleted (it lists only videos the key may see). A channel
of N videos costs 1 + 2 * ceil(N / 50) units, out of a project's 10,000 a day.

The key travels in the `X-Goog-Api-Key` header, never in the URL (URLs end up in run errors and logs), and the
client these calls use follows no redirects, so the key never goes to another host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cms.ingest.http import FetchFailed, SafeClient
from plugins.youtube.config import VIDEO_ID
from plugins.youtube.videos import Video, YouTubeError, parse_datetime, parse_duration, web_url

API_BASE = "https://www.googleapis.com/youtube/v3"
PAGE = 50  # the most playlistItems.list and videos.list give in one call
_THUMBNAILS = ("maxres", "standard", "high", "medium", "default")  # the first one present is kept


async def uploads_playlist(client: SafeClient, base: str, *, api_key: str, channel_id: str) -> str:
    """The id of the playlist holding the channel's uploads."""
    found = await _get(client, base, "channels", {"part": "contentDetails", "id": channel_id}, api_key)
    for channel in _list(found.get("items")):
        uploads = _dig(channel, "contentDetails", "relatedPlaylists", "uploads")
        if isinstance(uploads, str) and uploads:
            return uploads
    raise YouTubeError(f"the YouTube Data API knows no channel {channel_id}: check channelId")


async def playlist_videos(
    client: SafeClient, base: str, *, api_key: str, playlist_id: str, limit: int, missing: str
) -> list[Video]:
    """The playlist's videos in its own order (a channel's uploads: newest first), at most `limit` entries read.
    `missing`: the editor's message when the API knows no such playlist."""
    videos: list[Video] = []
    read, token, tokens = 0, None, set()
    while read < limit:
        query = {"part": "snippet,contentDetails", "maxResults": str(PAGE), "playlistId": playlist_id}
        if token:
            query["pageToken"] = token
        page = await _get(client, base, "playlistItems", query, api_key, missing=missing)
        entries = _list(page.get("items"))[: limit - read]
        read += len(entries)
        videos += await _with_details(client, base, api_key, entries)
        token = page.get("nextPageToken")
        if not isinstance(token, str) or not token or token in tokens or not entries:
            break  # the last page (or a server going round in circles)
        tokens.add(token)
    return videos


async def _with_details(client: SafeClient, base: str, api_key: str, entries: list[Mapping[str, Any]]) -> list[Video]:
    """The page's entries as videos, each with its duration; those videos.list does not return are left out."""
    ids = [vid for vid in (_video_id(entry) for entry in entries) if vid is not None]
    if not ids:
        return []
    query = {"part": "contentDetails", "id": ",".join(ids), "maxResults": str(PAGE)}
    details = await _get(client, base, "videos", query, api_key)
    durations = {
        video.get("id"): parse_duration(_dig(video, "contentDetails", "duration"))
        for video in _list(details.get("items"))
    }
    videos = []
    for entry in entries:
        video_id = _video_id(entry)
        if video_id is None or video_id not in durations:
            continue  # private, deleted, or not a video
        snippet = entry.get("snippet")
        snippet = snippet if isinstance(snippet, Mapping) else {}
        published = _dig(entry, "contentDetails", "videoPublishedAt") or snippet.get("publishedAt")
        videos.append(
            Video(
                video_id=video_id,
                title=_text(snippet.get("title")),
                description=_text(snippet.get("description")),
                published_at=parse_datetime(published),
                thumbnail_url=_thumbnail(snippet.get("thumbnails")),
                duration_seconds=durations[video_id],
                channel_id=_text(snippet.get("videoOwnerChannelId") or snippet.get("channelId")) or None,
            )
        )
    return videos


async def _get(
    client: SafeClient,
    base: str,
    endpoint: str,
    query: dict[str, str],
    api_key: str,
    *,
    missing: str | None = None,
) -> Mapping[str, Any]:
    url = f"{base.rstrip('/')}/{endpoint}?{urlencode(query)}"
    headers = {"X-Goog-Api-Key": api_key, "Accept": "application/json"}
    try:
        fetched = await client.get_document(url, headers=headers)
    except FetchFailed as exc:
        if exc.status in (400, 401, 403):
            raise YouTubeError(
                f"the YouTube Data API refused {endpoint}.list (HTTP {exc.status}): check that apiKey is a valid key "
                "allowed to use the YouTube Data API v3, and that the project's daily quota is not spent"
            ) from None
        if exc.status == 404 and missing:
            raise YouTubeError(missing) from None
        raise
    try:
        document = json.loads(fetched.content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if not isinstance(document, Mapping):
        raise YouTubeError(f"the YouTube Data API sent something other than a JSON object for {endpoint}.list")
    return document


def _video_id(entry: Mapping[str, Any]) -> str | None:
    video_id = _dig(entry, "contentDetails", "videoId") or _dig(entry, "snippet", "resourceId", "videoId")
    return video_id if isinstance(video_id, str) and VIDEO_ID.fullmatch(video_id) else None


def _thumbnail(thumbnails: object) -> str | None:
    if not isinstance(thumbnails, Mapping):
        return None
    for size in _THUMBNAILS:
        url = web_url(_dig(thumbnails, size, "url"))
        if url:
            return url
    return None


def _dig(value: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _list(value: object) -> list[Mapping[str, Any]]:
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
