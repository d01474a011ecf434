"""Ingest item keys and the announcement keys: pure functions. No I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jobs.announce import live_key, stamp
from jobs.ingest import external_id_of as _external_id
from jobs.ingest import item_key


def test_item_keys_fit_the_dedupe_column() -> None:
    assert item_key("rss", "guid-1") == "ingest:rss:guid-1"
    long_id = "x" * 300
    key = item_key("rss", long_id)
    assert len(key) <= 200 and key.startswith("ingest:rss:sha256:") and key == item_key("rss", long_id)
    assert key != item_key("rss", "y" * 300)


def test_external_ids_must_be_usable() -> None:
    assert _external_id({"external_id": "a"}) == "a"
    assert _external_id({"external_id": 42}) == "42"
    for item in ({}, {"external_id": ""}, {"external_id": " "}, {"external_id": True}, {"external_id": "x" * 301}, "a"):
        assert _external_id(item) is None


def test_live_keys_name_the_publication_in_utc_to_the_microsecond() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert stamp(at) == "2030-01-02T01:04:05.000000Z"
    assert live_key("episode", 7, at) == "live:episode:7:2030-01-02T01:04:05.000000Z"
    assert live_key("episode", 7, at) != live_key("episode", 7, at + timedelta(microseconds=1))
