"""Fetched feed bytes (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, Apple Podcasts and Podcasting 2.0 tags) into plain, safe items.

The fetch is not done here: a separate HTTP client hands us the body. What happens to it, in this order:

1. **XML safety first.** expat parses the bytes through defusedxml before anything else sees them: any
   ``<!ENTITY>`` declaration is refused (billion laughs and quadratic blow-up need one, and so does an external
   entity such as ``file:///etc/passwd``), external references are refused, and so is a DOCTYPE that names an
   external DTD (defusedxml lets those through when nothing refers to them; we refuse them by hand, except the
   well-known Netscape RSS 0.91 one). Bytes that are not well-formed XML, an HTML page, or XML whose root is not a
   feed are refused too. Every refusal is a :class:`FeedError` whose message tells an editor what is wrong.
   Declared encodings expat cannot read (Shift_JIS, GBK, Big5...) are transcoded to UTF-8 first, and it is the
   transcoded bytes that are checked and then parsed.
2. **Only then feedparser**, on exactly the checked bytes, wrapped in a ``BytesIO``: ``feedparser.parse`` fetches a
   ``str`` that looks like a URL and opens ``bytes`` that name an existing file, so a stream is the one input it
   only reads. Its own HTML sanitiser and relative-URI rewriting are off: we do both below, one way, for all fields.
3. **Our own output rules.** Descriptions are sanitised by nh3 to a small allowlist (p, br, a[href], strong, em,
   ul, ol, li, blockquote, code, pre); links get ``rel="noopener noreferrer nofollow"`` and only http, https and
   mailto hrefs survive. Every URL is resolved against the feed URL and kept only if it is http or https. Titles
   are plain text. Namespaced tags feedparser loses or mangles (several ``podcast:transcript``, ``itunes:explicit``
   as "true"/"false", the channel's ``itunes:image``) are read from the checked XML tree instead.

At most :data:`MAX_ITEMS` items are returned: the first ones in document order (feeds list the newest first).
The size of ``content`` is the fetcher's business: cap it there.
"""

from __future__ import annotations

