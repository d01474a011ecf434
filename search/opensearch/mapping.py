"""OpenSearch index layout as pure data: versioned settings, analyzers and mappings, index names, the source of a
document and the bulk/alias actions that write them. No I/O here (search.opensearch.backend does the talking).

Text analysis works for every script: the `cms_text` analyzer (standard tokenizer, lowercase, width/digit folding,
Arabic and Persian orthographic normalisation, ASCII folding; no stemming, no stopwords) is used on title, tags and
description of every document. A document whose language has a Snowball stemmer also gets its title and description
copied into `title_<language>` / `description_<language>` (e.g. `title_english`), analysed by `cms_<language>`: the
same normalisation, the language's stop words and the Snowball stemmer PostgreSQL's configuration of that name uses
(search.postgres.backend.language), so both backends stem alike (Lucene's built-in `english` would stem "news" to "new"). Queries
search the base fields and all language fields together, so any language matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from search.backend import DocKind, SearchDocument
from search.cursor import micros
from search.text import char_filter_rules, primary_subtag, safe_text

# Bump when settings or mappings change: a new version needs `cms reindex` (rebuild) to take effect.
# 2: Snowball stemmers as PostgreSQL's (was: built-in language analyzers, Persian and Sorani among them).
# 3: `attachments`, an episode's documents' text (PDFs).
MAPPING_VERSION = 3

TEXT_ANALYZER = "cms_text"
CHAR_FILTER = "cms_invisible"

# Primary language subtag -> language whose Snowball stemmer (and Lucene stop list `_<language>_`) its text gets, as
# PostgreSQL's configuration of the same name. Kept deliberately short: every language adds two fields to every text
# clause of every query, and a query's clauses must stay under `indices.query.bool.max_clause_count` (1024).
# Languages not listed (Persian among them: PostgreSQL has no stemmer for it) are matched through the base fields.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
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

# Searchable text fields and their weights: title > tags > description > an episode's program title and attachments
# (as the PostgreSQL backend's weights A > B > C > D). Attachments get no language fields (they are matched through
# the base field, unstemmed): every language field adds clauses to every query, and a PDF's words are a match
# of last resort anyway.
FIELD_BOOSTS: dict[str, float] = {
    "title": 3.0,
    "tags": 2.0,
    "description": 1.0,
    "program_words": 0.5,
    "attachments": 0.5,
}
# Longer text is cut when indexed: highlighting refuses fields past index.highlight.max_analyzed_offset (1,000,000).
MAX_TEXT_CHARS = 500_000
LANGUAGE_FIELD_PREFIXES = ("title", "description")  # tags are short labels: the base field is enough

# Settings while a rebuild bulk-loads a fresh index, and the live ones it gets before the alias moves to it. A
# delete's tombstone (gc_deletes) must outlive the whole load: it is what refuses the rebuild's older copy.
LOADING_SETTINGS: dict[str, Any] = {
    "refresh_interval": "-1",
    "number_of_replicas": 0,
    "auto_expand_replicas": "false",
    "gc_deletes": "6h",
}
LIVE_SETTINGS: dict[str, Any] = {"refresh_interval": "1s", "auto_expand_replicas": "0-1", "gc_deletes": "60s"}

# While a rebuild loads, its new index also carries the alias `<alias>-rebuilding`: writers write there too.
REBUILDING_SUFFIX = "-rebuilding"


# Folding every script shares (before any stemmer): full-width forms, case, digits, Arabic and Persian letter forms.
_NORMALISING_FILTERS = ["cjk_width", "lowercase", "decimal_digit", "arabic_normalization", "persian_normalization"]


def language_field(prefix: str, analyzer: str) -> str:
    return f"{prefix}_{analyzer}"


def stemming_analyzer(language: str) -> str:
    return f"cms_{language}"


def _stemming_analysis() -> tuple[dict[str, Any], dict[str, Any]]:
    """(analyzers, filters) of every language in LANGUAGE_ANALYZERS."""
    analyzers: dict[str, Any] = {}
    filters: dict[str, Any] = {}
    for language in sorted(set(LANGUAGE_ANALYZERS.values())):
        filters[f"{language}_stop"] = {"type": "stop", "stopwords": f"_{language}_"}
        filters[f"{language}_snowball"] = {"type": "snowball", "language": language.capitalize()}
        analyzers[stemming_analyzer(language)] = {
            "type": "custom",
            "char_filter": [CHAR_FILTER],
            "tokenizer": "standard",
            "filter": [*_NORMALISING_FILTERS, f"{language}_stop", f"{language}_snowball"],
        }
    return analyzers, filters


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
        "attachments": text,  # an episode's documents' text: searched, never highlighted
        "public_from": date,  # absent = never public
        "date": date,
        "updated_at": date,
    }
    for field, _ in language_fields():
        properties[field] = {"type": "text", "analyzer": stemming_analyzer(field.split("_", 1)[1])}
    stemming, stemming_filters = _stemming_analysis()
    return {
        "settings": {
            "index": {"number_of_shards": 1, **LIVE_SETTINGS},
            "analysis": {
                "char_filter": {
                    # ZWNJ and ZWSP split words; joiners, soft hyphens, BOM and the superscript alef go (search.text).
                    CHAR_FILTER: {"type": "mapping", "mappings": char_filter_rules()},
                },
                "filter": stemming_filters,
                "analyzer": {
                    TEXT_ANALYZER: {
                        "type": "custom",
                        "char_filter": [CHAR_FILTER],
                        "tokenizer": "standard",
                        "filter": [*_NORMALISING_FILTERS, "asciifolding"],
                    },
                    **stemming,
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


def loading_index_body(alias: str) -> dict[str, Any]:
    """index_body() with refreshes off and no replicas, under the `-rebuilding` alias that tells writers to write
    there too: how a rebuild creates its new index."""
    body = index_body()
    body["settings"]["index"].update(LOADING_SETTINGS)
    body["aliases"] = {rebuilding_alias(alias): {}}
    return body


def concrete_index_name(alias: str, at: datetime) -> str:
    """`<alias>-v<version>-<UTC timestamp>`; microseconds keep two rebuilds in one second apart."""
    stamp = at.astimezone(UTC) if at.tzinfo else at
    return f"{alias}-v{MAPPING_VERSION}-{stamp:%Y%m%d%H%M%S%f}"


def index_version(alias: str, index: str) -> int | None:
    """The mapping version in a concrete index name made by concrete_index_name(), else None."""
    prefix = f"{alias}-v"
    if not index.startswith(prefix):
        return None
    version, _, stamp = index[len(prefix) :].partition("-")
    return int(version) if version.isdigit() and stamp.isdigit() else None


def iso(moment: datetime) -> str:
    """An instant as OpenSearch stores it (millisecond precision, UTC); naive datetimes are taken as UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
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
        "attachments": clean_value(doc.attachments) or "",
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


