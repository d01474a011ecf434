"""OpenSearch index layout as pure data: versioned settings, analyzers and mappings, index names, the source of a
document and the bulk/alias actions that write them. No I/O here (search.opensearch does the talking).

Text analysis works for every script: the `cms_text` analyzer (standard tokenizer, lowercase, width/digit folding,
Arabic and Persian orthographic normalisation, ASCII folding; no stemming, no stopwords) is used on title, tags and
description of every document. A document whose language has a built-in OpenSearch analyzer also gets its title and
description copied into `title_<analyzer>` / `description_<analyzer>` (e.g. `title_english`), so stemmed forms match
too; queries search the base fields and all language fields together, so any language matches.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from search.backend import DocKind, SearchDocument
from search.text import primary_subtag, safe_text

# Bump when settings or mappings change: a new version needs `cms reindex` (rebuild) to take effect.
MAPPING_VERSION = 1

TEXT_ANALYZER = "cms_text"

# Primary language subtag -> built-in OpenSearch language analyzer. Kept deliberately short: every analyzer adds two
# fields to every text clause of every query, and a query's clauses must stay under
# `indices.query.bool.max_clause_count` (1024). Languages not listed are still matched through the base fields.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "ar": "arabic",
    "ckb": "sorani",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fa": "persian",
    "fr": "french",
    "hi": "hindi",
    "id": "indonesian",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}

# Searchable text fields and their weights: title > tags > description > an episode's program title (as the
# PostgreSQL backend's weights A > B > C > D).
FIELD_BOOSTS: dict[str, float] = {"title": 3.0, "tags": 2.0, "description": 1.0, "program_words": 0.5}
# Longer text is cut when indexed: highlighting refuses fields past index.highlight.max_analyzed_offset (1,000,000).
MAX_TEXT_CHARS = 500_000
LANGUAGE_FIELD_PREFIXES = ("title", "description")  # tags are short labels: the base field is enough

# Settings while a rebuild bulk-loads a fresh index, and the live ones it gets before the alias moves to it.
LOADING_SETTINGS: dict[str, Any] = {"refresh_interval": "-1", "number_of_replicas": 0, "auto_expand_replicas": "false"}
LIVE_SETTINGS: dict[str, Any] = {"refresh_interval": "1s", "auto_expand_replicas": "0-1"}


def language_field(prefix: str, analyzer: str) -> str:
    return f"{prefix}_{analyzer}"


def language_fields() -> list[tuple[str, str]]:
    """(field, base field it copies) for every language analyzer: ("title_english", "title"), ..."""
    analyzers = sorted(set(LANGUAGE_ANALYZERS.values()))
    return [(language_field(prefix, analyzer), prefix) for analyzer in analyzers for prefix in LANGUAGE_FIELD_PREFIXES]


def index_body() -> dict[str, Any]:
    """Settings and mappings of a concrete index of MAPPING_VERSION (the live settings: a rebuild loads with
    loading_index_body())."""
    text = {"type": "text", "analyzer": TEXT_ANALYZER}
    keyword = {"type": "keyword"}
    date = {"type": "date"}
    properties: dict[str, Any] = {
        "doc_key": keyword,  # "kind:id", the same as _id
        "kind": keyword,
        "id": {"type": "long"},
        "title": text,
        "description": text,
        "tags": {**text, "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "category": keyword,
        "language": keyword,  # the BCP 47 tag as stored
        "language_primary": keyword,  # what language filters and facets use
        "program_id": keyword,  # a string, as facets report it
        "program_title": {"type": "keyword", "index": False, "doc_values": False},  # kept, not searched
        "program_words": text,  # an episode's program title (empty for a program: its title is already there)
        "public_from": date,  # absent = never public
        "date": date,
        "updated_at": date,
    }
    for field, _ in language_fields():
        properties[field] = {"type": "text", "analyzer": field.split("_", 1)[1]}
    return {
        "settings": {
            "index": {"number_of_shards": 1, **LIVE_SETTINGS},
            "analysis": {
                "char_filter": {
                    # Persian writes the zero-width non-joiner inside words; users type it, a space or nothing.
                    "zwnj_to_space": {"type": "mapping", "mappings": ["\\u200C=>\\u0020"]},
                },
                "analyzer": {
                    TEXT_ANALYZER: {
                        "type": "custom",
                        "char_filter": ["zwnj_to_space"],
                        "tokenizer": "standard",
                        "filter": [
                            "cjk_width", "lowercase", "decimal_digit", "arabic_normalization",
                            "persian_normalization", "asciifolding",
                        ],
                    },
                },
            },
        },
        "mappings": {
            # Unknown fields are kept in _source but not indexed: code of a newer MAPPING_VERSION can still write
            # to an older live index until `cms reindex` builds the new one.
            "dynamic": False,
            "_meta": {"mapping_version": MAPPING_VERSION},
            "properties": properties,
        },
    }


def loading_index_body() -> dict[str, Any]:
    """index_body() with refreshes off and no replicas: how a rebuild creates its new index."""
    body = index_body()
    body["settings"]["index"].update(LOADING_SETTINGS)
    return body


def concrete_index_name(alias: str, at: datetime) -> str:
    """`<alias>-v<version>-<UTC timestamp>`; microseconds keep two rebuilds in one second apart."""
    stamp = at.astimezone(timezone.utc) if at.tzinfo else at
    return f"{alias}-v{MAPPING_VERSION}-{stamp:%Y%m%d%H%M%S%f}"


def index_version(alias: str, index: str) -> int | None:
    """The mapping version in a concrete index name made by concrete_index_name(), else None."""
    prefix = f"{alias}-v"
    if not index.startswith(prefix):
        return None
    version, _, stamp = index[len(prefix):].partition("-")
    return int(version) if version.isdigit() and stamp.isdigit() else None


def iso(moment: datetime) -> str:
    """An instant as OpenSearch stores it (millisecond precision, UTC); naive datetimes are taken as UTC."""
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def clean_value(value: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Text as a bulk body can carry it: no lone surrogates (not UTF-8), NUL as a space, at most `limit` chars."""
    return None if value is None else safe_text(value[:limit])


