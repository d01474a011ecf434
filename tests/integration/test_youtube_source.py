"""The `youtube` ingest source against a loopback stand-in for YouTube: the Data API (channels.list, two pages of
playlistItems.list, videos.list), a channel's Atom feed as YouTube serves it, and media through a yt-dlp extractor
test double whose formats point at real MP4 files on the same server. Discovery uses only 1-unit API calls, the
feed's conditional GET, and every download goes through the safe client (refused addresses, size and duration caps);
the last test runs a source end to end through GraphQL and the worker."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from yt_dlp.extractor.common import InfoExtractor

from cms.api.ids import from_global_id
from cms.content.models import Episode, PublishStatus
from cms.core.settings import Settings
from cms.media.models import Asset, AssetStatus
from cms.plugins.hookspecs import hookimpl
from cms.plugins.host import PluginHost
from jobs.store.service import PermanentFailure
from plugins.youtube.plugin import YouTubeSource
from plugins.youtube.videos import YouTubeError
from tests.support import media
from tests.support.api import Api, operation
from tests.support.jobs import drain
from tests.support.server import LiveServer

CHANNEL = "UCuAXFkgsw1L7xaCfnd5JJOw"
UPLOADS = "UUuAXFkgsw1L7xaCfnd5JJOw"
API_KEY = "AIzaSyD-test-key-0123456789abcdefghijk"
PUBLIC = ("dQw4w9WgXcQ", "M7lc1UVf-VE", "jNQXAC9IVRw")
PRIVATE = "xxPrivate01"


@dataclass
class Clip:
    """What the extractor double says about a video (and serves as its file)."""

    duration: float = 1.0
    filesize: int | None = None  # announced in the format, as YouTube often does
    url: str | None = None  # the format's URL; default: this server's /media/<id>.mp4
    live: bool = False
    progressive: bool = True  # False: only separate picture and sound streams (which would need merging)


@dataclass
class FakeYouTube:
    """YouTube's Data API, channel feeds, watch pages (for the extractor double) and media files, on loopback."""

    url: str = ""
    page_size: int = 2  # the real API gives up to maxResults=50 a page: smaller here, so two pages come back
    uploads: list[str] = field(default_factory=lambda: [PUBLIC[0], PUBLIC[1], PRIVATE, PUBLIC[2]])
    clips: dict[str, Clip] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    not_modified: int = 0

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    def calls(self, path: str) -> list[dict[str, list[str]]]:
        return [query for seen, query, _ in self.requests if seen == path]

    async def record(self, request: Request) -> None:
        self.requests.append((request.url.path, parse_qs(request.url.query), dict(request.headers)))

    # --- Data API v3 ---------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("x-goog-api-key") == API_KEY

    async def channels(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return _api_error(403, "forbidden", "The request cannot be completed because you have exceeded your quota.")
        wanted = request.query_params.get("id")
        items = [
            {
                "kind": "youtube#channel",
                "etag": "W8Y7bY9Jv0o3c2aLq0wd1YtHn1k",
                "id": CHANNEL,
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS}},
            }
        ]
        return JSONResponse(
            {
                "kind": "youtube#channelListResponse",
                "etag": "hQbMNPhgG3iEnuIrzr8xy5iJtHM",
                "pageInfo": {"totalResults": 1 if wanted == CHANNEL else 0, "resultsPerPage": 5},
                **({"items": items} if wanted == CHANNEL else {}),
            }
        )

    async def playlist_items(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return _api_error(400, "badRequest", "API key not valid. Please pass a valid API key.")
        if request.query_params.get("playlistId") != UPLOADS:
            return _api_error(
                404, "playlistNotFound", "The playlist identified with the request's playlistId cannot be found."
            )
        token = request.query_params.get("pageToken")
        start = int(token[1:-3]) if token else 0  # our tokens: "C<n>QAA"
        page = self.uploads[start : start + self.page_size]
        body: dict[str, Any] = {
            "kind": "youtube#playlistItemListResponse",
            "etag": f"page-{start}",
            "items": [self._playlist_item(video_id, start + n) for n, video_id in enumerate(page)],
            "pageInfo": {"totalResults": len(self.uploads), "resultsPerPage": self.page_size},
        }
        if start + self.page_size < len(self.uploads):
            body["nextPageToken"] = f"C{start + self.page_size}QAA"
        if start:
            body["prevPageToken"] = f"C{max(start - self.page_size, 0)}QAA"
        return JSONResponse(body)

    def _playlist_item(self, video_id: str, position: int) -> dict[str, Any]:
        private = video_id == PRIVATE
        thumbnails = {
            size: {"url": f"https://i.ytimg.com/vi/{video_id}/{name}.jpg", "width": width, "height": height}
            for size, name, width, height in (
                ("default", "default", 120, 90),
                ("medium", "mqdefault", 320, 180),
                ("high", "hqdefault", 480, 360),
                ("maxres", "maxresdefault", 1280, 720),
            )
        }
        snippet = {
            "publishedAt": f"2026-11-{28 - position:02d}T16:00:06Z",
            "channelId": CHANNEL,
            "title": "Private video" if private else f"Video {video_id}",
            "description": "This video is private." if private else f"About {video_id}.\nSecond line.",
            "thumbnails": {} if private else thumbnails,
            "channelTitle": "Test Channel",
            "playlistId": UPLOADS,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
            **({} if private else {"videoOwnerChannelTitle": "Test Channel", "videoOwnerChannelId": CHANNEL}),
        }
        details = {"videoId": video_id}
        if not private:
            details["videoPublishedAt"] = f"2026-11-{28 - position:02d}T15:59:00Z"
        return {
            "kind": "youtube#playlistItem",
            "etag": f"item-{video_id}",
            "id": f"VVV1QVhGa2dzdzFMN3hhQ2ZuZDVKSk93Li{position}",
            "snippet": snippet,
            "contentDetails": details,
        }

    async def videos(self, request: Request) -> Response:
        await self.record(request)
        if not self._authorized(request):
            return _api_error(400, "badRequest", "API key not valid. Please pass a valid API key.")
        ids = request.query_params.get("id", "").split(",")
        items = [
            {
                "kind": "youtube#video",
                "etag": f"video-{video_id}",
                "id": video_id,
                "contentDetails": {
                    "duration": "PT1M1S" if video_id == PUBLIC[0] else "PT1H2M3S",
                    "dimension": "2d",
                    "definition": "hd",
                    "caption": "false",
                    "licensedContent": True,
                    "contentRating": {},
                    "projection": "rectangular",
                },
            }
            for video_id in ids
            if video_id in PUBLIC  # private and deleted videos are not listed
        ]
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "etag": "videos",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    async def search(self, request: Request) -> Response:  # 100 units a call: the source must never come here
        await self.record(request)
        return JSONResponse({"kind": "youtube#searchListResponse", "items": []})

    # --- the channel's Atom feed ---------------------------------------------------------------------------------

    async def feed(self, request: Request) -> Response:
        await self.record(request)
        channel = request.query_params.get("channel_id")
        playlist = request.query_params.get("playlist_id")
        if channel not in (CHANNEL, None) or playlist not in (UPLOADS, None):
            return Response(b"<!DOCTYPE html><html><body>404 Not Found</body></html>", 404, media_type="text/html")
        body = atom_feed(self.uploads[:2] if playlist else [v for v in self.uploads if v != PRIVATE])
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            self.not_modified += 1
            return Response(b"", 304, headers={"ETag": etag})
        return Response(body, media_type="application/atom+xml; charset=UTF-8", headers={"ETag": etag})

    # --- media ---------------------------------------------------------------------------------------------------

    async def file(self, request: Request) -> Response:
        await self.record(request)
        data = self.files.get(request.path_params["name"])
        return Response(data, media_type="video/mp4") if data is not None else Response(b"", 404)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/youtube/v3/channels", self.channels),
                Route("/youtube/v3/playlistItems", self.playlist_items),
                Route("/youtube/v3/videos", self.videos),
                Route("/youtube/v3/search", self.search),
                Route("/feeds/videos.xml", self.feed),
                Route("/media/{name}", self.file),
            ]
        )


