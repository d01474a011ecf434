"""A channel's history through MTProto (telethon), for the posts from before the bot could see them.

Bots only receive posts made after they joined, and for at most 24 hours; a user session (`apiId`, `apiHash` and a
telethon StringSession in `session`) reads the history. With `backfill: true` each run reads the next
`BACKFILL_BATCH` messages, oldest first, from `state["backfill"]["after"]` on, until it reaches the present
(`done`); the posts become the same items as the Bot API's (same external ids), so live and backfilled posts never
come in twice. Their files are downloaded through telethon as well (the Bot API cannot fetch old messages).

MTProto is not HTTP: telethon connects to Telegram's own data centres (addresses from its built-in list and
Telegram's answers, never from an editor), so this is the one path that does not go through SafeClient.
Not exercised against Telegram by the test suite (it cannot reach it): the mapping from telethon's messages is.
telethon is imported on first use: it costs most of a second, and most processes never backfill.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from plugins.telegram.config import TelegramConfig
from plugins.telegram.posts import TEXT_MAX, Media, Post, is_document_we_take

BACKFILL_BATCH = 200  # messages per run: telethon reads 100 per request, and Telegram throttles history reads


class BackfillError(Exception):
    """The MTProto path failed; `permanent`: retrying cannot help (no session, no such message)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def post_from_mtproto(message: Any, *, username: str | None) -> Post | None:
    """The post of a telethon message (a channel post, not a service message), as the Bot API path makes it."""
    from telethon import utils  # type: ignore[import-untyped]
    from telethon.tl import types  # type: ignore[import-untyped]

    if not isinstance(message, types.Message) or message.date is None:
        return None
    date = int(message.date.timestamp())
    return Post(
        chat_id=utils.get_peer_id(message.peer_id),  # marked, as the Bot API: -100<channel id>
        username=username,
        message_id=message.id,
        date=date,
        text=(message.message or "")[:TEXT_MAX],
        media_group_id=str(message.grouped_id) if message.grouped_id else None,
        media=_media(message.media),
        seen=date,
        via="mtproto",
    )


def take_batch(posts: list[Post], *, full: bool, last_id: int) -> tuple[list[Post], int]:
    """(posts, the id to continue after): a full batch may end inside an album, so its last album is left for the
    next batch, unless it is the whole batch (then it comes in as far as it goes)."""
    if not full or not posts or posts[-1].media_group_id is None:
        return posts, last_id
    group, keep = posts[-1].media_group_id, len(posts)
    while keep > 0 and posts[keep - 1].media_group_id == group:
        keep -= 1
    if keep == 0:
        return posts, last_id
    return posts[:keep], posts[keep - 1].message_id


async def history(config: TelegramConfig, state: dict[str, Any]) -> list[Post]:
    """The next batch of the channel's history (nothing once `done`); moves `state["backfill"]` on."""
    progress = state.get("backfill") if isinstance(state.get("backfill"), dict) else {}
    assert isinstance(progress, dict)
    if progress.get("done"):
        return []
    after: int = progress["after"] if isinstance(progress.get("after"), int) else 0
    async with _client(config) as client:
        entity = await _entity(client, config)
        messages = [m async for m in client.iter_messages(entity, limit=BACKFILL_BATCH, min_id=after, reverse=True)]
    username = getattr(entity, "username", None)
    posts = [post for m in messages if (post := post_from_mtproto(m, username=username)) is not None]
    full = len(messages) >= BACKFILL_BATCH
    posts, last_id = take_batch(posts, full=full, last_id=messages[-1].id if messages else after)
    state["backfill"] = {"after": last_id, "done": not full}
    return posts


async def download(config: TelegramConfig, files: list[tuple[int, Path]], *, max_bytes: int) -> list[Path]:
    """Each (message id, destination) file, read again from the channel through MTProto."""
    paths = []
    async with _client(config) as client:
        entity = await _entity(client, config)
        for message_id, dest in files:
            message = await client.get_messages(entity, ids=message_id)
            if message is None or message.media is None:
                raise BackfillError(f"message {message_id} is gone from the channel, or has no file", permanent=True)
            size = message.file.size if message.file is not None else None
            if isinstance(size, int) and size > max_bytes:
                raise BackfillError(f"message {message_id}'s file is over CMS_INGEST_MAX_BYTES", permanent=True)
            saved = await client.download_media(message, file=str(dest))
            if saved is None:
                raise BackfillError(f"message {message_id}'s file could not be downloaded", permanent=False)
            paths.append(Path(saved))
    return paths


@contextlib.asynccontextmanager
async def _client(config: TelegramConfig) -> AsyncIterator[Any]:
    if config.api_id is None or config.api_hash is None or config.session is None:
        raise BackfillError("backfill needs apiId, apiHash and session", permanent=True)
    from telethon import TelegramClient
    from telethon.sessions import StringSession  # type: ignore[import-untyped]

    client = TelegramClient(StringSession(config.session), config.api_id, config.api_hash, receive_updates=False)
    try:
        await client.connect()
        if not await client.is_user_authorized():
            raise BackfillError("the MTProto session is not signed in: make a new one (README)", permanent=True)
        yield client
    except BackfillError:
        raise
    except Exception as exc:  # noqa: BLE001 - telethon's errors (flood waits, network) are worth another try
        raise BackfillError(f"MTProto: {type(exc).__name__}: {exc}", permanent=False) from None
    finally:
        await client.disconnect()


async def _entity(client: Any, config: TelegramConfig) -> Any:
    """The channel; a numeric id is known to a fresh session only after it has listed its dialogs."""
    try:
        return await client.get_entity(config.chat)
    except ValueError:
        await client.get_dialogs()
        return await client.get_entity(config.chat)


def _media(media: Any) -> Media | None:
    """The same kinds as the Bot API path: a photo (largest size), video, audio, voice note, or a PDF or image."""
    from telethon.tl import types

    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        return Media("photo", None, str(media.photo.id), _largest_photo(media.photo.sizes), "image/jpeg", None)
    if not isinstance(media, types.MessageMediaDocument) or not isinstance(media.document, types.Document):
        return None
    document = media.document
    attributes = document.attributes or []
    name = next((a.file_name for a in attributes if isinstance(a, types.DocumentAttributeFilename)), None)
    audio = next((a for a in attributes if isinstance(a, types.DocumentAttributeAudio)), None)
    video = next((a for a in attributes if isinstance(a, types.DocumentAttributeVideo)), None)
    if any(isinstance(a, (types.DocumentAttributeAnimated, types.DocumentAttributeSticker)) for a in attributes):
        kind = None  # GIFs and stickers: the Bot API path leaves them out too
    elif video is not None:
        kind = None if video.round_message else "video"  # round video notes are not brought in
    elif audio is not None:
        kind = "voice" if audio.voice else "audio"
    else:
        kind = "document" if is_document_we_take(document.mime_type, name) else None
    if kind is None:
        return None
    return Media(kind, None, str(document.id), document.size, document.mime_type, name)


def _largest_photo(sizes: list[Any]) -> int | None:
    """The byte size of a photo's largest rendition (progressive sizes list their steps; the last is whole)."""
    from telethon.tl import types

    best: tuple[int, int | None] = (-1, None)
    for size in sizes or []:
        if isinstance(size, types.PhotoSize):
            candidate = (size.w * size.h, size.size)
        elif isinstance(size, types.PhotoSizeProgressive) and size.sizes:
            candidate = (size.w * size.h, max(size.sizes))
        else:
            continue
        if candidate[0] > best[0]:
            best = candidate
    return best[1]
