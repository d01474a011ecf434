"""Trigrams as pg_trgm makes them (expected values taken from `show_trgm` / `similarity` on PostgreSQL 15)."""

from search.typos import best_matches, count_bounds, fuzzy_candidate, similarity, trigrams


def test_trigrams_match_pg_trgm():
    assert trigrams("Tehran") == {"  t", " te", "teh", "ehr", "hra", "ran", "an "}
    assert trigrams("a") == {"  a", " a "}
    assert trigrams("foo-bar") == {"  f", " fo", "foo", "oo ", "  b", " ba", "bar", "ar "}
    assert trigrams("Ab1 x") == {"  a", " ab", "ab1", "b1 ", "  x", " x "}
    assert trigrams("") == frozenset() and trigrams("!!! &") == frozenset()


def test_non_latin_words_have_as_many_trigrams_as_pg_trgm_shows():
    assert len(trigrams("تهران")) == 6  # show_trgm('تهران') lists six (hashed) trigrams


def test_similarity_matches_pg_trgm():
    assert round(similarity(trigrams("tehran"), trigrams("tehrn")), 4) == 0.4444
    assert similarity(trigrams("documentary"), trigrams("documantary")) == 0.6
    assert similarity(trigrams("same"), trigrams("same")) == 1.0
    assert similarity(trigrams("cat"), trigrams("")) == 0.0


def test_count_bounds_keep_every_word_that_can_reach_the_threshold():
    lo, hi = count_bounds(10, 0.4)
    assert (lo, hi) == (4, 25)
    assert count_bounds(12, 0.5) == (6, 24)


def test_best_matches_rank_by_similarity_and_apply_the_threshold():
    query = trigrams("documantary")
    candidates = [
        (term, len(trigrams(term)), len(query & trigrams(term)))
        for term in ("documentary", "documentari", "document", "dominant", "cat")
    ]
    best = best_matches(len(query), candidates, threshold=0.35, limit=2)
    assert best == ["documentary", "documentari"]
    assert best_matches(len(query), candidates, threshold=0.99) == []


def test_fuzzy_candidates_are_long_words_without_digits():
    assert fuzzy_candidate("tehrn")
    assert not fuzzy_candidate("teh")
    assert not fuzzy_candidate("2024")
    assert not fuzzy_candidate("s01e02")
