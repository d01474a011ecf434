"""CMS_CORS_ORIGINS and the HTTP limits as an operator writes them (no I/O)."""

from __future__ import annotations

import pytest

from cms.core.settings import Settings
from cms.http.protocol import RESERVED_DESCRIPTORS, connection_cap


def test_origins_are_kept_as_browsers_send_them() -> None:
    settings = Settings(
        CMS_CORS_ORIGINS=" https://App.Example.com:443/, http://localhost:5173 ,http://[::1]:8080,"
        "https://app.example.com"
    )
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173", "http://[::1]:8080")
    assert Settings().cors_origins == ()


@pytest.mark.parametrize(
    "raw",
    [
        "*",
        "https://a.example/*",
        "https://a.example/path",
        "ftp://a.example",
        "null",
        "a.example",
        "https://a.example:99999",
        "https://user@a.example",
        "https://a.example?x=1",
    ],
)
def test_anything_but_an_exact_origin_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="CMS_CORS_ORIGINS"):
        Settings(CMS_CORS_ORIGINS=raw)


def test_hsts_only_for_an_https_public_url() -> None:
    assert Settings(PUBLIC_BASE_URL="https://cms.example").https
    assert not Settings(PUBLIC_BASE_URL="http://cms.example").https
    assert not Settings().https


@pytest.mark.parametrize(
    "name, value",
    [
        ("CMS_HTTP_HEADER_TIMEOUT", "0"),
        ("CMS_HTTP_BODY_TIMEOUT", "-1"),
        ("CMS_HTTP_MAX_HEADER_BYTES", "100"),
        ("CMS_HTTP_LIMIT_CONCURRENCY", "-1"),
        ("CMS_HTTP_MAX_CONNECTIONS", "0"),
    ],
)
def test_http_limits_must_make_sense(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings(**{name: value})


def test_connection_cap_leaves_descriptors_free() -> None:
    assert connection_cap(10_000, 20_000) == 10_000
    assert connection_cap(10_000, 1024) == 1024 - RESERVED_DESCRIPTORS
