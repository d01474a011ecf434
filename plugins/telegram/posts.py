"""Channel posts, compact: what a run needs of a Bot API update (or an MTProto message), as JSON for `state`.

Updates are parsed with python-telegram-bot's types (`telegram.Update.de_json`), never fetched by it: HTTP goes
through the safe client. A post keeps its text, its one media file (Telegram sends each file of an album as a post
of its own, sharing a `media_group_id`) and when this CMS first saw it (`seen`, to let an album settle).
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from plugins.telegram.config import TelegramConfig

if TYPE_CHECKING:
    from telegram import Message

log = logging.getLogger("plugins.telegram")

KINDS = ("video", "audio", "voice", "photo", "document")
TEXT_MAX = 4096  # Telegram's own limit for a message's text; captions are shorter (1024, 4096 with Premium)


@dataclass(frozen=True)
class Media:
    kind: str  # one of KINDS
    file_id: str | None  # the Bot API's handle for getFile; None for a file read through MTProto
    file_unique_id: str | None
    size: int | None  # bytes, when Telegram says
    mime_type: str | None
    file_name: str | None


@dataclass(frozen=True)
class Post:
    chat_id: int
    username: str | None  # the channel's public username, for t.me links
    message_id: int
    date: int  # Unix time Telegram gave the post
    text: str  # caption, or the text of a text-only post
    media_group_id: str | None
    media: Media | None
    seen: float  # Unix time this CMS first saw it (webhook arrival), or `date` for polled and backfilled posts
    via: str = "bot"  # "bot" (Bot API file ids) or "mtproto" (read again through telethon to download)
    update_id: int | None = None
    edited: bool = False  # an edited_channel_post: its text changed, its album may be known already

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Post | None:
        """A post kept in `state` by an earlier run or the webhook; None for anything that is not one."""
        try:
            media = data.get("media")
            return cls(**{**data, "media": Media(**media) if isinstance(media, dict) else None})
        except (AttributeError, TypeError):
            log.warning("telegram: a kept post that is not one was dropped: %.200r", data)
            return None


def post_from_update(data: Any, config: TelegramConfig, *, seen: float | None = None) -> Post | None:
    """The channel post (or its edit) an update carries when it comes from the configured chat, else None.
    `seen`: when it arrived (webhook); None takes the post's own date (polling)."""
    if not isinstance(data, dict):
        return None
    from telegram import Update  # imported on first use: a second of start-up for every process otherwise

    try:
        update = Update.de_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # not an update of the documented shape
        log.warning("telegram: an update that is not one was skipped (%s)", type(exc).__name__)
        return None
    message = update.channel_post or update.edited_channel_post
    if message is None or not config.matches(message.chat.id, message.chat.username):
        return None
    edited = update.channel_post is None
    return replace(post_from_message(message, seen=seen), update_id=update.update_id, edited=edited)


def post_from_message(message: Message, *, seen: float | None = None) -> Post:
    date = int(message.date.timestamp())
    return Post(
        chat_id=message.chat.id,
        username=message.chat.username,
        message_id=message.message_id,
        date=date,
        text=(message.caption or message.text or "")[:TEXT_MAX],
        media_group_id=message.media_group_id,
        media=_media(message),
        seen=date if seen is None else seen,
    )


def _media(message: Message) -> Media | None:
    """The post's one file of a kind we bring in: a video, audio, voice note, photo (its largest size) or a
    document that is a PDF or an image. Anything else (stickers, other documents) comes in as text only."""
    if message.photo:
        largest = max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
        return Media("photo", largest.file_id, largest.file_unique_id, largest.file_size, "image/jpeg", None)
    for kind in ("video", "audio", "voice"):
        found = getattr(message, kind)
        if found is not None:
            name = getattr(found, "file_name", None)
            return Media(kind, found.file_id, found.file_unique_id, found.file_size, found.mime_type, name)
    document = message.document
    if document is not None and is_document_we_take(document.mime_type, document.file_name):
        return Media(
            "document",
            document.file_id,
            document.file_unique_id,
            document.file_size,
            document.mime_type,
            document.file_name,
        )
    return None


def is_document_we_take(mime_type: str | None, file_name: str | None) -> bool:
    """PDFs and images (the kinds the media intake keeps as documents and images); the declared type or, without
    one, the name decides here, and the intake checks the bytes themselves later."""
    declared = (mime_type or "").lower() or (mimetypes.guess_type(file_name or "")[0] or "")
    return declared == "application/pdf" or declared.startswith("image/")