def _api_error(status: int, reason: str, message: str) -> JSONResponse:
    error = {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}
    return JSONResponse({"error": error}, status)


def atom_feed(video_ids: list[str]) -> bytes:
    """A channel feed as https://www.youtube.com/feeds/videos.xml?channel_id=... serves it."""
    entries = "".join(
        f"""
 <entry>
  <id>yt:video:{video_id}</id>
  <yt:videoId>{video_id}</yt:videoId>
  <yt:channelId>{CHANNEL}</yt:channelId>
  <title>Video {escape(video_id)} &amp; friends</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>
  <author>
   <name>Test Channel</name>
   <uri>https://www.youtube.com/channel/{CHANNEL}</uri>
  </author>
  <published>2026-11-{28 - n:02d}T16:00:06+00:00</published>
  <updated>2026-11-29T02:10:11+00:00</updated>
  <media:group>
   <media:title>Video {escape(video_id)} &amp; friends</media:title>
   <media:content url="https://www.youtube.com/v/{video_id}?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i3.ytimg.com/vi/{video_id}/hqdefault.jpg" width="480" height="360"/>
   <media:description>About {video_id}.
Second line &lt;b&gt;not markup&lt;/b&gt;</media:description>
   <media:community>
    <media:starRating count="1234" average="5.00" min="1" max="5"/>
    <media:statistics views="56789"/>
   </media:community>
  </media:group>
 </entry>"""
        for n, video_id in enumerate(video_ids)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL}"/>
 <id>yt:channel:uAXFkgsw1L7xaCfnd5JJOw</id>
 <yt:channelId>uAXFkgsw1L7xaCfnd5JJOw</yt:channelId>
 <title>Test Channel</title>
 <link rel="alternate" href="https://www.youtube.com/channel/{CHANNEL}"/>
 <author>
  <name>Test Channel</name>
  <uri>https://www.youtube.com/channel/{CHANNEL}</uri>
 </author>
 <published>2012-01-06T00:00:00+00:00</published>{entries}
