"""The `rss` ingest source: RSS 2.0, Atom and podcast feeds, fetched with a conditional GET through the safe client.

Config: `url` (the feed, http or https), optional `maxItems` (the newest ones taken per run, 1 to 5,000). Each item
becomes an episode (title, description as text, publish date, the iTunes fields in its metadata) with its largest
audio or video enclosure as media; an item without one comes in as an episode without media.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cms.core.settings import Settings
from cms.ingest.http import SafeClient
from cms.plugins.hookspecs import ConfigError, ConfigField, ConfigFieldType, hookimpl
from plugins.rss.feed import FeedError, FeedItem, parse_feed

MAX_ITEMS = 5000
_FILENAME_MAX = 200


CONFIG_FIELDS = (
    ConfigField(
        "url",
        "Feed URL",
        ConfigFieldType.URL,
        required=True,
        help="The RSS, Atom or podcast feed's address, starting with http:// or https://.",
    ),
    ConfigField(
        "maxItems",
        "Most items per run",
        ConfigFieldType.INTEGER,
        help=f"The newest items taken on each run, 1 to {MAX_ITEMS:,}; empty: all of them (up to {MAX_ITEMS:,}).",
        min=1,
        max=MAX_ITEMS,
    ),
)


class RssSource:
    kind = "rss"
    label = "RSS / Atom / podcast feed"
    config_fields = CONFIG_FIELDS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        url = config.get("url")
        if (
            not isinstance(url, str)
            or urlsplit(url.strip()).scheme not in ("http", "https")
            or not urlsplit(url).hostname
        ):
            raise ConfigError("the feed's address, starting with http:// or https://", field="url")
        unknown = sorted(set(config) - {"url", "maxItems"})
        if unknown:
            raise ConfigError(f"unknown fields {unknown}: an rss source takes url and maxItems")
        checked: dict[str, Any] = {"url": url.strip()}
        limit = config.get("maxItems")
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ITEMS:
                raise ConfigError(f"a whole number from 1 to {MAX_ITEMS}", field="maxItems")
            checked["maxItems"] = limit
        return checked

    async def discover(self, config: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The feed's items; None when the server says it has not changed since the last run (ETag, Last-Modified)."""
        url = self.validate_config(config)["url"]
        headers = {}
        if state.get("url") == url:  # validators belong to the address they came from
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
        async with SafeClient.from_settings(self.settings) as client:
            fetched = await client.get_document(url, headers=headers)
        if fetched.status == 304:
            return None
        try:
            feed = parse_feed(fetched.content, url=fetched.url)
        except FeedError as exc:
            raise ValueError(f"the feed at {url} cannot be read: {exc}") from None
        state.clear()
        state.update(url=url, etag=fetched.headers.get("etag"), last_modified=fetched.headers.get("last-modified"))
        items = feed.items[: config.get("maxItems", MAX_ITEMS)]
        return [_item(item) for item in items]

    async def fetch(self, item: dict[str, Any], dest: Path) -> Path | None:
        media_url = item.get("media_url")
        if not isinstance(media_url, str):
            return None
        name = _filename(media_url, item.get("media_type"))
        async with SafeClient.from_settings(self.settings) as client:
            downloaded = await client.download(media_url, dest / name)  # CMS_INGEST_MAX_BYTES at most
        return downloaded.path


def _item(item: FeedItem) -> dict[str, Any]:
    """What the ingest item job and the episode keep (JSON values only)."""
    podcast = {
        "duration_seconds": item.duration_seconds,
        "episode": item.episode,
        "season": item.season,
        "explicit": item.explicit,
        "episode_type": item.episode_type,
        "image_url": item.image_url,
        "chapters_url": item.chapters_url,
        "transcripts": [{"url": t.url, "type": t.type, "language": t.language} for t in item.transcript_urls],
    }
    return {
        "external_id": item.external_id,
        "title": item.title,
        "description": item.description_text,
        "url": item.link,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "media_url": item.media_url,
        "media_type": item.media_type,
        "media_length": item.media_length,
        "podcast": {key: value for key, value in podcast.items() if value not in (None, [])},
    }


def _filename(url: str, media_type: Any) -> str:
    """The enclosure's own file name, or one made from its type: the intake sniffs the bytes either way."""
    name = Path(urlsplit(url).path).name
    if not name or len(name) > _FILENAME_MAX or name.startswith("."):
        extension = mimetypes.guess_extension(media_type) if isinstance(media_type, str) else None
        name = f"media{extension or '.bin'}"
    return name


@hookimpl
def cms_ingest_sources(settings: Settings) -> dict[str, object]:
    return {"rss": RssSource(settings)}