import calendar
import codecs
import dataclasses
import hashlib
import html
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import defusedxml.ElementTree as defused_et  # type: ignore[import-untyped]
import feedparser  # type: ignore[import-untyped]
import nh3
from defusedxml.common import (  # type: ignore[import-untyped]
    DefusedXmlException,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

__all__ = ["MAX_ITEMS", "Feed", "FeedError", "FeedItem", "Transcript", "parse_duration", "parse_feed", "sanitize_html"]

MAX_ITEMS = 5_000  # items kept per feed, the first in document order; the rest are dropped
MAX_TITLE = 300  # characters of an item's (or the feed's) plain-text title
MAX_EXTERNAL_ID = 255  # longer GUIDs are replaced by "sha256:" + their hash
UNTITLED = "Untitled"

_INT_MAX = 2**31 - 1  # episode and season numbers beyond this are junk, not numbers a column can hold
_BIGINT_MAX = 2**63 - 1  # enclosure lengths in bytes

ALLOWED_TAGS = frozenset({"p", "br", "a", "strong", "em", "ul", "ol", "li", "blockquote", "code", "pre"})
LINK_REL = "noopener noreferrer nofollow"
_URL_SCHEMES = frozenset({"http", "https"})
_HREF_SCHEMES = frozenset({"http", "https", "mailto"})

# Namespaces, compared lower-cased: publishers vary the case (Apple's own docs once spelled it "DTDs/Podcast").
_ATOM = "http://www.w3.org/2005/atom"
_ATOM03 = "http://purl.org/atom/ns#"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RSS1 = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
_ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
_PODCAST = frozenset(
    {
        "https://podcastindex.org/namespace/1.0",
        "http://podcastindex.org/namespace/1.0",
        "https://github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
    }
)
# RSS 0.91 feeds carry a DOCTYPE naming this DTD; nothing here ever fetches a DTD, so it alone is let through.
_NETSCAPE_RSS091_DTD = "http://my.netscape.com/publish/formats/rss-0.91.dtd"

# The legacy multi-byte (CJK) charsets expat cannot read, as codecs.lookup names them: feeds declaring one are
# transcoded to UTF-8 first (and the result checked). An allowlist: other codecs Python knows are no charset a feed
# should use ("base64", "utf-7") or decode in quadratic time ("punycode"). Single-byte charsets expat reads itself.
_TRANSCODED = frozenset(
    {
        "shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004", "euc_jisx0213",
        "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_ext",
        "gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950", "euc_kr", "cp949", "johab", "iso2022_kr",
    }
)  # fmt: skip
_ENCODING_DECL = re.compile(rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")

# Enclosures typed "application/octet-stream" (or not at all) are common; the file name then says what it is.
_MEDIA_EXTENSIONS = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_EPISODE_TYPES = frozenset({"full", "trailer", "bonus"})
_EXPLICIT = {"yes": True, "true": True, "explicit": True, "no": False, "false": False, "clean": False}


class FeedError(Exception):
    """The bytes are refused as a feed; ``reason`` says why, in words an editor can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Transcript:
    """A Podcasting 2.0 ``podcast:transcript``: where it is and in which format (``text/vtt``, ``application/x-subrip``...)."""

    url: str
    type: str | None
    language: str | None = None
    rel: str | None = None  # "captions" when the file is meant as closed captions


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item (RSS) or entry (Atom), flattened. URLs are absolute http(s) or None.

    ``external_id`` is the GUID (RSS ``guid``, Atom ``id``); without one, the media URL, then the link, then
    ``"sha256:" + sha256(title + "\\n" + published_at)``. Each is stable across fetches of an unchanged
    item; only the last one can collide (two items with one title and date, or neither). An id longer than
    :data:`MAX_EXTERNAL_ID` characters becomes ``"sha256:" + sha256(id)``. Ids are not made unique within a feed:
    publishers do repeat GUIDs.
    """

    external_id: str
    title: str
    description_html: str
    description_text: str
    published_at: datetime | None  # pubDate / published; else the updated date when that is the only one
    updated_at: datetime | None  # Atom updated, RSS 1.0 dc:date (None when the feed gives none)
    link: str | None
    media_url: str | None  # the largest audio/* or video/* enclosure (or media:content)
    media_type: str | None
    media_length: int | None  # bytes, as the feed declares them
    image_url: str | None  # itunes:image, else media:thumbnail
    duration_seconds: int | None
    episode: int | None
    season: int | None
    explicit: bool | None  # the item's itunes:explicit, else the channel's
    episode_type: str | None  # "full", "trailer" or "bonus"
    chapters_url: str | None
    transcript_urls: tuple[Transcript, ...]

    def fingerprint(self) -> str:
        """sha256 (hex) over every field: equal for an unchanged upstream item, different once anything changed."""
        canonical = json.dumps(
            dataclasses.asdict(self), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Feed:
    """The channel (RSS) or feed (Atom) and its items, at most :data:`MAX_ITEMS` of them, in document order."""

    title: str
    link: str | None
    image_url: str | None  # the channel's itunes:image, else its RSS image or Atom logo
    items: tuple[FeedItem, ...]


def parse_feed(content: bytes, *, url: str) -> Feed:
    """Parse fetched feed bytes; ``url`` is where they came from (relative URLs resolve against it).

    Raises :class:`FeedError` when the bytes are refused (see the module docstring). The first :data:`MAX_ITEMS`
    items are kept. Nothing is fetched.
    """
    if not isinstance(content, bytes):  # never a str: feedparser would fetch one that looks like a URL
        raise TypeError(f"parse_feed takes the fetched bytes, not {type(content).__name__}")
    checked = _expat_readable(content)
    root = _safe_xml(checked)
    channel, xml_items = _feed_elements(root)

    # Only the checked bytes, and as a stream: feedparser opens bytes naming an existing file, fetches URL strings.
    parsed = feedparser.parse(io.BytesIO(checked), sanitize_html=False, resolve_relative_uris=False)
    result = cast(dict[str, Any], parsed)
    entries = cast(list[dict[str, Any]], dict.get(result, "entries") or [])
    if not entries and dict.get(result, "bozo"):
        raise FeedError(f"the feed could not be read: {dict.get(result, 'bozo_exception')}")
    feed = cast(dict[str, Any], dict.get(result, "feed") or {})

    channel_explicit = _explicit(channel)
    extras = _match_extras(entries, [_item_extras(element) for element in xml_items])
    items = tuple(
        _item(entry, extra, channel_explicit=channel_explicit, base=url)
        for entry, extra in zip(entries[:MAX_ITEMS], extras)
    )
    return Feed(
        title=_plain_title(_get(feed, "title_detail"), _get(feed, "title")),
        link=_alternate_link(feed, url),
        image_url=_feed_image(channel, feed, url),
        items=items,
    )


# --- 1. XML safety ------------------------------------------------------------------------------------------------


class _ExternalDtd(Exception):
    def __init__(self, system_id: str | None, public_id: str | None) -> None:
        super().__init__(system_id or public_id)
        self.where = system_id or public_id or ""


def _refuse_external_dtd(name: str, system_id: str | None, public_id: str | None, has_internal_subset: int) -> None:
    # An internal subset alone is harmless here (its entities are refused one by one); an external one is a fetch
    # waiting for a parser that does it, and no feed needs one.
    if system_id is not None and system_id != _NETSCAPE_RSS091_DTD:
        raise _ExternalDtd(system_id, public_id)


def _expat_readable(content: bytes) -> bytes:
    """The same document in an encoding expat reads: legacy multi-byte (CJK) charsets are transcoded to UTF-8."""
    declared = _ENCODING_DECL.match(content[:512])
    if declared is None:
        return content  # UTF-8 or UTF-16 (BOM), which expat reads
    name = declared.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name)
    except LookupError:
        return content  # expat refuses it below, naming the encoding
    if codec.name not in _TRANSCODED:
        return content  # expat reads it, or refuses it below
    try:
        text = content.decode(codec.name)
    except UnicodeDecodeError as error:
        raise FeedError(
            f"the feed says it is encoded as {name}, but its bytes are not valid {name} ({error})"
        ) from None
    start, end = declared.span(1)
    # the declaration is ASCII in every encoding that reaches this point, so its offsets carry over to the text
    head = len(content[:start].decode(codec.name))
    tail = len(content[:end].decode(codec.name))
    return (text[:head] + "utf-8" + text[tail:]).lstrip("\ufeff").encode("utf-8")


def _safe_xml(content: bytes) -> ET.Element:
    """The checked document's root, or FeedError. Entities, external references and external DTDs are refused."""
    if not content.strip():
        raise FeedError("the feed is empty: the server sent no content")
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise FeedError(
            "the URL returned an HTML page, not a feed: use the feed's own address (pages usually link it as RSS or Atom)"
        )
    # defusedxml.ElementTree.fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True), plus
    # a DOCTYPE handler: fromstring lets a DOCTYPE naming an external DTD through, and there is no hook for it.
    parser = defused_et.DefusedXMLParser(
        target=ET.TreeBuilder(), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    parser.parser.StartDoctypeDeclHandler = _refuse_external_dtd
    try:
        parser.feed(content)
        return cast(ET.Element, parser.close())
    except EntitiesForbidden as error:
        raise FeedError(_entity_reason(error.name, error.sysid)) from None
    except ExternalReferenceForbidden as error:
        raise FeedError(f"the feed refers to an external resource ({_short(error.sysid)}), which is refused") from None
    except _ExternalDtd as error:
        raise FeedError(
            f"the feed's DOCTYPE points at an external DTD ({_short(error.where)}), which is refused: "
            "a feed needs no DTD, ask the publisher to remove the <!DOCTYPE> line"
        ) from None
    except DefusedXmlException as error:
        raise FeedError(f"the feed uses an XML feature that is refused ({error})") from None
    except ET.ParseError as error:
        raise FeedError(
            f"the feed is not well-formed XML ({error}): ask the publisher to fix it, or check the URL is the feed"
        ) from None
    except (LookupError, ValueError) as error:  # pyexpat: an encoding it does not know, or a multi-byte one
        raise FeedError(f"the feed's declared encoding cannot be read ({error})") from None


def _entity_reason(name: str, system_id: str | None) -> str:
    if system_id:
        return (
            f"the feed declares an external XML entity ({name!r} -> {_short(system_id)}), which is refused: "
            "it would read a file or another URL into the feed"
        )
    return (
        f"the feed declares XML entities ({name!r}), which are refused: entity expansion can exhaust memory "
        "(a 'billion laughs' document); ask the publisher to remove the <!ENTITY> declarations"
    )


def _short(value: object, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --- 2. The checked XML tree: what feedparser loses ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Extras:
    guid: str | None = None
    explicit: bool | None = None
    chapters_url: str | None = None
    transcripts: tuple[tuple[str, str | None, str | None, str | None], ...] = ()


def _split(tag: object) -> tuple[str, str]:
    """(namespace lower-cased, local name); comments and processing instructions have no str tag."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace.lower(), local
    return "", tag


def _children(element: ET.Element | None, namespaces: Iterable[str], local: str) -> list[ET.Element]:
    if element is None:
        return []
    wanted = frozenset(namespaces)
    found = []
    for child in element:
        namespace, name = _split(child.tag)
        if name == local and namespace in wanted:
            found.append(child)
    return found


def _feed_elements(root: ET.Element) -> tuple[ET.Element | None, list[ET.Element]]:
    """The channel-level element and the item elements, or FeedError when the root is not a feed's."""
    namespace, local = _split(root.tag)
    if (namespace, local) == ("", "rss"):
        channel = root.find("channel")
        return channel, _children(channel, [""], "item")
    if local == "feed" and namespace in (_ATOM, _ATOM03):
        return root, _children(root, [namespace], "entry")
    if (namespace, local) == (_RDF, "RDF"):  # RSS 0.90 and 1.0: items are the channel's siblings
        channels = _children(root, _RSS1, "channel")
        return (channels[0] if channels else None), _children(root, _RSS1, "item")
    if local.lower() == "html":
        raise FeedError("the URL returned an HTML page, not a feed: use the feed's own address")
    raise FeedError(
        f"the document is XML but not a feed: its root element is <{_short(local, 60)}>, "
        "where RSS has <rss>, RSS 1.0 <rdf:RDF> and Atom <feed>"
    )


def _text(element: ET.Element | None) -> str | None:
    value = (element.text or "").strip() if element is not None else ""
    return value or None


def _explicit(element: ET.Element | None) -> bool | None:
    """itunes:explicit read here, not from feedparser: it turns Apple's current "true" and "false" into None."""
    tags = _children(element, [_ITUNES], "explicit")
    return _EXPLICIT.get((_text(tags[0]) or "").lower()) if tags else None


def _item_extras(element: ET.Element) -> _Extras:
    ids = _children(element, [""], "guid") + _children(element, [_ATOM, _ATOM03], "id")  # RSS guid, Atom id
    guid = _text(ids[0]) if ids else None
    if guid is None:  # RSS 1.0
        guid = (element.get(f"{{{_RDF}}}about") or "").strip() or None
    chapters = [c.get("url", "").strip() for c in _children(element, _PODCAST, "chapters")]
    transcripts = tuple(
        (t.get("url", "").strip(), t.get("type"), t.get("language"), t.get("rel"))
        for t in _children(element, _PODCAST, "transcript")
        if t.get("url", "").strip()
    )
    return _Extras(
        guid=guid,
        explicit=_explicit(element),
        chapters_url=next((c for c in chapters if c), None),
        transcripts=transcripts,
    )


def _match_extras(entries: Sequence[Mapping[str, Any]], extras: list[_Extras]) -> list[_Extras]:
    """One _Extras per feedparser entry: by position when both saw the same items (they parsed the same bytes),
    else by GUID (first wins), else none."""
    if len(entries) == len(extras):
        return extras
    by_guid: dict[str, _Extras] = {}
    for extra in extras:
        if extra.guid is not None:
            by_guid.setdefault(extra.guid, extra)
    return [by_guid.get(str(_get(entry, "id") or "").strip(), _Extras()) for entry in entries]


# --- 3. One item --------------------------------------------------------------------------------------------------


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    # dict.get, not FeedParserDict's: its get() maps keys ("updated_parsed" silently falls back to the published
    # date, with a DeprecationWarning; "description" to "summary" or "subtitle"...).
    return dict.get(cast(dict[str, Any], mapping), key)


def _item(entry: Mapping[str, Any], extra: _Extras, *, channel_explicit: bool | None, base: str) -> FeedItem:
    title = _plain_title(_get(entry, "title_detail"), _get(entry, "title"))
    description_html = _description(entry, base)
    updated_at = _utc(_get(entry, "updated_parsed"))
    # Atom entries often carry only <updated>, RSS 1.0 items only dc:date (feedparser files it as updated)
    published_at = _utc(_get(entry, "published_parsed")) or updated_at
    link = _alternate_link(entry, base)
    media_url, media_type, media_length = _media(entry, base)
    explicit = extra.explicit if extra.explicit is not None else channel_explicit
    episode_type = str(_get(entry, "itunes_episodetype") or "").strip().lower()
    transcripts = tuple(
        Transcript(url=absolute, type=_clean_attr(kind), language=_clean_attr(language), rel=_clean_attr(rel))
        for href, kind, language, rel in extra.transcripts
        if (absolute := _absolute_url(href, base)) is not None
    )
    return FeedItem(
        external_id=_external_id(entry, media_url, link, title, published_at),
        title=title,
        description_html=description_html,
        description_text=_html_to_text(description_html),
        published_at=published_at,
        updated_at=updated_at,
        link=link,
        media_url=media_url,
        media_type=media_type,
        media_length=media_length,
        image_url=_item_image(entry, base),
        duration_seconds=parse_duration(_get(entry, "itunes_duration")),
        episode=_bounded_int(_get(entry, "itunes_episode"), _INT_MAX),
        season=_bounded_int(_get(entry, "itunes_season"), _INT_MAX),
        explicit=explicit,
        episode_type=episode_type if episode_type in _EPISODE_TYPES else None,
        chapters_url=_absolute_url(extra.chapters_url, base),
        transcript_urls=transcripts,
    )


def _external_id(
    entry: Mapping[str, Any], media_url: str | None, link: str | None, title: str, when: datetime | None
) -> str:
    guid = str(_get(entry, "id") or "").strip()
    chosen = guid or media_url or link
    if not chosen:
        stamp = when.isoformat() if when is not None else ""
        return "sha256:" + hashlib.sha256(f"{title}\n{stamp}".encode()).hexdigest()
    if len(chosen) > MAX_EXTERNAL_ID:
        return "sha256:" + hashlib.sha256(chosen.encode()).hexdigest()
    return chosen


def _media(entry: Mapping[str, Any], base: str) -> tuple[str | None, str | None, int | None]:
    """The largest audio/video enclosure or media:content: (url, type, length). Unknown lengths count as 0; ties go
    to the first in document order."""
    candidates: list[tuple[Any, Any, Any]] = [
        (_get(link, "href"), _get(link, "type"), _get(link, "length"))
        for link in _dicts(_get(entry, "links"))
        if _get(link, "rel") == "enclosure"
    ]
    candidates += [
        (_get(media, "url"), _get(media, "type"), _get(media, "filesize") or _get(media, "fileSize"))
        for media in _dicts(_get(entry, "media_content"))
    ]
    best: tuple[str, str, int | None] | None = None
    for href, declared_type, declared_length in candidates:
        url = _absolute_url(href, base)
        kind = _media_type(declared_type, url)
        if url is None or kind is None:
            continue
        length = _bounded_int(declared_length, _BIGINT_MAX)
        if best is None or (length or 0) > (best[2] or 0):
            best = (url, kind, length)
    return best if best is not None else (None, None, None)


def _media_type(declared: Any, url: str | None) -> str | None:
    kind = str(declared or "").split(";", 1)[0].strip().lower()
    if kind.startswith(("audio/", "video/")):
        return kind
    if kind in _UNTYPED and url is not None:
        path = urlsplit(url).path.lower()
        dot = path.rfind(".")
        return _MEDIA_EXTENSIONS.get(path[dot:]) if dot >= 0 else None
    return None


def _item_image(entry: Mapping[str, Any], base: str) -> str | None:
    image = _get(entry, "image")  # feedparser's home for an item's itunes:image
    if isinstance(image, dict) and (url := _absolute_url(_get(image, "href"), base)):
        return url
    for thumbnail in _dicts(_get(entry, "media_thumbnail")):
        if url := _absolute_url(_get(thumbnail, "url"), base):
            return url
    return None


def _feed_image(channel: ET.Element | None, feed: Mapping[str, Any], base: str) -> str | None:
    # From the tree first: feedparser keeps one "image", whichever of itunes:image and <image> came last.
    for tag in _children(channel, [_ITUNES], "image"):
        if url := _absolute_url(tag.get("href") or tag.get("url"), base):
            return url
    image = _get(feed, "image")
    if isinstance(image, dict) and (url := _absolute_url(_get(image, "href"), base)):
        return url
    return _absolute_url(_get(feed, "logo"), base)


def _alternate_link(entry: Mapping[str, Any], base: str) -> str | None:
    """The rel=alternate link (HTML first). Not feedparser's ``link``: it copies an RSS permalink GUID or an Atom id
    there ("urn:uuid:..."), which would resolve into a bogus URL; that copy is used only when already absolute."""
    alternates = [link for link in _dicts(_get(entry, "links")) if _get(link, "rel") == "alternate"]
    alternates.sort(key=lambda link: _get(link, "type") != "text/html")  # stable: document order otherwise
    for link in alternates:
        if url := _absolute_url(_get(link, "href"), base):
            return url
    if _get(entry, "guidislink"):
        return _absolute_url(_get(entry, "link"), "")
    return None


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _clean_attr(value: str | None) -> str | None:
    return (value or "").strip() or None


# --- Values -------------------------------------------------------------------------------------------------------


def _absolute_url(href: Any, base: str) -> str | None:
    """``href`` resolved against ``base``, if the result is http(s) with a host; else None."""
    if not isinstance(href, str) or not href.strip():
        return None
    try:
        url = urljoin(base, href.strip()) if base else href.strip()
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 host)
        return None
    if parts.scheme.lower() not in _URL_SCHEMES or not parts.hostname:
        return None
    return url


def _utc(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) as an aware UTC datetime."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _bounded_int(value: Any, maximum: int) -> int | None:
    """A non-negative integer written as digits (``"12"``, ``" 12 "``), at most ``maximum``; else None."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= maximum else None


def parse_duration(value: Any) -> int | None:
    """itunes:duration in seconds: ``"SS"``, ``"MM:SS"`` or ``"HH:MM:SS"`` (``"3600"``, ``"59:59"``, ``"1:02:03"``).

    A fraction of a second is dropped (``"61.5"`` -> 61); the leading part may exceed 59 (``"90:00"``), later ones
    may not. Anything else -> None.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    parts = value.strip().split(":")
    if len(parts) > 3:
        return None
    *leading, seconds_text = parts
    whole, _, fraction = seconds_text.partition(".")
    if fraction and not (fraction.isascii() and fraction.isdigit()):
        return None
    numbers = [_bounded_int(part, _INT_MAX) for part in [*leading, whole]]
    if any(number is None for number in numbers):
        return None
    values = cast(list[int], numbers)
    if any(number > 59 for number in values[1:]):
        return None
    total = 0
    for number in values:
        total = total * 60 + number
    return total if total <= _INT_MAX else None


# --- Text and HTML ------------------------------------------------------------------------------------------------


def _is_html(detail: Any) -> bool:
    return isinstance(detail, dict) and "html" in str(_get(detail, "type") or "")


def _plain_title(detail: Any, fallback: Any) -> str:
    """A title as one line of plain text, at most MAX_TITLE characters; "Untitled" when there is none."""
    raw = _get(detail, "value") if isinstance(detail, dict) else fallback
    text = str(raw or "")
    # Tags are stripped even from titles feedparser calls plain text: RSS titles are often escaped HTML it does not
    # recognise as such ("&lt;script&gt;" is not HTML to it), and a title holding markup is a trap for any consumer
    # that forgets to escape. The cost: a title about "<div>" loses the word.
    if _is_html(detail) or nh3.is_html(text):
        text = html.unescape(nh3.clean(text, tags=set()))  # script/style go with their content
    text = " ".join(text.split())
    if len(text) > MAX_TITLE:
        text = text[: MAX_TITLE - 1].rstrip() + "\u2026"
    return text or UNTITLED


def _description(entry: Mapping[str, Any], base: str) -> str:
    """The richest description (content:encoded or Atom content, else description/summary), sanitised."""
    details = [*_dicts(_get(entry, "content")), _get(entry, "summary_detail")]
    detail = next((d for d in details if isinstance(d, dict) and str(_get(d, "value") or "").strip()), None)
    if detail is None:
        return ""
    value = str(_get(detail, "value"))
    if _is_html(detail) and not nh3.is_html(value):
        # feedparser calls every RSS description HTML; one without a single tag is plain text with line breaks
        value = _text_to_html(html.unescape(value))
    elif not _is_html(detail):
        value = _text_to_html(value)
    return sanitize_html(value, base=base)


def _text_to_html(text: str) -> str:
    """Plain text as HTML: blank lines separate paragraphs, single newlines are line breaks."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def sanitize_html(fragment: str, *, base: str = "") -> str:
    """``fragment`` reduced to :data:`ALLOWED_TAGS`; relative hrefs resolved against ``base`` (dropped without one).

    Scripts and styles go with their content, event handlers and every other attribute go, hrefs keep only http,
    https and mailto, and links get ``rel="noopener noreferrer nofollow"``.
    """
    relative: nh3.UrlRelative = ("rewrite_with_base", base) if _absolute_url(base, "") else "deny"
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        link_rel=LINK_REL,
        url_schemes=_HREF_SCHEMES,
        url_relative=relative,
    ).strip()


_BLOCKS = frozenset({"p", "br", "li", "ul", "ol", "blockquote", "pre"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_to_text(fragment: str) -> str:
    """Plain text of sanitised HTML: one line per block (paragraph, list item...), whitespace collapsed."""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