</feed>""".encode()


def loopback_extractor(youtube: FakeYouTube) -> type[InfoExtractor]:
    """A yt-dlp extractor for the fake's watch URLs only, answering as YouTube's does: one progressive mp4 format
    (picture and sound), a video-only and an audio-only one (which would need merging), and an HLS one."""

    class LoopbackIE(InfoExtractor):  # type: ignore[misc]
        IE_NAME = "loopback"
        _VALID_URL = r"http://127\.0\.0\.1:\d+/watch/(?P<id>[\w-]+)"

        def _real_extract(self, url: str) -> dict[str, Any]:
            video_id = self._match_id(url)
            clip = youtube.clips[video_id]
            progressive = clip.url or f"{youtube.url}/media/{video_id}.mp4"
            return {
                "id": video_id,
                "title": f"Video {video_id}",
                "duration": clip.duration,
                "live_status": "is_live" if clip.live else "not_live",
                "http_headers": {"User-Agent": "Mozilla/5.0 (test double)", "Accept-Language": "en-us,en;q=0.5"},
                "formats": [
                    {
                        "format_id": "18" if clip.progressive else "18-gone",
                        "vcodec": "avc1.42001E" if clip.progressive else "none",
                        "url": progressive,
                        "ext": "mp4",
                        "width": 320,
                        "height": 240,
                        "acodec": "mp4a.40.2",
                        "filesize": clip.filesize,
                    },
                    {
                        "format_id": "137",
                        "url": f"{youtube.url}/media/video-only.mp4",
                        "ext": "mp4",
                        "height": 1080,
                        "vcodec": "avc1.640028",
                        "acodec": "none",
                    },
                    {
                        "format_id": "140",
                        "url": f"{youtube.url}/media/audio-only.m4a",
                        "ext": "m4a",
                        "vcodec": "none",
                        "acodec": "mp4a.40.2",
                    },
                    {
                        "format_id": "96",
                        "url": f"{youtube.url}/media/{video_id}.m3u8",
                        "ext": "mp4",
                        "protocol": "m3u8_native",
                        "height": 1080,
                        "vcodec": "avc1.640028",
                        "acodec": "mp4a.40.2",
                    },
                ],
            }

    return LoopbackIE


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    for seed, video_id in enumerate(PUBLIC, start=41):
        fake.clips[video_id] = Clip()
        fake.files[f"{video_id}.mp4"] = media.mp4_clip(seconds=1.0, seed=seed)
    server = await LiveServer(fake.app()).start()  # type: ignore[arg-type]
    fake.url = server.url
    yield fake
    await server.stop()


def reaching(settings: Settings, youtube: FakeYouTube, **changes: Any) -> Settings:
    """Settings whose safe client may reach the fake's port on loopback, and nothing else there."""
    update = {"ingest_allow_hosts": frozenset({f"127.0.0.1:{youtube.port}"}), "ingest_host_requests_per_second": 100.0}
    return settings.model_copy(update={**update, **changes})


