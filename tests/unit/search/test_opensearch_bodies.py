"""The OpenSearch backend's request bodies, mappings, bulk actions and cursors, as pure data (no server)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from search.backend import (
    FACET_FIELDS,
    MAX_QUERY_CHARS,
    DocKind,
    FacetCount,
    InvalidCursor,
    SearchDocument,
    SearchFilter,
    SearchOrder,
    SearchQuery,
)
from search.cursor import micros
from search.opensearch.mapping import (
    LANGUAGE_ANALYZERS,
    MAPPING_VERSION,
    TEXT_ANALYZER,
    concrete_index_name,
    delete_actions,
    document_source,
    index_actions,
    index_body,
    index_version,
    iso,
    loading_index_body,
    swap_actions,
)
from search.opensearch.page import decode_search_after, empty_page, encode_search_after, parse_response
from search.opensearch.query import (
    ALL_FIELDS,
    BASE_FIELDS,
    FUZZY_EXPANSIONS,
    LANGUAGE_CODES,
    LANGUAGE_FIELDS,
    MAX_EXCLUDED,
    MAX_TERMS,
    TITLE_TIER_BOOST,
    Alternative,
    Clause,
    clean_text,
    parse_query,
    search_body,
)
from search.text import primary_subtag as language_primary

NOW = datetime(2025, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


def doc(**changes: Any) -> SearchDocument:
    values: dict[str, Any] = dict(
        kind=DocKind.EPISODE,
        id=7,
        title="Night <b>Jazz</b>",
        description="A documentary",
        tags=("jazz", "live"),
        category="music",
        language="fa-IR",
        program_id=3,
        program_title="Jazz Hour",
        public_from=NOW - timedelta(days=1),
        date=NOW - timedelta(days=1),
        updated_at=NOW,
    )
    values.update(changes)
    return SearchDocument(**values)


def query(text: str = "", **changes: Any) -> SearchQuery:
    return SearchQuery(text=text, now=NOW, **changes)


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a JSON-like body."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def filters_of(body: dict) -> list[dict]:
    return body["query"]["bool"].get("filter", [])


# -- index layout ----------------------------------------------------------------------------------------------------


def test_index_body_analyzers_work_for_every_script() -> None:
    analysis = index_body()["settings"]["analysis"]
    text = analysis["analyzer"][TEXT_ANALYZER]
    assert text["tokenizer"] == "standard"
    for step in ("lowercase", "asciifolding", "arabic_normalization", "persian_normalization", "decimal_digit"):
        assert step in text["filter"]
    assert text["filter"].index("lowercase") < text["filter"].index("asciifolding")
    (char_filter,) = text["char_filter"]
    rules = analysis["char_filter"][char_filter]["mappings"]
    assert "\\u200C=>\\u0020" in rules and "\\u200D=>" in rules  # ZWNJ splits words, the joiner goes


def test_index_body_field_types() -> None:
    mappings = index_body()["mappings"]
    props = mappings["properties"]
    assert mappings["dynamic"] is False
    assert mappings["_meta"] == {"mapping_version": MAPPING_VERSION}
    for field in ("title", "description", "tags", "program_words", "attachments"):
        assert props[field] == {"type": "text", "analyzer": TEXT_ANALYZER} | (
            {"fields": {"keyword": {"type": "keyword", "ignore_above": 256}}} if field == "tags" else {}
        )
    for field in ("doc_key", "kind", "category", "language", "language_primary", "program_id"):
        assert props[field] == {"type": "keyword"}, field
    for field in ("public_from", "date", "updated_at"):
        assert props[field] == {"type": "date"}, field
    assert props["id"] == {"type": "long"}
    assert props["program_title"] == {"type": "keyword", "index": False, "doc_values": False}


def test_language_fields_stem_with_postgresqls_snowball_stemmers() -> None:
    body = index_body()
    props, analysis = body["mappings"]["properties"], body["settings"]["analysis"]
    assert "fa" not in LANGUAGE_ANALYZERS  # no Persian stemmer in PostgreSQL: the base fields match Persian
    for code, analyzer in (("en", "english"), ("ar", "arabic"), ("fr", "french"), ("de", "german"), ("es", "spanish")):
        assert LANGUAGE_ANALYZERS[code] == analyzer
        assert props[f"title_{analyzer}"] == {"type": "text", "analyzer": f"cms_{analyzer}"}
        assert props[f"description_{analyzer}"] == {"type": "text", "analyzer": f"cms_{analyzer}"}
        assert analysis["analyzer"][f"cms_{analyzer}"]["filter"][-1] == f"{analyzer}_snowball"
        assert analysis["filter"][f"{analyzer}_snowball"] == {"type": "snowball", "language": analyzer.capitalize()}
        assert f"title_{analyzer}^3" in ALL_FIELDS and f"description_{analyzer}" in ALL_FIELDS
        assert LANGUAGE_FIELDS[analyzer] == [f"title_{analyzer}^3", f"description_{analyzer}"]
        assert code in LANGUAGE_CODES[analyzer]


def test_loading_body_turns_refresh_and_replicas_off_without_touching_the_live_one() -> None:
    body = loading_index_body("cms")
    loading = body["settings"]["index"]
    assert loading["refresh_interval"] == "-1" and loading["number_of_replicas"] == 0
    assert loading["auto_expand_replicas"] == "false" and loading["gc_deletes"] == "6h"
    assert body["aliases"] == {"cms-rebuilding": {}}  # writers write there too while it loads
    live = index_body()["settings"]["index"]
    assert live["refresh_interval"] == "1s" and live["auto_expand_replicas"] == "0-1"
    assert live["number_of_shards"] == 1


def test_concrete_index_names_carry_version_and_utc_time() -> None:
    at = datetime(2025, 1, 2, 4, 4, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    name = concrete_index_name("cms-search", at)
    assert name == f"cms-search-v{MAPPING_VERSION}-20250102030405123456"
    assert index_version("cms-search", name) == MAPPING_VERSION
    assert index_version("cms-search", "cms-search") is None
    assert index_version("cms-search", "cms-search-vx-1") is None
    assert index_version("other", name) is None


def test_language_primary() -> None:
    assert language_primary("fa-IR") == "fa"
    assert language_primary("EN_us") == "en"
    assert language_primary(" ckb ") == "ckb"
    assert language_primary("") is None and language_primary(None) is None


# -- documents and bulk actions --------------------------------------------------------------------------------------


def test_document_source() -> None:
    source = document_source(doc())
    assert source["doc_key"] == "episode:7" and source["kind"] == "episode" and source["id"] == 7
    assert source["language"] == "fa-IR" and source["language_primary"] == "fa"
    assert not [key for key in source if key.startswith(("title_", "description_"))]  # no Persian stemmer
    english = document_source(doc(language="en-GB"))
    assert english["title_english"] == "Night <b>Jazz</b>" and english["description_english"] == "A documentary"
    assert source["program_id"] == "3" and source["tags"] == ["jazz", "live"]
    assert source["program_words"] == "Jazz Hour" and source["program_title"] == "Jazz Hour"
    assert document_source(doc(kind=DocKind.PROGRAM))["program_words"] == ""  # a program's title is its own
    assert source["attachments"] == ""  # no documents attached
    with_pdf = document_source(dataclasses.replace(doc(language="en-GB"), attachments="Minutes of the \x00meeting"))
    assert with_pdf["attachments"] == "Minutes of the  meeting" and "attachments_english" not in with_pdf  # unstemmed
    assert source["date"] == "2025-03-03T05:06:07.891+00:00" and source["updated_at"] == "2025-03-04T05:06:07.891+00:00"
    assert set(source) <= set(index_body()["mappings"]["properties"])  # every field is mapped (dynamic: false)


def test_document_source_without_a_known_language_or_publish_time() -> None:
    for language in (None, "xx-YY", ""):
        source = document_source(doc(language=language, public_from=None))
        assert source["public_from"] is None
        assert not [key for key in source if key.startswith(("title_", "description_"))]
    assert document_source(doc(language=None))["language_primary"] is None


def test_document_text_is_made_safe_for_a_bulk_body() -> None:
    source = document_source(
        doc(
            title="Null\x00byte \ud800volcano",
            description="x" * 600_000,
            tags=("a\x00b", "t" * 300),
            category="\udfffnews",
            language="en\x00",
        )
    )
    json.dumps(source, ensure_ascii=False).encode()  # no lone surrogates left
    assert source["title"] == "Null byte volcano" and source["title_english"] == "Null byte volcano"
    assert len(source["description"]) == 500_000  # under index.highlight.max_analyzed_offset
    assert source["tags"] == ["a b", "t" * 256] and source["category"] == "news"
    assert source["language"] == "en " and source["language_primary"] == "en"


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(datetime(2025, 1, 1, 12, 0, 0, 999999)) == "2025-01-01T12:00:00.999+00:00"  # naive = UTC
    assert iso(datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-2)))) == "2025-01-01T14:00:00.000+00:00"


def test_index_actions_are_keyed_by_kind_and_id_and_versioned_by_the_last_change() -> None:
    actions = index_actions([doc(), doc(kind=DocKind.PROGRAM, id=3)], "cms-search")
    assert [(a["_op_type"], a["_index"], a["_id"]) for a in actions] == [
        ("index", "cms-search", "episode:7"),
        ("index", "cms-search", "program:3"),
    ]
    assert actions[0]["_source"] == document_source(doc())
    updated = doc().updated_at
    assert actions[0]["version"] == micros(updated) and actions[0]["version_type"] == "external_gte"


def test_delete_actions_deduplicate_and_are_versioned_by_their_time() -> None:
    at = datetime(2025, 3, 5, tzinfo=UTC)
    actions = delete_actions(DocKind.PROGRAM, [4, 5, 4], "cms-search", at)
    version = {"version": micros(at), "version_type": "external"}
    assert actions == [
        {"_op_type": "delete", "_index": "cms-search", "_id": "program:4", **version},
        {"_op_type": "delete", "_index": "cms-search", "_id": "program:5", **version},
    ]


def test_swap_moves_the_alias_in_one_call() -> None:
    body = swap_actions("cms", "cms-v1-2", ["cms-v1-1"])
    done = {"remove": {"index": "cms-v1-2", "alias": "cms-rebuilding"}}  # writers stop writing there twice
    assert body == {
        "actions": [
            {"remove": {"index": "cms-v1-1", "alias": "cms"}},
            {"add": {"index": "cms-v1-2", "alias": "cms", "is_write_index": True}},
            done,
        ]
    }
    first = swap_actions("cms", "cms-v1-2", [], drop_concrete=True)["actions"]
    assert first == [
        {"remove_index": {"index": "cms"}},
        {"add": {"index": "cms-v1-2", "alias": "cms", "is_write_index": True}},
        done,
    ]


# -- parsing the user's text -----------------------------------------------------------------------------------------


def alt(*clauses: Clause | str, excluded: tuple = ()) -> Alternative:
    return Alternative(
        tuple(Clause(c) if isinstance(c, str) else c for c in clauses),
        tuple(Clause(c) if isinstance(c, str) else c for c in excluded),
    )


def test_parse_words_phrases_exclusions() -> None:
    parsed = parse_query('jazz "night train" -live cats -"bad news"')
    assert parsed.alternatives == (
        alt("jazz", Clause("night train", phrase=True), "cats", excluded=("live", Clause("bad news", phrase=True))),
    )
    assert parsed.searches_text


def test_or_separates_alternatives_of_and_ed_terms() -> None:
    """As websearch_to_tsquery: "a b or c" = (a AND b) OR c; exclusions stay in their alternative."""
    assert parse_query("a b OR c").alternatives == (alt("a", "b"), alt("c"))
    assert parse_query("a or -b c").alternatives == (alt("a"), alt("c", excluded=("b",)))
    assert parse_query("OR jazz OR").alternatives == (alt("jazz"),)
    assert parse_query("a OR OR b").alternatives == (alt("a"), alt("b"))


def test_parse_edge_cases() -> None:
    assert parse_query("").alternatives == () and parse_query("   ").alternatives == ()
    assert parse_query('"unclosed phrase').alternatives == (alt(Clause("unclosed phrase", phrase=True)),)
    assert parse_query('!!! "" - -- ... jazz').alternatives == (alt("jazz"),)  # nothing searchable is dropped
    assert parse_query("e-mail").alternatives == (alt("e-mail"),)  # a dash inside a word is not an exclusion
    only = parse_query("-only")
    assert only.alternatives == (alt(excluded=("only",)),) and not only.searches_text
    assert parse_query('foo"bar baz"').alternatives == (alt("foo", Clause("bar baz", phrase=True)),)
    assert parse_query("OR or Or").alternatives == ()


def test_parse_caps_terms() -> None:
    parsed = parse_query(" ".join(f"w{i}" for i in range(50)) + " " + " ".join(f"-x{i}" for i in range(50)))
    (only,) = parsed.alternatives
    assert len(only.clauses) == MAX_TERMS and len(only.excluded) == MAX_EXCLUDED
    many = parse_query(" OR ".join(f"w{i}" for i in range(50)))
    assert len(many.alternatives) == MAX_TERMS


def test_clean_text_strips_control_characters_and_trims() -> None:
    assert clean_text("a\x00b\x1fc\x7f\ud800d") == "a b c  d"
    assert clean_text("می\u200cخواهم") == "می\u200cخواهم"  # format characters (ZWNJ) are kept for the analyzer
    assert len(clean_text("x" * 10_000)) == MAX_QUERY_CHARS
    assert clean_text(None) == ""


# -- search bodies ---------------------------------------------------------------------------------------------------


def test_empty_query_matches_everything_visible() -> None:
    body = search_body(query())
    assert body["query"] == {"bool": {"filter": [{"range": {"public_from": {"lte": "2025-03-04T05:06:07.891+00:00"}}}]}}
    assert "highlight" not in body
    assert body["track_total_hits"] is True and body["size"] == 21 and body["_source"] == ["kind", "id"]


def test_empty_query_with_drafts_is_match_all() -> None:
    assert search_body(query("  ", include_drafts=True))["query"] == {"match_all": {}}


def test_drafts_drop_only_the_visibility_filter() -> None:
    spec = SearchFilter(categories=("music",))
    assert filters_of(search_body(query("jazz", include_drafts=True, filter=spec))) == [
        {"terms": {"category": ["music"]}}
    ]
    assert filters_of(search_body(query("jazz", filter=spec)))[0]["range"]["public_from"] == {"lte": iso(NOW)}


def test_words_match_exactly_by_prefix_or_with_typos() -> None:
    (must,) = search_body(query("documen"))["query"]["bool"]["must"]
    exact, prefix, fuzzy = must["bool"]["should"]
    assert must["bool"]["minimum_should_match"] == 1
    assert exact["dis_max"]["boost"] == 2
    base, *languages = exact["dis_max"]["queries"]
    assert base == {
        "multi_match": {"query": "documen", "fields": BASE_FIELDS, "type": "best_fields", "operator": "and"}
    }
    assert prefix["multi_match"]["type"] == "bool_prefix" and prefix["multi_match"]["fields"] == BASE_FIELDS
    assert fuzzy["multi_match"]["fuzziness"] == "AUTO" and fuzzy["multi_match"]["fields"] == BASE_FIELDS
    assert fuzzy["multi_match"]["max_expansions"] == FUZZY_EXPANSIONS
    assert BASE_FIELDS == ["title^3", "tags^2", "description", "program_words^0.5", "attachments^0.5"]
    assert len(languages) == len(LANGUAGE_FIELDS)


def test_stop_words_drop_out_only_for_documents_of_their_language() -> None:
    (must,) = search_body(query("the"))["query"]["bool"]["must"]
    base, *languages = must["bool"]["should"][0]["dis_max"]["queries"]
    assert "zero_terms_query" not in base["multi_match"]  # elsewhere the word must be there
    english = next(q for q in languages if q["bool"]["filter"] == [{"terms": {"language_primary": ["en"]}}])
    (match,) = english["bool"]["must"]
    assert match["multi_match"]["fields"] == ["title_english^3", "description_english"]
    assert match["multi_match"]["zero_terms_query"] == "all"


def test_short_words_and_numbers_get_fewer_variants() -> None:
    (two,) = search_body(query("ab"))["query"]["bool"]["must"]
    assert "dis_max" in two  # exact only: a 2-letter prefix matches half the index
    (three,) = search_body(query("teh"))["query"]["bool"]["must"]
    assert [next(iter(c)) for c in three["bool"]["should"]] == ["dis_max", "multi_match"]
    assert three["bool"]["should"][1]["multi_match"]["type"] == "bool_prefix"  # no typos: "teh" is a swap of "the"
    (year,) = search_body(query("2024"))["query"]["bool"]["must"]
    assert len(year["bool"]["should"]) == 2  # 2023 is no typo of 2024
    (long,) = search_body(query("x" * 40))["query"]["bool"]["must"]
    assert "dis_max" in long


def test_every_word_must_match_and_or_gives_alternatives() -> None:
    outer = search_body(query("jazz cats OR dogs"))["query"]["bool"]
    assert outer["filter"]  # the filters hold for every alternative
    (must,) = outer["must"]
    bool_ = must["bool"]
    first, second = bool_["should"]
    assert bool_["minimum_should_match"] == 1
    assert len(first["bool"]["must"]) == 2 and len(second["bool"]["must"]) == 1
    assert second["bool"]["must"][0]["bool"]["should"][1]["multi_match"]["query"] == "dogs"
    (tier,) = outer["should"]  # the title tier adds to the score of either alternative
    assert tier["constant_score"]["boost"] == TITLE_TIER_BOOST


def test_phrase_is_a_phrase_match() -> None:
    (must,) = search_body(query('"night train"'))["query"]["bool"]["must"]
    assert must == {"multi_match": {"query": "night train", "fields": ALL_FIELDS, "type": "phrase"}}
    assert "title_english^3" in ALL_FIELDS and "program_words^0.5" in ALL_FIELDS


def test_title_matches_rank_first() -> None:
    bool_ = search_body(query('jazz "night train" -live'))["query"]["bool"]
    (tier,) = bool_["should"]  # beside `must`: adds to the score, matches nothing on its own
    assert len(bool_["must"]) == 2 and "minimum_should_match" not in bool_
    spec = tier["constant_score"]
    assert spec["boost"] == TITLE_TIER_BOOST
    words = spec["filter"]["bool"]["should"]
    assert [(w["multi_match"]["query"], w["multi_match"]["type"]) for w in words] == [
        ("jazz", "best_fields"),
        ("night train", "phrase"),
    ]  # positive words and phrases only
    assert all(field.startswith("title") and "^" not in field for w in words for field in w["multi_match"]["fields"])
    assert "title_english" in words[0]["multi_match"]["fields"]
    by_date, by_relevance = (
        search_body(query("jazz", order=order))["query"]["bool"]["should"]
        for order in (SearchOrder.DATE, SearchOrder.RELEVANCE)
    )
    assert by_date == by_relevance  # the same scores in either order
    assert "should" not in search_body(query("-live"))["query"]["bool"]


def test_exclusions_go_to_must_not() -> None:
    bool_ = search_body(query('jazz -live -"bad news"'))["query"]["bool"]
    assert bool_["must_not"] == [
        {"multi_match": {"query": "live", "fields": ALL_FIELDS, "type": "best_fields", "operator": "and"}},
        {"multi_match": {"query": "bad news", "fields": ALL_FIELDS, "type": "phrase"}},
    ]
    only = search_body(query("-live"))
    assert "must" not in only["query"]["bool"] and "highlight" not in only


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (SearchFilter(kinds=(DocKind.PROGRAM,)), {"terms": {"kind": ["program"]}}),
        (SearchFilter(program_ids=(3, 12)), {"terms": {"program_id": ["3", "12"]}}),
        (SearchFilter(categories=("music", "news")), {"terms": {"category": ["music", "news"]}}),
        (SearchFilter(languages=("fa-IR", "fa", "EN")), {"terms": {"language_primary": ["en", "fa"]}}),
        (SearchFilter(languages=("",)), {"match_none": {}}),
        (SearchFilter(date_from=NOW), {"range": {"date": {"gte": iso(NOW)}}}),
        (SearchFilter(date_to=NOW), {"range": {"date": {"lt": iso(NOW)}}}),
        (
            SearchFilter(date_from=NOW - timedelta(days=1), date_to=NOW),
            {"range": {"date": {"gte": iso(NOW - timedelta(days=1)), "lt": iso(NOW)}}},
        ),
    ],
)
def test_each_filter(spec: SearchFilter, expected: dict) -> None:
    assert filters_of(search_body(query("jazz", filter=spec, include_drafts=True))) == [expected]


def test_tags_need_all() -> None:
    found = filters_of(search_body(query(filter=SearchFilter(tags=("jazz", "live", "jazz")), include_drafts=True)))
    assert found == [{"term": {"tags.keyword": "jazz"}}, {"term": {"tags.keyword": "live"}}]


def test_filters_combine() -> None:
    spec = SearchFilter(kinds=(DocKind.EPISODE,), categories=("music",), tags=("a",))
    assert len(filters_of(search_body(query("x", filter=spec)))) == 4  # visibility + 3


def test_orderings() -> None:
    relevance = search_body(query("jazz"))
    assert relevance["sort"] == [
        {"_score": {"order": "desc"}},
        {"date": {"order": "desc"}},
        {"id": {"order": "desc"}},
        {"kind": {"order": "desc"}},
    ]
    assert "track_scores" not in relevance and "search_after" not in relevance
    date = search_body(query("jazz", order=SearchOrder.DATE))
    assert date["sort"] == [{"date": {"order": "desc"}}, {"id": {"order": "desc"}}, {"kind": {"order": "desc"}}]
    assert date["track_scores"] is True


def test_cursors_become_search_after() -> None:
    after = encode_search_after(SearchOrder.RELEVANCE, [1.5, 1700000000000, 4, "episode"])
    assert search_body(query("jazz", after=after))["search_after"] == [1.5, 1700000000000, 4, "episode"]
    after = encode_search_after(SearchOrder.DATE, [1700000000000, 9, "program"])
    assert search_body(query(order=SearchOrder.DATE, after=after))["search_after"] == [1700000000000, 9, "program"]
    with pytest.raises(InvalidCursor):
        search_body(
            query(order=SearchOrder.DATE, after=encode_search_after(SearchOrder.RELEVANCE, [1.0, 1, 1, "program"]))
        )


def test_page_size_fetches_one_more() -> None:
    assert search_body(query(first=5))["size"] == 6
    assert search_body(query(first=0))["size"] == 1
    assert search_body(query(first=-3))["size"] == 1
    assert search_body(query(first=10**9))["size"] <= 10_000


def test_facets_over_all_visible_matches() -> None:
    body = search_body(query("jazz"))
    assert body["aggs"] == {
        "category": {"terms": {"field": "category", "size": 20}},
        "language": {"terms": {"field": "language_primary", "size": 20}},
        "program": {"terms": {"field": "program_id", "size": 20}},
    }
    assert set(body["aggs"]) == set(FACET_FIELDS)
    assert "post_filter" not in body  # facets count what the query and filters match
    assert "aggs" not in search_body(query("jazz", with_facets=False))


def test_highlight_settings() -> None:
    highlight = search_body(query("jazz"))["highlight"]
    assert highlight["pre_tags"] == ["<mark>"] and highlight["post_tags"] == ["</mark>"]
    assert highlight["encoder"] == "html"
    assert set(highlight["fields"]) == {"title", "description"}
    assert highlight["fields"]["title"]["number_of_fragments"] == 0


HOSTILE = [
    "title:x AND (y OR",
    "\x00\x01' OR 1=1; DROP TABLE program; --",
    "{{{{[[[[",
    "*:*",
    "a" * 10_000,
    "\ud800\udfff lone",
    "/.*/ ~2 ^3 \\",
    '"""""',
    "-",
    "OR OR OR",
    "ـ" * 600,
    "x~ y* z? (a|b)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_a_query_parameter(text: str) -> None:
    body = search_body(query(text))
    json.dumps(body, ensure_ascii=False).encode()  # serialisable as the client sends it (no lone surrogates)
    keys = [key for key, _ in walk(body)]
    assert "query_string" not in keys and "simple_query_string" not in keys and "regexp" not in keys
    texts = [value for key, value in walk(body) if key == "query" and isinstance(value, str)]
    assert all(len(value) <= MAX_QUERY_CHARS and "\x00" not in value for value in texts)


