"""Filters as lexemes: what an item puts in its vector and what a filter asks for must meet."""

from datetime import UTC, datetime

from search.backend import DocKind, SearchDocument, SearchFilter
from search.postgres.filters import document_lexemes, filter_lexeme, filter_tsquery

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _doc(**overrides) -> SearchDocument:
    fields = dict(
        kind=DocKind.EPISODE,
        id=7,
        title="t",
        description="",
        tags=("jazz", "live"),
        category="music",
        language="fa-IR",
        program_id=3,
        program_title="p",
        public_from=NOW,
        date=NOW,
        updated_at=NOW,
    )
    fields.update(overrides)
    return SearchDocument(**fields)


def test_an_item_carries_one_lexeme_per_filterable_value():
    assert document_lexemes(_doc()) == sorted([" k:episode", " p:3", " c:music", " l:fa", " t:jazz", " t:live"])
    assert document_lexemes(_doc(category=None, language=None, tags=())) == [" k:episode", " p:3"]


def test_lexemes_cannot_be_typed():
    # the text search parser never makes a lexeme with a space: no query word reaches these
    assert all(lexeme.startswith(" ") for lexeme in document_lexemes(_doc()))


def test_long_and_odd_values_are_safe():
    long = filter_lexeme("c", "x" * 500)
    assert long.startswith(" c#") and len(long) == 3 + 32
    assert filter_lexeme("t", "a\x00b") == " t:a b"


def test_filter_tsquery_ors_within_a_part_and_ands_parts_and_tags():
    query = filter_tsquery(
        SearchFilter(
            kinds=(DocKind.PROGRAM,),
            program_ids=(3, 4),
            categories=("music",),
            languages=("fa-IR", "FA"),
            tags=("live", "jazz"),
        )
    )
    assert query == ("( ' k:program' ) & ( ' p:3' | ' p:4' ) & ( ' c:music' ) & ( ' l:fa' ) & ' t:jazz' & ' t:live'")
    assert filter_tsquery(SearchFilter()) is None
    assert filter_tsquery(SearchFilter(date_from=NOW)) is None  # dates stay column conditions


def test_quotes_in_values_are_escaped():
    assert filter_tsquery(SearchFilter(categories=("rock'n'roll",))) == "( ' c:rock''n''roll' )"


def test_sample_levels_are_nested_and_uniform():
    from search.postgres.counts import SAMPLE_LEVELS, sample_lexemes

    members = {level: 0 for level in SAMPLE_LEVELS}
    for i in range(64_000):
        lexemes = sample_lexemes(f"episode:{i}")
        levels = [int(lexeme.split(":")[1]) for lexeme in lexemes]
        assert levels == sorted(levels) and levels == list(SAMPLE_LEVELS[: len(levels)])  # 1/256 is inside 1/64 ...
        assert all(lexeme.startswith(" ") for lexeme in lexemes)
        for level in levels:
            members[level] += 1
    for level, count in members.items():
        assert abs(count - 64_000 / level) <= 0.1 * 64_000 / level, (level, count)
