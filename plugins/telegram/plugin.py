"""The `telegram` ingest source: a Telegram channel's posts as episodes (operator's guide: README.md beside this).

Config (plugins/telegram/config.py): `chatId`, `botToken` (write-only), optional `botApiUrl`, `mode` ("polling":
getUpdates on each run, the default; "webhook": Telegram pushes updates to `POST /ingest/telegram/<source id>`
with `webhookSecret`, write-only), and optional `backfill` with `apiId`, `apiHash` and `session` (MTProto).

A run takes the posts kept in `state["pending"]` (webhook arrivals, albums still settling) plus, when polling, one
page of new updates after `state["offset"]` (the offset is saved with the run, so Telegram forgets an update only
once a run has taken it), plus a batch of history when backfilling. Each post becomes an item, each album one
item with several files; `fetch` returns the list of files, downloaded through the safe client (getFile, then
`<botApiUrl>/file/bot<token>/<path>`). Nothing new: `discover` returns None, so no episode is reported gone.
"""

from __future__ import annotations

import mimetypes
import re
import time
from pathlib import Path
from typing import Any

from starlette.routing import Route

from cms.core.settings import Settings
from cms.ingest.http import SafeClient
from cms.plugins.hookspecs import hookimpl
from jobs.store.service import PermanentFailure
from plugins.telegram import backfill
from plugins.telegram.backfill import BackfillError
from plugins.telegram.botapi import PUBLIC_FILE_MAX, UPDATES_LIMIT, BotApi, BotApiError, install_log_redaction, too_big
from plugins.telegram.config import CONFIG_FIELDS, TelegramConfig, check_config, parse_config
from plugins.telegram.items import items_from_posts, latest_versions, settle
from plugins.telegram.posts import KINDS, Post, post_from_update
from plugins.telegram.webhook import webhook_routes

_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")
_PLAIN_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,150}")  # a label, never a path: no separators or controls
_DEFAULT_SUFFIX = {"photo": ".jpg", "video": ".mp4", "audio": ".mp3", "voice": ".ogg", "document": ".bin"}


class TelegramSource:
    kind = "telegram"
    label = "Telegram channel"
    config_fields = CONFIG_FIELDS  # botToken, webhookSecret, apiHash and session: write-only
    # discover() lists what is new since the last run, not the whole channel (Telegram offers no such list).
    incremental = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return check_config(config)

    async def discover(self, config: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]] | None:
        """New posts as items (albums as one), or None when there is nothing new."""
        checked = parse_config(config)
        kept = [post for data in state.get("pending") or [] if (post := Post.from_json(data)) is not None]
        fresh: list[Post] = []
        open_groups: frozenset[str] = frozenset()
        if checked.backfill:
            fresh += await backfill.history(checked, state)
        if checked.mode == "polling":
            polled, open_groups = await self._poll(checked, state)
            fresh += polled  # after the history: the Bot API's version of a post wins
        ready, held = settle(latest_versions([*kept, *fresh]), now=time.time(), open_groups=open_groups)
        state["pending"] = [post.to_json() for post in held]
        return items_from_posts(ready) or None

    async def fetch(self, item: dict[str, Any], dest: Path, config: dict[str, Any]) -> list[Path] | None:
        """The item's files (an album's in message order) in `dest`; None for a text-only post."""
        entries = _media_entries(item)
        if not entries:
            return None
        try:
            checked = parse_config(config)
        except ValueError as exc:
            raise PermanentFailure(f"the telegram source's config is not usable: {exc}") from None
        try:
            return await self._download(checked, entries, dest)
        except (BotApiError, BackfillError) as exc:
            if exc.permanent:
                raise PermanentFailure(str(exc)) from None
            raise

    async def _poll(self, config: TelegramConfig, state: dict[str, Any]) -> tuple[list[Post], frozenset[str]]:
        """One page of updates after the saved offset; a full page's last album may go on in the next page."""
        offset = state.get("offset") if isinstance(state.get("offset"), int) else None
        async with SafeClient.from_settings(self.settings) as client:
            updates = await BotApi(client, config).get_updates(offset)
        if updates:
            state["offset"] = max(update["update_id"] for update in updates) + 1
        posts = [post for update in updates if (post := post_from_update(update, config)) is not None]
        last_group = posts[-1].media_group_id if posts else None
        if len(updates) >= UPDATES_LIMIT and last_group is not None:
            return posts, frozenset({last_group})
        return posts, frozenset()

    async def _download(self, config: TelegramConfig, entries: list[dict[str, Any]], dest: Path) -> list[Path]:
        by_bot = [entry for entry in entries if entry["via"] == "bot"]
        if config.public_api:  # refuse the item before downloading any of its files
            for entry in by_bot:
                if isinstance(entry.get("size"), int) and entry["size"] > PUBLIC_FILE_MAX:
                    raise too_big(_what(entry), entry["size"])
        paths = []
        if by_bot:
            async with SafeClient.from_settings(self.settings) as client:
                api = BotApi(client, config)
                for entry in by_bot:
                    target = dest / _filename(entry)
                    limit = self.settings.ingest_max_bytes
                    paths.append(await api.download_file(entry["file_id"], target, max_bytes=limit, what=_what(entry)))
        by_mtproto = [(entry["message_id"], dest / _filename(entry)) for entry in entries if entry["via"] == "mtproto"]
        if by_mtproto:
            paths += await backfill.download(config, by_mtproto, max_bytes=self.settings.ingest_max_bytes)
        return paths


def _media_entries(item: dict[str, Any]) -> list[dict[str, Any]]:
    media = item.get("media")
    if media is None:
        return []
    if not isinstance(media, list) or not all(_is_entry(entry) for entry in media):
        raise PermanentFailure(f"item {item.get('external_id')!r} has media this source did not describe")
    return media


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("message_id"), int)
        and entry.get("kind") in KINDS
        and (entry.get("via") == "mtproto" or (entry.get("via") == "bot" and isinstance(entry.get("file_id"), str)))
    )


def _what(entry: dict[str, Any]) -> str:
    return f"message {entry['message_id']}'s {entry['kind']}"


def _filename(entry: dict[str, Any]) -> str:
    """`<message id>-<its file name>` (or `-<kind><suffix>` without a usable one): unique within an item and the same
    on every attempt (the item job skips the files an earlier attempt handed over by name). The intake decides the
    type from the bytes, not the suffix."""
    name = entry.get("file_name")
    if isinstance(name, str) and _PLAIN_NAME.fullmatch(name) and name not in (".", ".."):
        return f"{entry['message_id']}-{name}"
    suffix = Path(str(name or "")).suffix.lower()
    if not _SUFFIX.fullmatch(suffix):
        mime = entry.get("mime_type")
        guessed = mimetypes.guess_extension(mime) if isinstance(mime, str) else None
        suffix = guessed if guessed and _SUFFIX.fullmatch(guessed) else _DEFAULT_SUFFIX[entry["kind"]]
    return f"{entry['message_id']}-{entry['kind']}{suffix}"


@hookimpl
def cms_ingest_sources(settings: Settings) -> dict[str, object]:
    install_log_redaction()
    return {"telegram": TelegramSource(settings)}


@hookimpl
def cms_routes(settings: Settings) -> list[Route]:
    install_log_redaction()
    return webhook_routes(settings)