def _leaf_clauses(node: Any) -> int:
    """An upper bound of the Lucene clauses a body expands to (fields x terms, fuzzy expansions included)."""
    if isinstance(node, list):
        return sum(_leaf_clauses(item) for item in node)
    if not isinstance(node, dict):
        return 0
    if "multi_match" in node:
        spec = node["multi_match"]
        per_field = spec.get("max_expansions", 1) if "fuzziness" in spec else 1
        return len(spec["fields"]) * per_field * max(1, len(spec["query"].split()))
    if {"term", "terms", "range", "match_all", "match_none"} & set(node):
        return 1
    return sum(_leaf_clauses(value) for key, value in node.items() if key != "aggs")


def test_worst_case_query_stays_under_the_clause_limit() -> None:
    words = " ".join(f"word{i:02d}abcdefghijklmn" for i in range(12))  # fuzzy and prefix variants for each
    excluded = " ".join(f"-nope{i:02d}" for i in range(12))
    text = f"{words} {excluded}"
    assert len(text) <= MAX_QUERY_CHARS
    (parsed,) = parse_query(text).alternatives
    assert (len(parsed.clauses), len(parsed.excluded)) == (MAX_TERMS, MAX_EXCLUDED)
    spec = SearchFilter(kinds=(DocKind.EPISODE,), languages=("en",), tags=tuple("abcde"), date_from=NOW, date_to=NOW)
    body = search_body(query(text, filter=spec))
    assert 700 < _leaf_clauses(body["query"]) < 1024  # indices.query.bool.max_clause_count