def rebuilding_alias(alias: str) -> str:
    return f"{alias}{REBUILDING_SUFFIX}"


def index_actions(documents: Iterable[SearchDocument], index: str) -> list[dict[str, Any]]:
    """Bulk actions (opensearchpy.helpers format) that add or replace documents; _id "kind:id" makes them
    idempotent. The version is the document's last change (external_gte): a copy read from PostgreSQL before a
    later edit is refused (409) wherever the newer one was written first, so writers and a rebuild may race."""
    return [
        {
            "_op_type": "index",
            "_index": index,
            "_id": doc.key,
            "_source": document_source(doc),
            "version": micros(doc.updated_at),
            "version_type": "external_gte",
        }
        for doc in documents
    ]


def delete_actions(kind: DocKind, ids: Iterable[int], index: str, at: datetime) -> list[dict[str, Any]]:
    """Deletes versioned by the time of deletion (`at`): the tombstone refuses any older copy written later."""
    version = micros(at)
    return [
        {"_op_type": "delete", "_index": index, "_id": doc_id(kind, id), "version": version, "version_type": "external"}
        for id in dict.fromkeys(ids)
    ]


def swap_actions(
    alias: str, new_index: str, old_indexes: Sequence[str], *, drop_concrete: bool = False
) -> dict[str, Any]:
    """One `_aliases` body that moves the alias from the old indexes to the new one atomically. `drop_concrete`
    also removes a concrete index that squats the alias name (auto-created by a write before any alias existed).
    Writers stop writing to the new index twice as the same call takes its `-rebuilding` alias away."""
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in old_indexes]
    if drop_concrete:
        actions.append({"remove_index": {"index": alias}})
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    actions.append({"remove": {"index": new_index, "alias": rebuilding_alias(alias)}})
    return {"actions": actions}
