"""The OpenSearch `_search` body for a SearchQuery. Pure (search.opensearch.page reads the response back).

The user's text (websearch syntax: words, "quoted phrases", -excluded, OR) is parsed here into clauses and every
clause goes into the `query` parameter of a match-family query (`multi_match`), which analyses text and has no
syntax of its own: no input can make OpenSearch fail to parse the request (`query_string` is never used).
As in `websearch_to_tsquery` (and the PostgreSQL backend), OR separates alternatives of AND-ed terms:
"a b or c" = (a AND b) OR c, and an excluded term belongs to its alternative. A word matches exactly (base or
language-stemmed fields), by prefix from 3 letters ("documen" -> "documentary") or with typos from 4 letters
(`fuzziness: AUTO`, words without digits); a phrase matches as a phrase; an excluded word or phrase removes exact
matches. A word that is a stop word of a document's language analyzer is neutral for that document
(`zero_terms_query: all` under a language filter), as PostgreSQL drops stop words; in other languages it must be
there ("war" is a German stop word, not an English one).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search.backend import (
    FACET_FIELDS,
    FACET_LIMIT,
    MAX_QUERY_CHARS,
    MIN_PREFIX_CHARS,
    DocKind,
    SearchOrder,
    SearchQuery,
    page_size,
)
from search.opensearch.mapping import FIELD_BOOSTS, LANGUAGE_ANALYZERS, iso, language_fields
from search.opensearch.page import decode_search_after
from search.text import primary_subtag
from search.typos import fuzzy_candidate

MAX_TERMS = 8  # positive words/phrases used; further ones are ignored (keeps the query under the clause limit)
MAX_EXCLUDED = 8
MAX_AFFIX_CHARS = 32  # longer words get no prefix/typo variants (long fuzzy terms are costly and never typos)
FUZZY_EXPANSIONS = 4  # close index terms tried per misspelt word and field (PostgreSQL: 4 suggestions)
TITLE_TIER_BOOST = 1000.0  # above any BM25 score the text clauses give: title matches rank first

# Facet name (search.backend.FACET_FIELDS) -> keyword field it counts.
FACET_SOURCES = {"category": "category", "language": "language_primary", "program": "program_id"}

# Ties go to the newest, then the highest id, then kind: the PostgreSQL backend's order.
_TIEBREAK = [{"date": {"order": "desc"}}, {"id": {"order": "desc"}}, {"kind": {"order": "desc"}}]
SORTS: dict[SearchOrder, list[dict[str, Any]]] = {
    SearchOrder.RELEVANCE: [{"_score": {"order": "desc"}}, *_TIEBREAK],
    SearchOrder.DATE: _TIEBREAK,
}

HIGHLIGHT: dict[str, Any] = {
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "encoder": "html",  # the source text is HTML-escaped around the tags
    "require_field_match": False,  # a match in tags or a language field still marks the words in title/description
    "fields": {
        "title": {"number_of_fragments": 0},  # the whole title
        "description": {"fragment_size": 160, "number_of_fragments": 2},
    },
}


def _boosted(field: str, weight_of: str | None = None) -> str:
    boost = FIELD_BOOSTS[weight_of or field]
    return field if boost == 1 else f"{field}^{boost:g}"


BASE_FIELDS = [_boosted(field) for field in FIELD_BOOSTS]
# A language field weighs what its base field weighs: title_english as title, description_persian as description.
LANGUAGE_FIELDS: dict[str, list[str]] = {}  # analyzer -> its boosted fields
for _field, _base in language_fields():
    LANGUAGE_FIELDS.setdefault(_field.split("_", 1)[1], []).append(_boosted(_field, _base))
ALL_FIELDS = BASE_FIELDS + [field for fields in LANGUAGE_FIELDS.values() for field in fields]
# The title tier's fields, unboosted (the tier scores a constant): the base title and every language's title.
TITLE_FIELDS = [
    "title",
    *(field.split("^")[0] for fields in LANGUAGE_FIELDS.values() for field in fields if field.startswith("title")),
]
# analyzer -> the primary language subtags whose documents it analyses
LANGUAGE_CODES = {
    analyzer: sorted(code for code, name in LANGUAGE_ANALYZERS.items() if name == analyzer)
    for analyzer in LANGUAGE_FIELDS
}


@dataclass(frozen=True, slots=True)
class Clause:
    text: str
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class Alternative:
    """AND-ed terms: every clause must match, no excluded one may."""

    clauses: tuple[Clause, ...] = ()
    excluded: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    alternatives: tuple[Alternative, ...] = ()  # any one will do; none = match everything

    @property
    def searches_text(self) -> bool:
        return any(alternative.clauses for alternative in self.alternatives)


def clean_text(text: object) -> str:
    """Cut to MAX_QUERY_CHARS; control characters (NUL included) and lone surrogates become spaces."""
    if not isinstance(text, str):
        return ""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text[:MAX_QUERY_CHARS])


def _searchable(text: str) -> bool:
    """Does the text hold anything an analyzer turns into a token (a letter or a decimal digit)?"""
    return any(ch.isalpha() or unicodedata.category(ch) == "Nd" for ch in text)


_OR = object()


def _items(text: str) -> list[tuple[Clause, bool] | object]:
    """Scan websearch syntax into (clause, excluded) pairs and OR markers."""
    items: list[tuple[Clause, bool] | object] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        excluded = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if excluded:
            i += 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            clause = Clause(" ".join(text[i + 1 : end].split()), phrase=True)
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != '"':
                i += 1
            clause = Clause(text[start:i])
            if not excluded and clause.text.upper() == "OR":
                items.append(_OR)
                continue
        if _searchable(clause.text):
            items.append((clause, excluded))
    return items


def parse_query(text: object) -> ParsedQuery:
    alternatives: list[tuple[list[Clause], list[Clause]]] = [([], [])]
    terms = excluded = 0
    for item in _items(clean_text(text)):
        if item is _OR:
            if any(alternatives[-1]):
                alternatives.append(([], []))
            continue
        clause, negative = item  # type: ignore[misc]
        if negative and excluded < MAX_EXCLUDED:
            excluded += 1
            alternatives[-1][1].append(clause)
        elif not negative and terms < MAX_TERMS:
            terms += 1
            alternatives[-1][0].append(clause)
    return ParsedQuery(
        tuple(Alternative(tuple(clauses), tuple(negated)) for clauses, negated in alternatives if clauses or negated)
    )


def _exact(clause: Clause, **extra: Any) -> dict[str, Any]:
    kind = {"type": "phrase"} if clause.phrase else {"type": "best_fields", "operator": "and"}
    return {"multi_match": {"query": clause.text, "fields": ALL_FIELDS, **kind, **extra}}


def _word(clause: Clause) -> dict[str, Any]:
    """A word as written: in the base fields, or in the stemmed fields of a document's own language, where a stop
    word of that language matches anything (zero terms -> all) and so drops out, for that document only."""

    def match(fields: list[str], **extra: Any) -> dict[str, Any]:
        spec = {"query": clause.text, "fields": fields, "type": "best_fields", "operator": "and"}
        return {"multi_match": {**spec, **extra}}

    by_language = [
        {
            "bool": {
                "filter": [{"terms": {"language_primary": LANGUAGE_CODES[analyzer]}}],
                "must": [match(fields, zero_terms_query="all")],
            }
        }
        for analyzer, fields in LANGUAGE_FIELDS.items()
    ]
    return {"dis_max": {"queries": [match(BASE_FIELDS), *by_language], "boost": 2}}


def affix_words(parsed: ParsedQuery) -> list[str]:
    """The words that may get prefix and typo variants, if the index does not know them (vocabulary_body)."""
    return sorted(
        {
            clause.text
            for alternative in parsed.alternatives
            for clause in alternative.clauses
            if not clause.phrase and MIN_PREFIX_CHARS <= len(clause.text) <= MAX_AFFIX_CHARS
        }
    )


def vocabulary_body(words: Sequence[str]) -> dict[str, Any]:
    """Asks which of `words` some document holds as written (or stemmed). Only the others get prefix and typo
    variants, as on PostgreSQL, whose vocabulary tables answer the same question: "news" must not find "new"."""
    checks = {str(i): _word(Clause(word)) for i, word in enumerate(words)}
    return {"size": 0, "track_total_hits": False, "aggs": {"known": {"filters": {"filters": checks}}}}


def known_words(words: Sequence[str], response: dict[str, Any]) -> frozenset[str]:
    buckets = response["aggregations"]["known"]["buckets"]
    return frozenset(word for i, word in enumerate(words) if buckets[str(i)]["doc_count"])


def clause_query(clause: Clause, known: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A word: exact (boosted), and unless the index knows it, by prefix or with typos; a phrase: the phrase."""
    if clause.phrase:
        return _exact(clause)
    if clause.text in known:
        return _word(clause)
    should = [_word(clause)]
    size = len(clause.text)
    if MIN_PREFIX_CHARS <= size <= MAX_AFFIX_CHARS:
        should.append(
            {
                "multi_match": {
                    "query": clause.text,
                    "fields": BASE_FIELDS,
                    "type": "bool_prefix",
                    "operator": "and",
                }
            }
        )
    if size <= MAX_AFFIX_CHARS and fuzzy_candidate(clause.text):
        should.append(
            {
                "multi_match": {
                    "query": clause.text,
                    "fields": BASE_FIELDS,
                    "type": "best_fields",
                    "operator": "and",
                    "fuzziness": "AUTO",
                    "prefix_length": 0,
                    "max_expansions": FUZZY_EXPANSIONS,
                    "boost": 0.5,
                }
            }
        )
    return should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}


