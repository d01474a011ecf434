"""The edge route as a plugin: serves previews under /edge/... and mints signed playback URLs for assets.

Stateless on purpose: one process may build several apps (tests do), each with its own settings and keys.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.routing import Route

from cms.core.settings import Settings
from cms.media.playback import ImageUrl, Playback
from cms.media.storage import open_storage_from_settings
from cms.plugins.hookspecs import hookimpl
from plugins.edge.route import edge_routes
from plugins.edge.signing import parse_keys, sign

DEV_KID = "dev"


@functools.lru_cache(maxsize=16)
def _dev_keys(data_dir: Path) -> dict[str, bytes]:
    """A generated key kept under the data dir, so links survive restarts of a one-machine setup."""
    path = data_dir / "edge" / "dev-key.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({DEV_KID: secrets.token_urlsafe(32)}))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # the first process to get here wins; the others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return {kid: secret.encode() for kid, secret in json.loads(path.read_text()).items()}


def keys_from(settings: Settings) -> tuple[dict[str, bytes], str]:
    """(all keys, the kid new URLs are signed with): EDGE_KEYS / EDGE_ACTIVE_KID, else the generated dev key."""
    if settings.edge_keys:
        keys = parse_keys(settings.edge_keys)
        active = settings.edge_active_kid or next(iter(keys))
        if active not in keys:
            raise ValueError("EDGE_ACTIVE_KID names no key in EDGE_KEYS")
        return keys, active
    return _dev_keys(settings.data_dir.resolve()), DEV_KID


@hookimpl
def cms_routes(settings: Settings) -> list[Route]:
    keys, _ = keys_from(settings)
    return edge_routes(storage=open_storage_from_settings(settings), keys=keys)


@hookimpl
def cms_playback_urls(
    asset: object, renditions: list[Any], principal: object, base_url: str, settings: Settings
) -> Playback | None:
    keys, active = keys_from(settings)
    expires = datetime.now(UTC) + timedelta(seconds=settings.edge_url_seconds)
    by_kind = {r.kind.value: r for r in renditions if r.key}

    def signed(key: str) -> str:
        scope = key.rsplit("/", 1)[0] + "/"  # the folder: relative URIs inside inherit the token
        return base_url + sign(keys, active, scope, key, expires)

    def url(kind: str) -> str | None:
        rendition = by_kind.get(kind)
        return None if rendition is None else signed(rendition.key)

    sizes = sorted((r for r in renditions if r.kind.value == "IMAGE" and r.key and r.width), key=lambda r: r.width)
    return Playback(
        hls_url=url("HLS_MASTER"),
        poster_url=url("POSTER"),
        storyboard_url=url("STORYBOARD"),
        expires_at=expires,
        images=tuple(ImageUrl(width=r.width, height=r.height, url=signed(r.key)) for r in sizes),
    )
