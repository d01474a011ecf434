"""Posts become items: one per post, one per album (its posts share a `media_group_id`), as the ingest jobs want.

An item is JSON: `external_id` (`<chat id>:<message id>`, or `<chat id>:album:<media_group_id>`), `title` (the
caption's first line), `description` (the rest), `url` (the t.me link), `published_at`, `media` (one entry per
file, in message order) and `media_count` (so the item job can finish an album it handed over in part). Nothing
in an item changes between two runs that see the same post: its fingerprint tells real edits apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from plugins.telegram.posts import Post

TITLE_MAX = 300  # the episode's own limit (cms.content.validation.TITLE_MAX)
# Telegram delivers an album as one post per file, within a second or so of each other: an album whose newest part
# is younger than this waits for the next run, so it is not brought in without its last files.
ALBUM_SETTLE_SECONDS = 3.0
_PRIVATE_CHANNEL = -(10**12)  # Bot API ids of channels are -100<channel id>


def latest_versions(posts: Iterable[Post]) -> list[Post]:
    """One post per message, the last one given winning (an edit after its post), in the order first given."""
    by_message: dict[tuple[int, int], Post] = {}
    for post in posts:
        by_message[(post.chat_id, post.message_id)] = post
    return list(by_message.values())


def settle(
    posts: list[Post], *, now: float, open_groups: frozenset[str] = frozenset()
) -> tuple[list[Post], list[Post]]:
    """(ready, held): album parts are held while their album's newest part is younger than ALBUM_SETTLE_SECONDS,
    or while more of it may be waiting upstream (`open_groups`: the album at the end of a full page of updates)."""
    newest: dict[str, float] = {}
    for post in posts:
        if post.media_group_id is not None:
            newest[post.media_group_id] = max(newest.get(post.media_group_id, 0.0), post.seen)
    ready: list[Post] = []
    held: list[Post] = []
    for post in posts:
        group = post.media_group_id
        waiting = group is not None and (group in open_groups or newest[group] > now - ALBUM_SETTLE_SECONDS)
        (held if waiting else ready).append(post)
    return ready, held


def items_from_posts(posts: list[Post]) -> list[dict[str, Any]]:
    """One item per post or album, oldest first."""
    groups: dict[tuple[int, str], list[Post]] = {}
    for post in posts:
        key = str(post.message_id) if post.media_group_id is None else f"album:{post.media_group_id}"
        groups.setdefault((post.chat_id, key), []).append(post)
    items = []
    for parts in groups.values():
        parts.sort(key=lambda p: p.message_id)
        album = parts[0].media_group_id is not None
        if album and all(p.edited and not p.text.strip() for p in parts):
            # An edit of an album file without its caption: it carries nothing to update (the media is kept as
            # it came in), and as an item of its own it would retitle the album "Post <id>".
            continue
        items.append((parts[0].date, parts[0].message_id, item_for(parts)))
    return [item for _, _, item in sorted(items, key=lambda entry: entry[:2])]


def item_for(parts: list[Post]) -> dict[str, Any]:
    """The item of one post, or of an album's posts (sorted by message id)."""
    first = parts[0]
    album = first.media_group_id
    external_id = f"{first.chat_id}:album:{album}" if album is not None else f"{first.chat_id}:{first.message_id}"
    captioned = next((p.text for p in parts if p.text.strip()), "")
    title, description = title_and_description(captioned, fallback=f"Post {first.message_id}")
    media = [{"message_id": p.message_id, "via": p.via, **asdict(p.media)} for p in parts if p.media is not None]
    return {
        "external_id": external_id,
        "title": title,
        "description": description,
        "url": post_url(first),
        "published_at": datetime.fromtimestamp(min(p.date for p in parts), UTC).isoformat(),
        "media_count": len(media),
        "media": media,
        "telegram": {
            "chat_id": first.chat_id,
            "message_ids": [p.message_id for p in parts],
            "media_group_id": album,
        },
    }


def title_and_description(text: str, *, fallback: str) -> tuple[str, str]:
    """The caption's first line as the title (at most TITLE_MAX characters) and the rest as the description; a
    first line too long for a title is cut at a word and the whole caption becomes the description."""
    text = text.strip()
    if not text:
        return fallback, ""
    first, _, rest = text.partition("\n")
    first = first.strip()
    if len(first) <= TITLE_MAX:
        return first, rest.strip()
    cut = first[: TITLE_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…", text


def post_url(post: Post) -> str | None:
    """t.me/<username>/<id> for a public channel; t.me/c/<id>/<id> (members only) for a private one."""
    if post.username:
        return f"https://t.me/{post.username}/{post.message_id}"
    if post.chat_id < _PRIVATE_CHANNEL:
        return f"https://t.me/c/{-post.chat_id + _PRIVATE_CHANNEL}/{post.message_id}"
    return None
