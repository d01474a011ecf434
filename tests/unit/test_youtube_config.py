"""The youtube source without I/O: its config (ids, the addresses editors paste, the write-only key), the Atom
parser's refusals, and the small parsers discovery uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cms.core.settings import Settings
from cms.ingest.registry import secret_fields
from plugins.youtube.atom import parse_feed
from plugins.youtube.config import check_config
from plugins.youtube.plugin import YouTubeSource
from plugins.youtube.videos import YouTubeError, parse_datetime, parse_duration

CHANNEL = "UCuAXFkgsw1L7xaCfnd5JJOw"
PLAYLIST = "PLBCF2DAC6FFB574DE"
KEY = "AIzaSyD-test-key-0123456789abcdefghijk"


def check(config: dict[str, Any]) -> dict[str, Any]:
    return check_config(config, max_duration_minutes=240)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({"channelId": CHANNEL}, {"channelId": CHANNEL}),
        ({"playlistId": f" {PLAYLIST} "}, {"playlistId": PLAYLIST}),
        ({"url": f"https://www.youtube.com/channel/{CHANNEL}"}, {"channelId": CHANNEL}),
        ({"url": f"https://youtube.com/channel/{CHANNEL}/videos"}, {"channelId": CHANNEL}),
        ({"url": f"https://m.youtube.com/playlist?list={PLAYLIST}"}, {"playlistId": PLAYLIST}),
        ({"url": f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list={PLAYLIST}&index=2"}, {"playlistId": PLAYLIST}),
        ({"url": f"https://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL}"}, {"channelId": CHANNEL}),
        (
            {"channelId": CHANNEL, "maxItems": 10, "maxDurationMinutes": 90, "apiKey": f" {KEY}"},
            {"channelId": CHANNEL, "maxItems": 10, "maxDurationMinutes": 90, "apiKey": KEY},
        ),
    ],
)
def test_ids_and_addresses_are_stored_as_ids_and_check_again_unchanged(
    given: dict[str, Any], stored: dict[str, Any]
) -> None:
    assert check(given) == stored
    assert check(stored) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "give channelId (the channel's id, UC followed by 22 characters), playlistId (PL...) or url"),
        ({"maxItems": 5}, "give channelId"),
        ({"channelId": CHANNEL, "playlistId": PLAYLIST}, "give only one of channelId, playlistId and url"),
        ({"url": f"https://www.youtube.com/channel/{CHANNEL}", "channelId": CHANNEL}, "not channelId and url"),
        ({"channelId": "UCshort"}, "channelId: a channel id is UC followed by 22"),
        ({"channelId": 42}, "channelId: a string"),
        ({"playlistId": "RDdQw4w9WgXcQ"}, "mixes (RD...), Watch later and Liked videos cannot be followed"),
        ({"url": "https://vimeo.com/channels/staffpicks"}, "url: the address of a YouTube channel"),
        ({"url": f"file:///channel/{CHANNEL}"}, "url: the address of a YouTube channel"),
        ({"url": f"https://www.youtube.com.evil.example/channel/{CHANNEL}"}, "url: the address of a YouTube"),
        ({"url": "https://www.youtube.com/@SomeChannel"}, "'Copy channel ID', and give that as channelId"),
        ({"url": "https://www.youtube.com/c/SomeChannel"}, "cannot be followed as it is"),
        ({"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}, "this is one video's address"),
        ({"url": "https://www.youtube.com/playlist?list=WL"}, "url: a playlist id"),  # the field it was given in
        ({"url": "https://www.youtube.com/channel/UCshort"}, "url: a channel id is UC followed by 22"),
        ({"channelId": CHANNEL, "maxItems": 0}, "maxItems: a whole number from 1 to 5000"),
        ({"channelId": CHANNEL, "maxItems": True}, "maxItems: a whole number"),
        ({"channelId": CHANNEL, "maxDurationMinutes": 241}, "maxDurationMinutes: a whole number from 1 to 240"),
        ({"channelId": CHANNEL, "feed": "x"}, "unknown fields ['feed']"),
    ],
)
def test_configs_are_refused_with_a_message_an_editor_can_act_on(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        check(given)
    assert message in str(refused.value)


def test_the_api_key_is_write_only_and_never_echoed(tmp_path: Path) -> None:
    source = YouTubeSource(Settings(CMS_DATA_DIR=tmp_path))
    assert (source.kind, secret_fields(source)) == ("youtube", {"apiKey"})
    bad = "AIzaSy<script>alert(1)</script>000000000"
    with pytest.raises(ValueError, match="apiKey: a YouTube Data API v3 key") as refused:
        source.validate_config({"channelId": CHANNEL, "apiKey": bad})
    assert bad not in str(refused.value)
    assert source.validate_config({"channelId": CHANNEL, "maxDurationMinutes": 240})["maxDurationMinutes"] == 240


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&b;</title></feed>',
            "refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE feed SYSTEM "file:///etc/passwd">'
            b'<feed xmlns="http://www.w3.org/2005/Atom"/>',
            "refused",
        ),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "a web page instead of the feed"),
        (b"\n<HTML><body>Consent</body></HTML>", "a web page instead of the feed"),
        (b'<rss version="2.0"><channel/></rss>', "not an Atom feed"),
        (b"{}", "not well-formed XML"),
    ],
)
def test_the_atom_parser_refuses_xml_attacks_and_other_documents(document: bytes, reason: str) -> None:
    with pytest.raises(YouTubeError, match=reason):
        parse_feed(document)


def test_the_atom_parser_skips_entries_without_a_valid_video_id() -> None:
    document = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
 <entry><yt:videoId>../../x</yt:videoId><title>Bad</title></entry>
 <entry><yt:videoId>dQw4w9WgXcQ</yt:videoId><title> Good </title><published>2026-11-30T10:00:00Z</published></entry>
</feed>"""
    [video] = parse_feed(document)
    assert (video.video_id, video.title, video.published_at) == (
        "dQw4w9WgXcQ",
        "Good",
        datetime(2026, 11, 30, 10, tzinfo=UTC),
    )
    assert (video.description, video.thumbnail_url, video.duration_seconds) == ("", None, None)


def test_durations_and_dates_as_the_data_api_writes_them() -> None:
    assert parse_duration("PT1H2M3S") == 3723
    assert parse_duration("PT45S") == 45
    assert parse_duration("P1DT2H") == 93600
    assert parse_duration("P0D") is None  # live or upcoming
    assert parse_duration("1:02:03") is None and parse_duration(None) is None
    assert parse_datetime("2026-11-28T16:00:06Z") == datetime(2026, 11, 28, 16, 0, 6, tzinfo=UTC)
    assert parse_datetime("not a date") is None and parse_datetime(12) is None
