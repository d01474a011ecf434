"""The `youtube` ingest source: a channel's uploads or a playlist, each video an episode with its file as media.

Config (see plugins.youtube.config): `channelId` (UC...), `playlistId` (PL...) or the `url` of either; optional
`maxItems` (1 to 5,000, the newest taken per run), `maxDurationMinutes` (longer videos are refused; the source's
own cap, 4 hours, applies in any case) and `apiKey`, write-only. With a key, discovery reads the YouTube Data API
(every video of the channel or playlist, durations included, 1 quota unit per call); without one, the public Atom
feed (the 15 newest, with a conditional GET). Media: plugins.youtube.download.

Every request goes through cms.ingest.http.SafeClient (address checks, size and time caps); the API's and the
feed's base URLs and the watch URL are constructor parameters so tests can put loopback servers in YouTube's place.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cms.core.settings import Settings
from cms.ingest.http import SafeClient
from cms.plugins.hookspecs import ConfigField, hookimpl
from jobs.store.service import PermanentFailure
from plugins.youtube import api, atom
from plugins.youtube.config import DESCRIPTION, VIDEO_ID, Target, check_config, config_fields, target
from plugins.youtube.download import Downloader
from plugins.youtube.videos import WATCH_URL, Video, to_item

MAX_DURATION_SECONDS = 4 * 3600


class YouTubeSource:
    kind = "youtube"
    label = "YouTube channel or playlist"
    description = DESCRIPTION

    def __init__(
        self,
        settings: Settings,
        *,
        api_base: str = api.API_BASE,
        feed_base: str = atom.FEED_URL,
        watch_url: str = WATCH_URL,
        max_duration_seconds: int = MAX_DURATION_SECONDS,
        extractors: Sequence[type[Any]] | None = None,
    ) -> None:
        """`watch_url` holds `{id}`; `extractors` replace yt-dlp's YouTube extractor (tests only)."""
        self.settings = settings
        self.api_base, self.feed_base, self.watch_url = api_base, feed_base, watch_url
        self.max_duration_seconds = max_duration_seconds
        self.downloader = Downloader(
            settings, watch_url=watch_url, max_duration_seconds=max_duration_seconds, extractors=extractors
        )
        # Described for editors' forms (apiKey: write-only); the cap on maxDurationMinutes is this source's own.
        # At least a minute: the field counts minutes, and a cap under one would make its range empty.
        self.config_fields: tuple[ConfigField, ...] = config_fields(
            max_duration_minutes=max(1, max_duration_seconds // 60)
        )

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return check_config(config, max_duration_minutes=self.max_duration_seconds // 60)

    async def discover(self, config: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The videos, newest first; None when the feed has not changed since the last run (no key only)."""
        wanted = target(config, max_duration_minutes=self.max_duration_seconds // 60)
        if wanted.api_key is not None:
            videos = await self._from_api(wanted, wanted.api_key)
            state.clear()  # nothing to keep: the API is read in full each run
        else:
            url = atom.feed_url(self.feed_base, channel_id=wanted.channel_id, playlist_id=wanted.playlist_id)
            async with SafeClient.from_settings(self.settings) as client:
                found = await atom.feed_videos(client, url, state)
            if found is None:
                return None
            videos = found
        return [
            to_item(video, watch_url=self.watch_url, max_duration_seconds=wanted.max_duration_seconds)
            for video in videos[: wanted.max_items]
        ]

    async def fetch(self, item: dict[str, Any], dest: Path) -> Path:
        video_id = item.get("external_id")
        if not isinstance(video_id, str) or not VIDEO_ID.fullmatch(video_id):
            raise PermanentFailure(f"{str(video_id)[:50]!r} is not a YouTube video id")
        cap = item.get("max_duration_seconds")
        return await self.downloader.fetch(
            video_id, dest, max_duration_seconds=cap if isinstance(cap, int) and cap > 0 else None
        )

    async def _from_api(self, wanted: Target, api_key: str) -> list[Video]:
        async with self._api_client() as client:
            if wanted.playlist_id is not None:
                playlist_id = wanted.playlist_id
                missing = f"the YouTube Data API knows no playlist {playlist_id}: check playlistId"
            else:
                assert wanted.channel_id is not None  # a checked config names one or the other
                playlist_id = await api.uploads_playlist(
                    client, self.api_base, api_key=api_key, channel_id=wanted.channel_id
                )
                missing = f"channel {wanted.channel_id} has no uploads the YouTube Data API can list"
            return await api.playlist_videos(
                client, self.api_base, api_key=api_key, playlist_id=playlist_id, limit=wanted.max_items, missing=missing
            )

    def _api_client(self) -> SafeClient:
        """The safe client, following no redirects: the API key header must never reach another host."""
        s = self.settings
        return SafeClient(
            allow_hosts=s.ingest_allow_hosts,
            max_bytes=s.ingest_max_bytes,
            max_document_bytes=s.ingest_max_document_bytes,
            timeout=s.ingest_timeout_seconds,
            host_rps=s.ingest_host_requests_per_second,
            max_redirects=0,
        )


@hookimpl
def cms_ingest_sources(settings: Settings) -> dict[str, object]:
    return {"youtube": YouTubeSource(settings)}
