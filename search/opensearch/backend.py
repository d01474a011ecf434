"""The OpenSearch search backend (used when OPENSEARCH_URL is set), on opensearch-py's async client.

Reads and writes go through the alias `<index>`; it points at one concrete index `<index>-v<version>-<timestamp>`
whose settings and mappings come from code (search.opensearch.mapping, MAPPING_VERSION). `rebuild` loads a fresh concrete
index with refreshes and replicas off, restores them, then moves the alias in one `_aliases` call and deletes the old
index: searches see the old index until the new one is complete. The first `upsert` creates index and alias when
neither exists. Writes wait for the next refresh (`refresh=wait_for`, at most ~1 s) unless built with refresh=False,
so a search after an index job or a test write sees it.

While a rebuild loads, its new index carries a second alias, `<index>-rebuilding`, and every write goes there as
well as to the live index, so nothing written meanwhile is lost with the old index. Writes are versioned (a
document by its last change, a delete by its time, search.opensearch.mapping): the rebuild's copy of a row read before a
concurrent edit is refused wherever the edit landed first, and a delete's tombstone refuses the older copy.
`cms reindex` (search.reindex) also writes again what changed in PostgreSQL while it ran.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, TransportError
from opensearchpy.helpers import BulkIndexError, async_bulk

from search.backend import DocKind, SearchDocument, SearchPage, SearchQuery
from search.opensearch.mapping import (
    LIVE_SETTINGS,
    MAPPING_VERSION,
    concrete_index_name,
    delete_actions,
    index_actions,
    index_body,
    index_version,
    loading_index_body,
    rebuilding_alias,
    swap_actions,
)
from search.opensearch.page import decode_search_after, empty_page, parse_response
from search.opensearch.query import affix_words, known_words, parse_query, search_body, vocabulary_body

log = logging.getLogger(__name__)

BULK_CHUNK = 500


def _missing_index(error: BulkIndexError) -> bool:
    """Did the bulk fail because the alias vanished (require_alias=true refuses to auto-create an index)?"""
    for item in error.errors:
        for result in item.values():
            if "index_not_found" in str((result.get("error") or {}).get("type", "")):
                return True
    return False


class OpenSearchSearch:
    name = "opensearch"

    def __init__(self, url: str, index: str, *, refresh: bool = True, client: Any | None = None) -> None:
        self.alias = index
        self._refresh = "wait_for" if refresh else "false"
        self._client = (
            client
            if client is not None
            else AsyncOpenSearch(
                hosts=[url],
                timeout=30,
                max_retries=2,
                retry_on_timeout=True,
            )
        )
        self._alias_known = False  # set once the alias was seen or made; reset when a write finds it gone
        self._create_lock = asyncio.Lock()

    # -- writes ----------------------------------------------------------------------------------------------------

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        # The loading index first: the live write's refresh then also shows this one if the rebuild went live.
        await self._write_to_rebuild(index_actions(documents, rebuilding_alias(self.alias)))
        for attempt in (1, 2):
            await self._ensure_alias()
            try:
                await self._bulk(index_actions(documents, self.alias), require_alias=True, ignore_status=(409,))
                return
            except BulkIndexError as error:
                if attempt == 2 or not _missing_index(error):
                    raise
                self._alias_known = False  # someone deleted the alias: make it again, once

    async def delete(self, kind: DocKind, ids: Sequence[int]) -> None:
        if not ids or not await self._alias_exists():
            return  # nothing indexed yet: nothing to remove (and no index created just for that)
        at = datetime.now(UTC)
        await self._write_to_rebuild(delete_actions(kind, ids, rebuilding_alias(self.alias), at))
        await self._bulk(delete_actions(kind, ids, self.alias, at), require_alias=True, ignore_status=(404, 409))

    async def _bulk(self, actions: list[dict[str, Any]], **params: Any) -> None:
        await async_bulk(
            self._client,
            actions,
            chunk_size=BULK_CHUNK,
            max_retries=3,
            refresh=self._refresh,
            **params,
        )

    async def _write_to_rebuild(self, actions: list[dict[str, Any]]) -> None:
        """The same writes into the index a rebuild is loading, if one is. Its alias may go between the check and
        the write (the rebuild went live, so the live write that follows reaches it): require_alias then refuses
        (404) rather than creating an index by that name. No refresh: the loading index has none until it goes
        live, and waiting for one would hold the writer until the rebuild ends."""
        if not await self._client.indices.exists_alias(name=rebuilding_alias(self.alias)):
            return
        await async_bulk(
            self._client,
            actions,
            chunk_size=BULK_CHUNK,
            max_retries=3,
            require_alias=True,
            ignore_status=(404, 409),
        )

    async def _alias_exists(self) -> bool:
        if not self._alias_known:
            indexes = await self._aliased_indexes()
            self._alias_known = bool(indexes)
            for index in indexes:
                version = index_version(self.alias, index)
                if version is not None and version < MAPPING_VERSION:
                    log.warning(
                        "search index %s has mapping version %d, this code expects %d: run `cms reindex`",
                        index,
                        version,
                        MAPPING_VERSION,
                    )
        return self._alias_known

    async def _ensure_alias(self) -> None:
        """Create the first concrete index with the alias on it, unless the alias exists (another process may race:
        the alias is its index's write index, so a second index cannot join it and the loser's create fails)."""
        if await self._alias_exists():
            return
        async with self._create_lock:
            if await self._alias_exists():
                return
            name = concrete_index_name(self.alias, datetime.now(UTC))
            body = {**index_body(), "aliases": {self.alias: {"is_write_index": True}}}
            try:
                await self._client.indices.create(index=name, body=body)
            except TransportError:  # name taken, or "more than one write index" (400 or 500 by version)
                if not await self._alias_exists():
                    raise
                await self._drop(name)  # lost the race; make sure no stray index of ours is left
                return
            log.info("created search index %s behind alias %s", name, self.alias)
            self._alias_known = True

    # -- reads -----------------------------------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchPage:
        if query.after is not None:
            decode_search_after(query.after, query.order)  # a bad cursor raises InvalidCursor before any request
        parsed = parse_query(query.text)
        try:
            known = await self._known_words(affix_words(parsed))
            response = await self._client.search(index=self.alias, body=search_body(query, known, parsed))
        except NotFoundError:
            return empty_page(query)  # nothing indexed yet
        return parse_response(response, query)

    async def _known_words(self, words: list[str]) -> frozenset[str]:
        """Which query words the index holds: one more small request, only for queries with such words."""
        if not words:
            return frozenset()
        return known_words(words, await self._client.search(index=self.alias, body=vocabulary_body(words)))

    async def count(self) -> int:
        try:
            response = await self._client.count(index=self.alias)
        except NotFoundError:
            return 0
        return int(response["count"])

    # -- rebuild ---------------------------------------------------------------------------------------------------

    async def rebuild(
        self, batches: AsyncIterable[Sequence[SearchDocument]], progress: Callable[[int], None] | None = None
    ) -> int:
        await self._drop_unfinished_rebuilds()
        new = concrete_index_name(self.alias, datetime.now(UTC))
        await self._client.indices.create(index=new, body=loading_index_body(self.alias))
        written = 0
        try:
            async for batch in batches:
                if not batch:
                    continue
                await async_bulk(  # 409: a writer already put a newer copy there
                    self._client, index_actions(batch, new), chunk_size=BULK_CHUNK, max_retries=3, ignore_status=(409,)
                )
                written += len(batch)
                if progress is not None:
                    progress(len(batch))
            await self._client.indices.put_settings(index=new, body={"index": LIVE_SETTINGS})
            await self._client.indices.refresh(index=new)
            old = await self._aliased_indexes()
            squatter = not old and bool(await self._client.indices.exists(index=self.alias))
            await self._client.indices.update_aliases(body=swap_actions(self.alias, new, old, drop_concrete=squatter))
            await self._client.indices.refresh(index=new)  # what writers put there since the first refresh
        except BaseException:
            await self._drop(new)
            raise
        self._alias_known = True
        log.info("search index rebuilt: %s now behind alias %s (%d documents)", new, self.alias, written)
        for index in old:
            await self._drop(index)
        return written

    async def _drop_unfinished_rebuilds(self) -> None:
        """Indexes still under `-rebuilding` belong to a rebuild that died (killed before it could clean up): writers
        would keep feeding them, and a second one under the alias would leave it without a write index. One rebuild
        at a time: a new one replaces an unfinished one."""
        try:
            stale = await self._client.indices.get_alias(name=rebuilding_alias(self.alias))
        except NotFoundError:
            return
        for index in sorted(stale):
            log.warning("dropping search index %s left by an unfinished rebuild", index)
            await self._drop(index)

    async def _aliased_indexes(self) -> list[str]:
        try:
            return sorted(await self._client.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    async def _drop(self, index: str) -> None:
        """Delete an index, best effort (a failure here leaves garbage, never a broken alias)."""
        try:
            await self._client.indices.delete(index=index, ignore=404)
        except TransportError as error:
            log.warning("could not delete search index %s: %s", index, error)

    async def close(self) -> None:
        await self._client.close()
