"""Search documents built from the content tables: the only place that knows how a program or episode looks
to the index. Reads rows as plain values (no model objects) so a full rebuild stays fast.

An episode's document also carries its attachments: the text extracted from its READY document assets (PDFs,
`asset_text`), at most ATTACHMENT_CHARS of it, cut in SQL so that a rebuild never reads megabytes per episode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, cast

from tortoise import connections
from tortoise.queryset import QuerySet

from cms.content.models import Episode, Program, PublishStatus
from cms.media.models import Asset, AssetKind, AssetStatus
from search.backend import DocKind, SearchDocument

# An episode's attachments' text in its document, all documents together (the first pages of the oldest first).
# Within what both backends index whole: PostgreSQL's tsvector stays far below its 1 MB limit with the title and
# description beside it, OpenSearch cuts a field at 500,000 characters.
ATTACHMENT_CHARS = 100_000
_ATTACHMENTS = """
SELECT a.episode_id AS episode_id,
       left(string_agg(left(t.text, $2), E'\\n\\n' ORDER BY a.id), $2) AS text,
       max(t.updated_at) AS updated_at
FROM asset_text t JOIN asset a ON a.id = t.asset_id
WHERE a.episode_id = ANY($1::bigint[]) AND a.status = $3
GROUP BY a.episode_id
"""

_PROGRAM_FIELDS = (
    "id",
    "title",
    "description",
    "tags",
    "category",
    "language",
    "status",
    "publish_at",
    "created_at",
    "updated_at",
)
_EPISODE_FIELDS = (
    "id",
    "program_id",
    "title",
    "description",
    "status",
    "publish_at",
    "created_at",
    "updated_at",
)


def _public_from(*rows: dict[str, Any]) -> datetime | None:
    """When all of `rows` (an item and, for an episode, its program) are public: the latest publish time."""
    if any(row["status"] != PublishStatus.PUBLISHED or row["publish_at"] is None for row in rows):
        return None
    latest: datetime = max(row["publish_at"] for row in rows)
    return latest


def program_document(row: dict[str, Any]) -> SearchDocument:
    return SearchDocument(
        kind=DocKind.PROGRAM,
        id=row["id"],
        title=row["title"],
        description=row["description"] or "",
        tags=tuple(row["tags"] or ()),
        category=row["category"],
        language=row["language"],
        program_id=row["id"],
        program_title=row["title"],
        public_from=_public_from(row),
        date=row["publish_at"] or row["created_at"],
        updated_at=row["updated_at"],
    )


def episode_document(
    row: dict[str, Any], program: dict[str, Any], attachments: tuple[str, datetime] | None = None
) -> SearchDocument:
    """Episodes inherit their program's tags, category and language: that is what a viewer filters them by.
    `attachments`: the text of its documents and when it last changed (see attachment_texts)."""
    text, text_changed = attachments or ("", None)
    return SearchDocument(
        kind=DocKind.EPISODE,
        id=row["id"],
        title=row["title"],
        description=row["description"] or "",
        tags=tuple(program["tags"] or ()),
        category=program["category"],
        language=program["language"],
        program_id=program["id"],
        program_title=program["title"],
        public_from=_public_from(row, program),
        # The document changes with its program and its attachments too: its version (search.opensearch.mapping)
        # must move on any of these edits.
        date=row["publish_at"] or row["created_at"],
        updated_at=max(row["updated_at"], program["updated_at"], *([text_changed] if text_changed else [])),
        attachments=text,
    )


async def _programs(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in await Program.filter(id__in=list(ids)).values(*_PROGRAM_FIELDS)}


async def attachment_texts(episode_ids: Iterable[int]) -> dict[int, tuple[str, datetime]]:
    """Episode id -> (its READY documents' text, oldest document first, at most ATTACHMENT_CHARS; the last time any
    of it was extracted), for the episodes that have such text. One query whatever the number of episodes."""
    ids = sorted(set(episode_ids))
    if not ids:
        return {}
    rows = await connections.get("default").execute_query_dict(
        _ATTACHMENTS, [ids, ATTACHMENT_CHARS, AssetStatus.READY.value]
    )
    return {row["episode_id"]: (row["text"], row["updated_at"]) for row in rows if row["text"]}


async def _episode_documents(rows: list[dict[str, Any]]) -> list[SearchDocument]:
    programs = await _programs({row["program_id"] for row in rows})
    texts = await attachment_texts(row["id"] for row in rows)
    return [
        episode_document(row, programs[row["program_id"]], texts.get(row["id"]))
        for row in rows
        if row["program_id"] in programs
    ]


async def episode_of_document(asset_id: int) -> int | None:
    """The episode a document asset is attached to (None: not a document, or attached to none)."""
    # values_list(flat=True) yields the values themselves; Tortoise types it as a list of tuples.
    rows = cast(
        "list[int | None]",
        await Asset.filter(id=asset_id, kind=AssetKind.DOCUMENT).values_list("episode_id", flat=True),
    )
    return rows[0] if rows else None


async def episodes_with_text_since(since: datetime) -> list[int]:
    """Episodes whose attachments' text was extracted at or after `since` (a rebuild's catch-up)."""
    rows = cast(
        "list[int | None]",
        await Asset.filter(kind=AssetKind.DOCUMENT, extracted_text__updated_at__gte=since).values_list(
            "episode_id", flat=True
        ),
    )
    return sorted({episode for episode in rows if episode is not None})


async def program_documents(program_id: int) -> list[SearchDocument] | None:
    """The program's document, or None when it no longer exists (then it should leave the index)."""
    program = (await _programs([program_id])).get(program_id)
    return None if program is None else [program_document(program)]


async def _batches(rows: QuerySet[Any], fields: tuple[str, ...], batch: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The `fields` of the rows a queryset selects, in id order and batches of `batch`: each batch one query that
    starts after the last id of the one before (keyset), so batches stay cheap however far in."""
    last = 0
    while found := await rows.filter(id__gt=last).order_by("id").limit(batch).values(*fields):
        yield found
        last = found[-1]["id"]


async def episode_documents_of_program(program_id: int, *, batch: int = 1000) -> AsyncIterator[list[SearchDocument]]:
    """Every episode of a program, in batches: a program change (title, publishing) changes all of them."""
    program = (await _programs([program_id])).get(program_id)
    if program is None:
        return
    async for rows in _batches(Episode.filter(program_id=program_id), _EPISODE_FIELDS, batch):
        texts = await attachment_texts(row["id"] for row in rows)
        yield [episode_document(row, program, texts.get(row["id"])) for row in rows]


async def episode_document_by_id(episode_id: int) -> SearchDocument | None:
    documents = await episode_documents(Episode.filter(id=episode_id))
    return documents[0] if documents else None


async def episode_documents(episodes: QuerySet[Episode]) -> list[SearchDocument]:
    """The documents of the episodes a queryset selects, in three queries whatever their number."""
    return await _episode_documents(await episodes.values(*_EPISODE_FIELDS))


async def program_documents_where(programs: QuerySet[Program]) -> list[SearchDocument]:
    return [program_document(row) for row in await programs.values(*_PROGRAM_FIELDS)]


async def count_all() -> int:
    return await Program.all().count() + await Episode.all().count()


async def all_documents(*, batch: int = 1000) -> AsyncIterator[list[SearchDocument]]:
    """Every program, then every episode, in id order and batches of `batch` (for `cms reindex`)."""
    async for rows in _batches(Program.all(), _PROGRAM_FIELDS, batch):
        yield [program_document(row) for row in rows]
    async for rows in _batches(Episode.all(), _EPISODE_FIELDS, batch):
        yield await _episode_documents(rows)