def source_for(settings: Settings, youtube: FakeYouTube, **options: Any) -> YouTubeSource:
    return YouTubeSource(
        settings,
        api_base=f"{youtube.url}/youtube/v3",
        feed_base=f"{youtube.url}/feeds/videos.xml",
        watch_url=f"{youtube.url}/watch/{{id}}",
        extractors=[loopback_extractor(youtube)],
        **options,
    )


# --- discovery ---------------------------------------------------------------------------------------------------


async def test_the_data_api_is_paged_with_one_unit_calls_and_the_key_stays_in_a_header(
    settings: Settings, youtube: FakeYouTube
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    config = source.validate_config({"url": f"https://www.youtube.com/channel/{CHANNEL}", "apiKey": API_KEY})
    assert config == {"channelId": CHANNEL, "apiKey": API_KEY}
    state: dict[str, Any] = {"feed": "left over", "etag": '"x"'}
    items = await source.discover(config, state)
    assert items is not None and state == {}

    assert [item["external_id"] for item in items] == list(PUBLIC)  # newest first; the private one left out
    first = items[0]
    assert first == {
        "external_id": PUBLIC[0],
        "title": f"Video {PUBLIC[0]}",
        "description": f"About {PUBLIC[0]}.\nSecond line.",
        "url": f"{youtube.url}/watch/{PUBLIC[0]}",
        "published_at": "2026-11-28T15:59:00+00:00",
        "podcast": {"duration_seconds": 61, "image_url": f"https://i.ytimg.com/vi/{PUBLIC[0]}/maxresdefault.jpg"},
        "youtube": {"video_id": PUBLIC[0], "channel_id": CHANNEL},
    }
    assert items[2]["podcast"]["duration_seconds"] == 3723

    # channels.list once, then two pages of playlistItems.list and a videos.list per page: 5 units, no search
    paths = [path for path, _, _ in youtube.requests]
    assert paths == [
        "/youtube/v3/channels",
        "/youtube/v3/playlistItems",
        "/youtube/v3/videos",
        "/youtube/v3/playlistItems",
        "/youtube/v3/videos",
    ]
    assert not youtube.calls("/youtube/v3/search")
    [channels] = youtube.calls("/youtube/v3/channels")
    assert channels == {"part": ["contentDetails"], "id": [CHANNEL]}
    pages = youtube.calls("/youtube/v3/playlistItems")
    assert pages[0] == {"part": ["snippet,contentDetails"], "maxResults": ["50"], "playlistId": [UPLOADS]}
    assert pages[1]["pageToken"] == ["C2QAA"]
    assert youtube.calls("/youtube/v3/videos")[1] == {
        "part": ["contentDetails"],
        "id": [f"{PRIVATE},{PUBLIC[2]}"],
        "maxResults": ["50"],
    }
    for _, query, headers in youtube.requests:
        assert headers["x-goog-api-key"] == API_KEY
        assert API_KEY not in json.dumps(query)  # never in a URL: URLs end up in errors and logs

    # maxItems reads no further than it needs to; a playlist is read without channels.list
    youtube.requests.clear()
    newest = await source.discover({"playlistId": UPLOADS, "apiKey": API_KEY, "maxItems": 1}, {})
    assert [item["external_id"] for item in newest or []] == [PUBLIC[0]]
    assert [path for path, _, _ in youtube.requests] == ["/youtube/v3/playlistItems", "/youtube/v3/videos"]


async def test_the_data_api_refusing_the_key_or_not_knowing_the_channel_fails_with_a_reason(
    settings: Settings, youtube: FakeYouTube
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    with pytest.raises(YouTubeError, match="check that apiKey is a valid key") as refused:
        await source.discover({"channelId": CHANNEL, "apiKey": "AIzaSy-not-the-right-key-000"}, {})
    assert "AIzaSy-not-the-right-key-000" not in str(refused.value)
    with pytest.raises(YouTubeError, match="knows no channel UC0000000000000000000000"):
        await source.discover({"channelId": "UC0000000000000000000000", "apiKey": API_KEY}, {})
    with pytest.raises(YouTubeError, match="knows no playlist PLabcdefghijklmnop: check playlistId"):
        await source.discover({"playlistId": "PLabcdefghijklmnop", "apiKey": API_KEY}, {})


async def test_without_a_key_the_public_atom_feed_is_read_with_a_conditional_get(
    settings: Settings, youtube: FakeYouTube
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    state: dict[str, Any] = {}
    items = await source.discover({"channelId": CHANNEL}, state)
    assert items is not None
    assert [item["external_id"] for item in items] == list(PUBLIC)
    assert items[0] == {
        "external_id": PUBLIC[0],
        "title": f"Video {PUBLIC[0]} & friends",
        "description": f"About {PUBLIC[0]}.\nSecond line <b>not markup</b>",
        "url": f"{youtube.url}/watch/{PUBLIC[0]}",
        "published_at": "2026-11-28T16:00:06+00:00",
        "podcast": {"image_url": f"https://i3.ytimg.com/vi/{PUBLIC[0]}/hqdefault.jpg"},  # no duration in feeds
        "youtube": {"video_id": PUBLIC[0], "channel_id": CHANNEL},
    }
    [query] = youtube.calls("/feeds/videos.xml")
    assert query == {"channel_id": [CHANNEL]}
    assert state["feed"] == f"{youtube.url}/feeds/videos.xml?channel_id={CHANNEL}" and state["etag"]

    assert await source.discover({"channelId": CHANNEL}, state) is None  # 304: nothing changed
    assert youtube.not_modified == 1

    playlist = await source.discover({"playlistId": UPLOADS, "maxItems": 1}, {})
    assert [item["external_id"] for item in playlist or []] == [PUBLIC[0]]
    assert youtube.calls("/feeds/videos.xml")[-1] == {"playlist_id": [UPLOADS]}
    with pytest.raises(YouTubeError, match=r"no public feed .* \(HTTP 404\)"):
        await source.discover({"channelId": "UC0000000000000000000000"}, {})
    assert not any(path.startswith("/youtube/v3/") for path, _, _ in youtube.requests)


# --- media -------------------------------------------------------------------------------------------------------


async def test_fetch_downloads_the_progressive_format_through_the_safe_client(
    settings: Settings, youtube: FakeYouTube, tmp_path: Path
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    [item, *_] = await source.discover({"channelId": CHANNEL}, {}) or []
    path = await source.fetch(item, tmp_path)
    assert path == tmp_path / f"{PUBLIC[0]}.mp4"
    assert path.read_bytes() == youtube.files[f"{PUBLIC[0]}.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing else written: no .part, no .json
    [(_, _, headers)] = [r for r in youtube.requests if r[0].startswith("/media/")]
    assert headers["user-agent"] == "Mozilla/5.0 (test double)"  # the format's own headers are sent
    assert headers["accept-encoding"] == "identity"

    with pytest.raises(PermanentFailure, match="not a YouTube video id"):
        await source.fetch({"external_id": "../../etc/passwd"}, tmp_path)


async def test_fetch_refuses_addresses_the_safe_client_refuses(
    settings: Settings, youtube: FakeYouTube, tmp_path: Path
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    youtube.clips[PUBLIC[0]].url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    with pytest.raises(PermanentFailure, match=r"169\.254\.169\.254.*link-local"):
        await source.fetch({"external_id": PUBLIC[0]}, tmp_path)
    # loopback is allowed on the fake's port only: another port there is refused
    youtube.clips[PUBLIC[1]].url = f"http://127.0.0.1:{youtube.port + 1 if youtube.port < 65535 else 1}/x.mp4"
    with pytest.raises(PermanentFailure, match=r"refused to fetch http://127\.0\.0\.1"):
        await source.fetch({"external_id": PUBLIC[1]}, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_fetch_refuses_long_videos_live_streams_and_large_files_before_downloading(
    settings: Settings, youtube: FakeYouTube, tmp_path: Path
) -> None:
    source = source_for(reaching(settings, youtube), youtube)
    youtube.clips[PUBLIC[0]].duration = 4 * 3600 + 1
    with pytest.raises(PermanentFailure, match=r"is 4:00:01 long, over the limit of 4:00:00"):
        await source.fetch({"external_id": PUBLIC[0]}, tmp_path)
    # the editor's own, lower cap travels in the item
    youtube.clips[PUBLIC[1]].duration = 120
    [item] = [
        i
        for i in await source.discover({"channelId": CHANNEL, "maxDurationMinutes": 1}, {}) or []
        if i["external_id"] == PUBLIC[1]
    ]
    with pytest.raises(PermanentFailure, match=r"is 0:02:00 long, over the limit of 0:01:00"):
        await source.fetch(item, tmp_path)
    youtube.clips[PUBLIC[2]].live = True
    with pytest.raises(PermanentFailure, match="live stream"):
        await source.fetch({"external_id": PUBLIC[2]}, tmp_path)
    youtube.clips[PUBLIC[2]] = Clip(progressive=False)  # never merged (that would take ffmpeg): refused
    with pytest.raises(
        PermanentFailure, match="cannot be downloaded from YouTube: .*Requested format is not available"
    ):
        await source.fetch({"external_id": PUBLIC[2]}, tmp_path)

    small = source_for(reaching(settings, youtube, ingest_max_bytes=1000), youtube)
    youtube.clips[PUBLIC[2]] = Clip(filesize=5000)  # announced by YouTube: refused without a request
    with pytest.raises(PermanentFailure, match=r"too large: its file is 5000 bytes, over the limit of 1000"):
        await small.fetch({"external_id": PUBLIC[2]}, tmp_path)
    youtube.clips[PUBLIC[2]] = Clip()  # not announced: the safe client stops at the cap
    with pytest.raises(PermanentFailure, match=r"over the limit of 1000"):
        await small.fetch({"external_id": PUBLIC[2]}, tmp_path)
    media_hits = [path for path, _, _ in youtube.requests if path.startswith("/media/")]
    assert media_hits == [f"/media/{PUBLIC[2]}.mp4"]  # only the last one reached the server
    assert list(tmp_path.iterdir()) == []


def test_production_yt_dlp_has_the_youtube_extractor_only_and_nothing_that_runs_or_fetches(
    settings: Settings, tmp_path: Path
) -> None:
    import yt_dlp

    downloader = YouTubeSource(settings).downloader
    params = downloader._params(tmp_path, lambda info, *, incomplete=False: None, 1000)
    assert params["allowed_extractors"] == ["youtube"]
    assert params["postprocessors"] == [] and params["remote_components"] == []
    assert params["noplaylist"] and params["skip_download"] and params["check_formats"] is False
    assert params["cookiefile"] is None and params["cookiesfrombrowser"] is None
    assert Path(params["js_runtimes"]["deno"]["path"]).is_file()  # the deno wheel's binary
    with yt_dlp.YoutubeDL(params) as ydl:
        assert list(ydl._ies) == ["Youtube"]
        assert ydl._pps == {key: [] for key in ydl._pps}


# --- end to end ----------------------------------------------------------------------------------------------------


class LoopbackYouTube:
    """The youtube plugin as the worker gets it in this test: pointed at the fake."""

    def __init__(self, youtube: FakeYouTube) -> None:
        self.youtube = youtube

    @hookimpl
    def cms_ingest_sources(self, settings: Settings) -> dict[str, object]:
        return {"youtube": source_for(settings, self.youtube)}


async def test_a_channel_comes_in_through_graphql_and_the_worker(
    api: Api, settings: Settings, youtube: FakeYouTube
) -> None:
    kinds = (await api.data(operation("SourceKinds"), {}, role="editor"))["sourceKinds"]
    assert next(kind for kind in kinds if kind["kind"] == "youtube")["secretFields"] == ["apiKey"]
    program_id = (await api.data(operation("CreateProgram"), {"input": {"title": "Channel"}}, role="editor"))[
        "createProgram"
    ]["id"]

    def create(config: dict[str, Any]) -> dict[str, Any]:
        return {"input": {"kind": "youtube", "name": "The channel", "programId": program_id, "config": config}}

    both = (
        await api.data(operation("CreateSource"), create({"channelId": CHANNEL, "playlistId": UPLOADS}), role="editor")
    )["createSource"]
    assert both["__typename"] == "ValidationError", both
    assert both["fields"] == [
        {
            "path": ["input", "config"],  # no one field is at fault
            "message": "give only one of channelId, playlistId and url, not channelId and playlistId",
        }
    ]
    handle = (await api.data(operation("CreateSource"), create({"url": "https://www.youtube.com/@x"}), role="editor"))[
        "createSource"
    ]
    assert [f["path"] for f in handle["fields"]] == [["input", "config", "url"]], handle
    assert handle["fields"][0]["message"].startswith("a channel's @handle or custom address cannot be followed")

    created = (
        await api.data(operation("CreateSource"), create({"channelId": CHANNEL, "apiKey": API_KEY}), role="editor")
    )["createSource"]
    assert created["__typename"] == "Source", created
    assert (created["config"], created["secretsSet"]) == ({"channelId": CHANNEL}, ["apiKey"])  # the key: write-only

    asked = (await api.data(operation("RunSource"), {"id": created["id"]}, role="editor"))["runSource"]
    assert asked["__typename"] == "Source", asked
    host = PluginHost(entry_points=False)
    host.register(LoopbackYouTube(youtube), "youtube")
    await drain(settings.model_copy(update={"ingest_allow_hosts": frozenset({"127.0.0.1"})}), plugins=host)

    run = (await api.data(operation("Source"), {"id": created["id"], "runs": 10}, role="editor"))["source"]["lastRun"]
    assert (run["status"], run["found"], run["created"], run["failed"]) == ("SUCCEEDED", 3, 3, 0), run
    assert not youtube.calls("/youtube/v3/search")
    pk = int(from_global_id(created["id"])[1])
    episodes = {e.external_id: e for e in await Episode.filter(source=f"source:{pk}")}
    assert sorted(episodes) == sorted(PUBLIC)
    for video_id, episode in episodes.items():
        assert episode.status == PublishStatus.DRAFT and episode.title == f"Video {video_id}"
        assert episode.metadata["ingest"]["url"] == f"{youtube.url}/watch/{video_id}"
        [asset] = await Asset.filter(episode_id=episode.id)
        assert (asset.status, asset.kind.value) == (AssetStatus.READY, "VIDEO"), asset.failure_reason
    assert episodes[PUBLIC[0]].metadata["ingest"]["podcast"]["duration_seconds"] == 61
    assert sorted(path for path, _, _ in youtube.requests if path.startswith("/media/")) == sorted(
        f"/media/{video_id}.mp4" for video_id in PUBLIC
    )
