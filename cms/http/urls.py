"""The base URL clients reach this server at."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cms.core.settings import Settings


def public_base_url(settings: Settings, conn: HTTPConnection) -> str:
    return settings.public_base_url or str(conn.base_url).rstrip("/")