def _alternative_query(alternative: Alternative, known: frozenset[str]) -> dict[str, Any]:
    clauses: dict[str, Any] = {}
    if alternative.clauses:
        clauses["must"] = [clause_query(clause, known) for clause in alternative.clauses]
    if alternative.excluded:
        clauses["must_not"] = [_exact(clause) for clause in alternative.excluded]
    return clauses


def filters(query: SearchQuery) -> list[dict[str, Any]]:
    spec = query.filter
    found: list[dict[str, Any]] = []
    if not query.include_drafts:
        found.append({"range": {"public_from": {"lte": iso(query.now)}}})  # a missing public_from never matches
    if spec.kinds:
        found.append({"terms": {"kind": sorted({DocKind(kind).value for kind in spec.kinds})}})
    if spec.program_ids:
        found.append({"terms": {"program_id": [str(int(id)) for id in spec.program_ids]}})
    if spec.categories:
        found.append({"terms": {"category": list(spec.categories)}})
    if spec.languages:
        primaries = sorted({p for p in map(primary_subtag, spec.languages) if p})
        found.append({"terms": {"language_primary": primaries}} if primaries else {"match_none": {}})
    found.extend({"term": {"tags.keyword": tag}} for tag in dict.fromkeys(spec.tags))
    dates = {}
    if spec.date_from is not None:
        dates["gte"] = iso(spec.date_from)
    if spec.date_to is not None:
        dates["lt"] = iso(spec.date_to)
    if dates:
        found.append({"range": {"date": dates}})
    return found


