"""PostgreSQL full-text search: the default backend, on the process's own database (Tortoise connection).

Tables (migrations 4, 5): `search_document` holds what every match is read for (filters, dates and one weighted
tsvector: title A, tags B, description C, an episode's program title and attachments D, under a GIN index) and is
kept narrow; `search_document_text` holds the texts, read only to highlight a page of hits (an episode's
attachments, the text of its PDFs, are indexed but never highlighted, so they are not stored there). An item's text is stemmed with the
configuration of its language (`search.postgres.backend.language`; `simple` when there is none, e.g. Persian). Text is folded
before PostgreSQL sees it, indexed and queried alike (`search.text.normalise`: Arabic-script letter forms,
diacritics, joiners, digits, as OpenSearch's analyzer does); the texts table keeps the original beside the folded
text so that highlights show what was written (`search.postgres.backend.highlight`). An index written before the folding
(migration 5) answers with the old forms until `cms reindex` rebuilds it.

A query is parsed in Python (`search.postgres.query`); PostgreSQL normalises each term in `simple` and in every
configuration the index uses, and the terms become one tsquery with, per term, an OR of those forms: a document
in any language matches through the forms of its own configuration. Prefixes and typos use a vocabulary of the
indexed lexemes and surface words kept in plain tables (`search.typos`): an unknown word that starts known ones
becomes `word:*` plus the forms of its first completions; any other unknown word gets the forms of the closest
known words by trigram similarity. No pg_trgm needed, so the embedded server and a full one run the same code.

Relevance is the title tier first (a query word in the title), then `ts_rank` with the field weights (ties:
newest, then id), rounded to an integer so that keyset cursors compare exactly; a broad query ranks only its title
matches when they fill the page (`search.sql.text_page`). A query runs its page (ranked, with scores and
highlights for its rows only) beside its counts (total and facets, on another connection): exact up to 10,000
matches, estimated from a uniform sample beyond (`search.postgres.backend.counts`). A text query's filters go into its tsquery
as lexemes (`search.postgres.backend.filters`); an empty query reads the date index for its page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from search import typos
from search.backend import DocKind, SearchDocument, SearchHit, SearchOrder, SearchPage, SearchQuery, page_size
from search.cursor import decode_cursor, encode_cursor, from_micros, micros
from search.postgres import sql
from search.postgres.counts import EXACT_LIMIT, SAMPLE_BUDGET, count_matches, sample_lexemes
from search.postgres.filters import document_lexemes, filter_tsquery
from search.postgres.highlight import restore
from search.postgres.language import ts_config
from search.postgres.query import clean, config_lexeme
from search.postgres.terms import words_tsquery
from search.text import normalise, primary_subtag, safe_text

TABLES = (
    "search_document",
    "search_document_text",
    "search_term_trigram",
    "search_term",
    "search_config",
)  # all this backend writes
BATCH_SIZE = 500  # documents per INSERT statement
# Text past these lengths is neither indexed nor highlighted: a tsvector has a 1 MB limit (and positions stop at
# 16,383), and ts_headline's cost grows with the text.
MAX_TITLE = 10_000
MAX_TEXT = 100_000  # a description, and an episode's attachments (search.documents.ATTACHMENT_CHARS)
_CURSOR_SHAPE = (int, int, int, str)  # rank * scale, date in microseconds, id, kind


class PostgresSearch:
    name = "postgres"

    def __init__(
        self, connection: str = "default", *, exact_limit: int = EXACT_LIMIT, sample_budget: int = SAMPLE_BUDGET
    ) -> None:
        self._connection = connection
        self._exact_limit = exact_limit  # search.postgres.backend.counts: matches counted exactly; estimated past this
        self._sample_budget = sample_budget
        self._available: frozenset[str] | None = None  # the server's text search configurations

    def _db(self) -> BaseDBAsyncClient:
        client: BaseDBAsyncClient = connections.get(self._connection)
        return client

    # -- writing -------------------------------------------------------------------------------------------------

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        async with in_transaction(self._connection) as db:
            await self._write(db, documents)

    async def delete(self, kind: DocKind, ids: Sequence[int]) -> None:
        if ids:
            await self._db().execute_query(sql.DELETE, [DocKind(kind).value, sorted(set(int(i) for i in ids))])

    async def rebuild(
        self, batches: AsyncIterable[Sequence[SearchDocument]], progress: Callable[[int], None] | None = None
    ) -> int:
        """One transaction: DELETE everything, write the new documents, commit. Readers keep seeing the old index
        (MVCC) until the commit and are never blocked (TRUNCATE would lock them out for the whole rebuild); index
        jobs meanwhile wait for the commit, then apply their changes on top. The deleted rows are vacuumed later, so
        the tables take up to twice their live size on disk between rebuilds."""
        total = 0
        async with in_transaction(self._connection) as db:
            # Writers (index jobs) wait for the commit instead of interleaving with the rebuild; readers do not.
            await db.execute_query(sql.LOCK_WRITERS)
            for statement in sql.CLEAR:
                await db.execute_query(statement)
            async for batch in batches:
                if not batch:
                    continue
                written = await self._write(db, batch)
                total += written
                if progress is not None:
                    progress(written)
        return total

    async def count(self) -> int:
        _, rows = await self._db().execute_query(sql.COUNT)
        return int(rows[0]["n"])

    async def close(self) -> None:
        """Nothing to release: the connections belong to the process's Tortoise setup."""

    async def _write(self, db: BaseDBAsyncClient, documents: Sequence[SearchDocument]) -> int:
        latest = {(doc.kind, doc.id): doc for doc in documents}  # one row per key: the last given wins
        docs = [latest[key] for key in sorted(latest)]  # a fixed lock order: concurrent writers cannot deadlock
        available = await self._configs(db)
        new_words: set[str] = set()
        for start in range(0, len(docs), BATCH_SIZE):
            _, rows = await db.execute_query(sql.UPSERT, _columns(docs[start : start + BATCH_SIZE], available))
            new_words.update(row["word"] for row in rows)
        if new_words:  # once, sorted: two writers adding the same words lock them in the same order
            await db.execute_query(sql.ADD_TERMS, _term_columns(sorted(new_words)))
        return len(docs)

    async def _configs(self, db: BaseDBAsyncClient) -> frozenset[str]:
        if self._available is None:
            _, rows = await db.execute_query(sql.CONFIGS)
            self._available = frozenset(row["name"] for row in rows)
        return self._available

    # -- reading -------------------------------------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> SearchPage:
        order = SearchOrder(query.order)
        after = None
        if query.after is not None:
            rank, date, id_, kind = decode_cursor(query.after, self.name, order, _CURSOR_SHAPE)
            after = [rank, from_micros(date), id_, kind]  # type: ignore[arg-type]
        limit = page_size(query)
        db = self._db()
        words = await words_tsquery(db, clean(query.text))

        filters = filter_tsquery(query.filter)
        matching = None  # the words AND the filter's lexemes: one GIN lookup for both
        if words is not None:
            matching = f"( {words.match} ) & {filters}" if filters else words.match
        params, where = _where(query, matching)
        # An empty query's counts take its filters as lexemes too (its page reads btree indexes instead), so that a
        # sample's lexeme and the filters meet in the GIN index (search.postgres.backend.counts).
        count_params, count_where = _where(query, matching if words is not None else filters)
        if words is not None:
            ranked = order is SearchOrder.RELEVANCE
            rank_param = params(words.rank, "text")  # ranks and highlights: the words alone
            title_param = params(words.title, "text") if words.title else None
            page_sql = sql.text_page(
                params, where, rank_param=rank_param, title_param=title_param, ranked=ranked, after=after, limit=limit
            )
        else:
            page_sql = sql.browse_page(params, where, after=after, limit=limit)
        # Two connections: the page and the counts overlap.
        (_, hits), counts = await asyncio.gather(
            db.execute_query(page_sql, params.values),
            count_matches(
                db,
                count_where,
                count_params.values,
                with_facets=query.with_facets,
                exact_limit=self._exact_limit,
                sample_budget=self._sample_budget,
            ),
        )
        return SearchPage(
            hits=[_hit(row, order) for row in hits[:limit]],
            total=counts.total,
            has_next=len(hits) > limit,
            facets=counts.facets,
            exact_counts=counts.exact,
        )


