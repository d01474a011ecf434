"""A loopback stand-in for the outside world's feed servers: documents and media files at paths a test sets and
changes, with ETag conditional GETs, redirects and a count of every request."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from tests.support.loopback import serving


@dataclass
class Served:
    body: bytes
    content_type: str
    status: int = 200
    location: str | None = None  # a redirect's target


class FeedServer:
    def __init__(self) -> None:
        self.paths: dict[str, Served] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.ignore_validators = False  # answer conditional GETs in full, as some servers do
        self.url = ""

    def serve(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        self.paths[path] = Served(body, content_type)
        return self.url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.paths[path] = Served(b"", "text/plain", status=status, location=location)
        return self.url + path

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        request = Request(scope, receive)
        path = request.url.path
        self.hits[path] += 1
        served = self.paths.get(path)
        if served is None:
            response = Response(b"not found", 404)
        elif served.location is not None:
            response = Response(b"", served.status, headers={"Location": served.location})
        else:
            etag = '"' + hashlib.sha256(served.body).hexdigest()[:16] + '"'
            if not self.ignore_validators and request.headers.get("if-none-match") == etag:
                self.not_modified[path] += 1
                response = Response(b"", 304, headers={"ETag": etag})
            else:
                headers = {"ETag": etag, "Last-Modified": formatdate(usegmt=True)}
                response = Response(served.body, served.status, media_type=served.content_type, headers=headers)
        await response(scope, receive, send)


@contextlib.asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    app = FeedServer()
    async with serving(app) as url:
        app.url = url
        yield app


def podcast_feed(title: str, items: list[dict[str, str]]) -> bytes:
    """An Apple Podcasts style RSS 2.0 feed; each item: guid, title, description, enclosure URL and type."""
    entries = []
    for item in items:
        enclosure = (
            f'<enclosure url="{escape(item["enclosure"])}" type="{item.get("type", "video/mp4")}" length="1000"/>'
            if item.get("enclosure")
            else ""
        )
        entries.append(
            f"""<item>
  <guid isPermaLink="false">{escape(item["guid"])}</guid>
  <title>{escape(item["title"])}</title>
  <description>{escape(item.get("description", ""))}</description>
  <pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate>
  <itunes:duration>00:01</itunes:duration>
  <itunes:episode>{item.get("episode", "1")}</itunes:episode>
  {enclosure}
</item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel>
  <title>{escape(title)}</title>
  <link>https://podcast.example/</link>
  <description>A test podcast</description>
  {"".join(entries)}
</channel>
</rss>""".encode()