# -- cursors ---------------------------------------------------------------------------------------------------------


def test_cursor_round_trip() -> None:
    for order, values in (
        (SearchOrder.RELEVANCE, [0.123456789012, 1, 9, "episode"]),
        (SearchOrder.RELEVANCE, [0.0, -5, 1, "program"]),
        (SearchOrder.DATE, [1700000000000, 2**62, "program"]),
    ):
        cursor = encode_search_after(order, values)
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
        assert decode_search_after(cursor, order) == values


def test_cursor_values_are_normalised_from_a_response() -> None:
    cursor = encode_search_after(SearchOrder.RELEVANCE, [0, 5, 7, "program"])  # an integral score
    assert decode_search_after(cursor, SearchOrder.RELEVANCE) == [0.0, 5, 7, "program"]


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _os(*values: Any, order: str = "relevance") -> str:
    return _b64({"b": "opensearch", "o": order, "k": list(values)})


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "%%%",
        "x" * 5000,
        "bm90IGpzb24",
        _b64(b"\xff\xfe"),
        _b64([1, 2]),
        _b64({"o": "relevance", "k": []}),
        _b64({"b": "postgres", "o": "relevance", "k": [1, 1, 1, "program"]}),  # the other backend's cursor
        _os(1.0, 1, 1),
        _os("1", 1, 1, "program"),
        _os(True, 1, 1, "program"),
        _os(1.0, 1, 1, ["program"]),
        _os(1.0, 1, 1, "asset"),
        _os(1.0, 1.5, 1, "program"),
        _os(1.0, 2**64, 1, "program"),
        _os(1.0, 1, -(2**63), "program"),
        _os(1, 1, 1, "program"),  # a score is a float
        _b64({"b": "opensearch", "o": "relevance", "k": {"a": 1}}),
        base64.urlsafe_b64encode(b'{"b":"opensearch","o":"relevance","k":[NaN,1,1,"program"]}').decode(),
        base64.urlsafe_b64encode(b'{"b":"opensearch","o":"relevance","k":[Infinity,1,1,"program"]}').decode(),
    ],
)
def test_bad_cursors(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_search_after(cursor, SearchOrder.RELEVANCE)


def test_cursor_of_another_ordering() -> None:
    with pytest.raises(InvalidCursor):
        decode_search_after(encode_search_after(SearchOrder.DATE, [1, 1, "program"]), SearchOrder.RELEVANCE)


# -- responses -------------------------------------------------------------------------------------------------------


def _raw_hit(kind: str, id: int, score: float | None, sort: list, highlight: dict | None = None) -> dict:
    hit = {"_id": f"{kind}:{id}", "_score": score, "_source": {"kind": kind, "id": id}, "sort": sort}
    if highlight is not None:
        hit["highlight"] = highlight
    return hit


def test_parse_response() -> None:
    response = {
        "hits": {
            "total": {"value": 42, "relation": "eq"},
            "hits": [
                _raw_hit(
                    "episode",
                    1,
                    2.5,
                    [2.5, 10, 1, "episode"],
                    {"title": ["<mark>Jazz</mark> &lt;live&gt;"], "description": ["a", "b"], "tags": ["x"]},
                ),
                _raw_hit("program", 2, 1.0, [1.0, 9, 2, "program"]),
                _raw_hit("program", 3, 0.5, [0.5, 8, 3, "program"]),
            ],
        },
        "aggregations": {
            "category": {"buckets": [{"key": "music", "doc_count": 30}, {"key": "news", "doc_count": 12}]},
            "language": {"buckets": [{"key": "fa", "doc_count": 40}]},
            "program": {"buckets": [{"key": "3", "doc_count": 41}]},
        },
    }
    page = parse_response(response, query("jazz", first=2))
    assert page.total == 42 and page.has_next is True
    assert [(hit.kind, hit.id, hit.score) for hit in page.hits] == [
        (DocKind.EPISODE, 1, 2.5),
        (DocKind.PROGRAM, 2, 1.0),
    ]
    assert page.hits[0].highlights == {"title": "<mark>Jazz</mark> &lt;live&gt;", "description": "a … b"}
    assert page.hits[1].highlights == {}
    assert decode_search_after(page.hits[1].cursor, SearchOrder.RELEVANCE) == [1.0, 9, 2, "program"]
    assert page.facets == {
        "category": [FacetCount("music", 30), FacetCount("news", 12)],
        "language": [FacetCount("fa", 40)],
        "program": [FacetCount("3", 41)],
    }
    last = parse_response(response, query("jazz", first=3, with_facets=False))
    assert last.has_next is False and len(last.hits) == 3 and last.facets == {}
    assert page.exact_counts
    response["hits"]["total"] = {"value": 10_000, "relation": "gte"}  # a cluster that stopped counting
    assert not parse_response(response, query("jazz")).exact_counts


def test_date_order_hits_without_scores() -> None:
    response = {"hits": {"total": {"value": 1}, "hits": [_raw_hit("program", 2, None, [9, 2, "program"])]}}
    page = parse_response(response, query(order=SearchOrder.DATE))
    assert page.hits[0].score == 0.0
    assert decode_search_after(page.hits[0].cursor, SearchOrder.DATE) == [9, 2, "program"]
    assert page.facets == {name: [] for name in FACET_FIELDS}


def test_empty_page() -> None:
    assert empty_page(query()).facets == {name: [] for name in FACET_FIELDS}
    assert empty_page(query(with_facets=False)).facets == {}
    assert empty_page(query()).hits == [] and empty_page(query()).total == 0
