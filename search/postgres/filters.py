"""Filters as lexemes: an item's kind, category, language, program and tags also go into its tsvector as lexemes no
query word can produce (they start with a space), so a text query's filters are part of its tsquery and the GIN
index intersects them with the words before any row is read (`history` in category `documentary` reads the rows
of both, not every `history` match). Empty queries filter on the columns instead, through btree indexes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from search.backend import DocKind, SearchDocument, SearchFilter
from search.postgres.query import quote
from search.text import primary_subtag, safe_text

_MAX_VALUE_CHARS = 64  # longer values go in as a digest: a lexeme has a size limit, and vectors stay small


def filter_lexeme(field: str, value: str) -> str:
    """' c:news', ' t:jazz', ' p:12' ... (a long value as ' c#<md5>')."""
    value = safe_text(value)
    if len(value) > _MAX_VALUE_CHARS:
        return f" {field}#{hashlib.md5(value.encode()).hexdigest()}"
    return f" {field}:{value}"


def document_lexemes(doc: SearchDocument) -> list[str]:
    lexemes = [filter_lexeme("k", DocKind(doc.kind).value), filter_lexeme("p", str(doc.program_id))]
    if safe_text(doc.category):
        lexemes.append(filter_lexeme("c", doc.category or ""))
    language = primary_subtag(safe_text(doc.language))
    if language:
        lexemes.append(filter_lexeme("l", language))
    lexemes.extend(filter_lexeme("t", tag) for tag in doc.tags if safe_text(tag))
    return sorted(set(lexemes))


def _any(field: str, values: Iterable[str]) -> str:
    return "( " + " | ".join(sorted({quote(filter_lexeme(field, value)) for value in values})) + " )"


def filter_tsquery(filter: SearchFilter) -> str | None:
    """The filter's kinds, programs, categories, languages (primary subtags) and tags (all of them) as tsquery
    text to AND with the words; None when it has none of those. Date bounds stay column conditions."""
    parts = []
    if filter.kinds:
        parts.append(_any("k", (DocKind(kind).value for kind in filter.kinds)))
    if filter.program_ids:
        parts.append(_any("p", (str(int(program_id)) for program_id in filter.program_ids)))
    if filter.categories:
        parts.append(_any("c", filter.categories))
    if filter.languages:
        parts.append(_any("l", (primary_subtag(safe_text(language)) or "" for language in filter.languages)))
    parts.extend(quote(filter_lexeme("t", tag)) for tag in sorted(set(filter.tags)))
    return " & ".join(parts) if parts else None