def title_tier(parsed: ParsedQuery) -> dict[str, Any] | None:
    """Scores TITLE_TIER_BOOST more for a positive word or phrase in the title (base or language field), so that
    title matches rank above every other match, as the PostgreSQL backend's title tier does. Matches nothing new."""
    clauses = [clause for alternative in parsed.alternatives for clause in alternative.clauses]
    if not clauses:
        return None
    words = [
        {
            "multi_match": {
                "query": clause.text,
                "fields": TITLE_FIELDS,
                "type": "phrase" if clause.phrase else "best_fields",
                "operator": "or",
            }
        }
        for clause in clauses
    ]
    return {
        "constant_score": {"filter": {"bool": {"should": words, "minimum_should_match": 1}}, "boost": TITLE_TIER_BOOST}
    }


def build_query(parsed: ParsedQuery, query: SearchQuery, known: frozenset[str] = frozenset()) -> dict[str, Any]:
    clauses: dict[str, Any] = {}
    if len(parsed.alternatives) == 1:
        clauses = _alternative_query(parsed.alternatives[0], known)
    elif parsed.alternatives:
        clauses["should"] = [{"bool": _alternative_query(alternative, known)} for alternative in parsed.alternatives]
        clauses["minimum_should_match"] = 1
    if (tier := title_tier(parsed)) is not None:  # in DATE order too: the scores stay on one scale
        if "should" in clauses:  # alternatives: they become one must, so that the tier's should cannot match alone
            clauses = {"must": [{"bool": clauses}]}
        clauses["should"] = [tier]  # a should beside a must only adds to the score
    if found := filters(query):
        clauses["filter"] = found
    return {"bool": clauses} if clauses else {"match_all": {}}


def facet_aggs() -> dict[str, Any]:
    """Counted over everything the query and filters match (aggregations ignore paging; no post_filter)."""
    return {name: {"terms": {"field": FACET_SOURCES[name], "size": FACET_LIMIT}} for name in FACET_FIELDS}


def search_body(
    query: SearchQuery, known: frozenset[str] = frozenset(), parsed: ParsedQuery | None = None
) -> dict[str, Any]:
    """The whole `_search` body; raises InvalidCursor for a bad `after`. Fetches one hit more to learn has_next.
    `known`: words the index holds (vocabulary_body), which match only as written; `parsed`: the query's text
    already parsed, if the caller has it."""
    parsed = parse_query(query.text) if parsed is None else parsed
    body: dict[str, Any] = {
        "query": build_query(parsed, query, known),
        "sort": SORTS[query.order],
        "size": page_size(query) + 1,
        "track_total_hits": True,
        "_source": ["kind", "id"],
    }
    if query.order is not SearchOrder.RELEVANCE:
        body["track_scores"] = True
    if query.after is not None:
        body["search_after"] = decode_search_after(query.after, query.order)
    if parsed.searches_text:
        body["highlight"] = HIGHLIGHT
    if query.with_facets:
        body["aggs"] = facet_aggs()
    return body