def _where(query: SearchQuery, tsquery: str | None) -> tuple[sql.Params, list[str]]:
    """Parameters and WHERE conditions for the query's visibility and filters, and `d.vector @@ tsquery`."""
    params = sql.Params()
    tsquery_param = params(tsquery, "text") if tsquery is not None else None
    where = sql.conditions(
        params, tsquery_param=tsquery_param, filter=query.filter, now=query.now, include_drafts=query.include_drafts
    )
    return params, where


def _folded(text: str) -> str | None:
    """The folded text when folding changes it, else None (the text is its own folded form)."""
    folded = normalise(text)
    return None if folded == text else folded


def _columns(docs: Iterable[SearchDocument], available: frozenset[str]) -> list[list[Any]]:
    """search.sql.UPSERT's parameters: one array per column."""
    columns: list[list[Any]] = [[] for _ in range(17)]
    for doc in docs:
        config = ts_config(doc.language, available)
        title, description = safe_text(doc.title)[:MAX_TITLE], safe_text(doc.description)[:MAX_TEXT]
        values = (
            DocKind(doc.kind).value,
            doc.id,
            title,
            description,
            json.dumps([safe_text(tag) for tag in doc.tags]),
            normalise(safe_text(" ; ".join(doc.tags))[:MAX_TITLE]),
            safe_text(doc.category) or None,
            primary_subtag(safe_text(doc.language)),
            doc.program_id,
            # a program's own title is its title
            normalise(safe_text(doc.program_title)[:MAX_TITLE]) if doc.kind == DocKind.EPISODE else "",
            doc.public_from,
            doc.date,
            config,
            json.dumps(document_lexemes(doc) + sample_lexemes(doc.key) + [config_lexeme(config)]),
            _folded(title),
            _folded(description),
            normalise(safe_text(doc.attachments)[:MAX_TEXT]),
        )
        for column, value in zip(columns, values):
            column.append(value)
    return columns


def _term_columns(terms: list[str]) -> list[list[Any]]:
    grams, counts, owners = [], [], []
    for term in terms:
        term_grams = typos.trigrams(term)
        for gram in sorted(term_grams):
            grams.append(gram)
            counts.append(len(term_grams))
            owners.append(term)
    return [terms, grams, counts, owners]


def _hit(row: dict[str, Any], order: SearchOrder) -> SearchHit:
    key = [int(row["rank"]), micros(row["date"]), int(row["id"]), row["kind"]]
    highlights = {}
    for field in (
        "title",
        "description",
    ):  # the folded text's highlights, over the original (search.postgres.backend.highlight)
        headline = row[f"{field}_hl"]
        if headline and "<mark>" in headline and (snippet := restore(headline, row[f"{field}_source"])):
            highlights[field] = snippet
    return SearchHit(
        kind=DocKind(row["kind"]),
        id=int(row["id"]),
        score=float(row["score"] or 0.0),
        cursor=encode_cursor("postgres", order, key),
        highlights=highlights,
    )
