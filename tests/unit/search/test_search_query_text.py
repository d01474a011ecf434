"""Parsing websearch syntax and writing tsquery text, without a database."""

from search.backend import MAX_QUERY_CHARS
from search.postgres.query import MAX_TERMS, Forms, Term, build_tsquery, clean, parse, quote, term_query


def test_clean_strips_what_the_driver_refuses_and_cuts_long_text():
    assert clean("a\x00b") == "a b"
    assert clean("x\ud800y") == "xy"
    assert len(clean("z" * 10_000)) == MAX_QUERY_CHARS
    assert clean("  padded  ") == "padded"
    assert clean(None) == ""  # type: ignore[arg-type]


def test_parse_words_phrases_exclusions_and_or():
    assert parse('red "river valley" -lagoon') == [
        [Term("red"), Term("river valley", phrase=True), Term("lagoon", negated=True)]
    ]
    assert parse("a b or c") == [[Term("a"), Term("b")], [Term("c")]]
    assert parse('-"a phrase"') == [[Term("a phrase", phrase=True, negated=True)]]
    assert parse("foo-bar - -") == [[Term("foo-bar"), Term("-"), Term("-")]]


def test_parse_edge_cases():
    assert parse("") == [] and parse("   ") == []
    assert parse("or") == [] and parse("OR or") == []
    assert parse("a or") == [[Term("a")]]
    assert parse('"unclosed phrase') == [[Term("unclosed phrase", phrase=True)]]
    assert parse('""') == []
    assert sum(len(group) for group in parse("w " * 1000)) == MAX_TERMS


def test_quote_escapes_quotes_and_backslashes():
    assert quote("it's") == "'it''s'"
    assert quote("a\\b") == "'a\\\\b'"


def _forms(**by_config) -> Forms:
    return Forms(by_config={config: list(sequence) for config, sequence in by_config.items()})


def test_a_word_ors_its_forms_and_expansions():
    forms = _forms(simple=[(1, "documentaries")], english=[(1, "documentari")])
    # the word as written matches any item; a stem only items of the configurations that made it
    assert term_query(Term("documentaries"), forms) == "( 'documentaries' | ( 'documentari' & ' g:english' ) )"
    assert term_query(Term("documentaries"), forms, per_config=False) == "( 'documentari' | 'documentaries' )"
    forms.prefix, forms.expansions = "documentaries", ["documentary"]
    assert term_query(Term("documentaries"), forms) == (
        "( 'documentaries' | 'documentaries':* | 'documentary' | ( 'documentari' & ' g:english' ) )"
    )
    news = _forms(simple=[(1, "news")], english=[(1, "news")], french=[(1, "new")], spanish=[(1, "new")])
    assert term_query(Term("news"), news) == "( 'news' | ( 'new' & ( ' g:french' | ' g:spanish' ) ) )"
    assert term_query(Term("tehran"), _forms(simple=[(1, "tehran")], english=[(1, "tehran")])) == "'tehran'"


def test_stop_words_and_punctuation_drop_out():
    assert term_query(Term("the"), _forms(simple=[(1, "the")], english=[])) is None
    assert term_query(Term("!!!"), _forms(simple=[], english=[])) is None


def test_phrases_keep_distances_and_negation_wraps():
    forms = _forms(simple=[(1, "the"), (2, "red"), (3, "river")], english=[(2, "red"), (3, "river")])
    assert term_query(Term("the red river", phrase=True), forms) == (
        "( 'the' <-> 'red' <-> 'river' | ( 'red' <-> 'river' & ' g:english' ) )"
    )
    single = _forms(simple=[(1, "red"), (3, "river")])
    assert term_query(Term("red x river", phrase=True, negated=True), single) == "!( 'red' <2> 'river' )"


def test_build_ands_terms_and_ors_groups():
    groups = [[Term("a"), Term("b")], [Term("c")]]
    forms = [[_forms(simple=[(1, "a")]), _forms(simple=[(1, "b")])], [_forms(simple=[(1, "c")])]]
    assert build_tsquery(groups, forms) == "( 'a' & 'b' ) | ( 'c' )"
    assert build_tsquery([[Term("the")]], [[_forms(simple=[(1, "the")], english=[])]]) is None