def document_source(doc: SearchDocument) -> dict[str, Any]:
    language = clean_value(doc.language, 64) or None
    primary = primary_subtag(language)
    title, description = clean_value(doc.title) or "", clean_value(doc.description) or ""
    source: dict[str, Any] = {
        "doc_key": doc.key,
        "kind": doc.kind.value,
        "id": doc.id,
        "title": title,
        "description": description,
        "tags": [clean_value(tag, 256) for tag in doc.tags],
        "category": clean_value(doc.category, 256) or None,
        "language": language,
        "language_primary": primary,
        "program_id": str(doc.program_id),
        "program_title": clean_value(doc.program_title, 256),
        "program_words": clean_value(doc.program_title) if doc.kind == DocKind.EPISODE else "",
        "public_from": iso(doc.public_from) if doc.public_from else None,
        "date": iso(doc.date),
        "updated_at": iso(doc.updated_at),
    }
    analyzer = LANGUAGE_ANALYZERS.get(primary or "")
    if analyzer:
        source[language_field("title", analyzer)] = title
        source[language_field("description", analyzer)] = description
    return source


def doc_id(kind: DocKind, id: int) -> str:
    return f"{DocKind(kind).value}:{int(id)}"


def index_actions(documents: Iterable[SearchDocument], index: str) -> list[dict[str, Any]]:
    """Bulk actions (opensearchpy.helpers format) that add or replace documents; _id "kind:id" makes them
    idempotent."""
    return [
        {"_op_type": "index", "_index": index, "_id": doc.key, "_source": document_source(doc)} for doc in documents
    ]


def delete_actions(kind: DocKind, ids: Iterable[int], index: str) -> list[dict[str, Any]]:
    return [{"_op_type": "delete", "_index": index, "_id": doc_id(kind, id)} for id in dict.fromkeys(ids)]


def swap_actions(alias: str, new_index: str, old_indexes: Sequence[str], *, drop_concrete: bool = False) -> dict:
    """One `_aliases` body that moves the alias from the old indexes to the new one atomically. `drop_concrete`
    also removes a concrete index that squats the alias name (auto-created by a write before any alias existed)."""
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in old_indexes]
    if drop_concrete:
        actions.append({"remove_index": {"index": alias}})
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    return {"actions": actions}
