"""Trigram similarity for typo tolerance, computed in Python exactly like PostgreSQL's pg_trgm.

The embedded PostgreSQL has no pg_trgm, so the PostgreSQL backend keeps its own vocabulary of indexed words with
their trigrams in plain tables (btree-indexed) and scores candidates here. One code path on every server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from search.backend import MIN_FUZZY_CHARS

SIMILARITY_THRESHOLD = 0.35  # "tehran"/"tehrn" = 0.44, "documentary"/"documantary" = 0.6, "cat"/"cut" = 0.14
MAX_SUGGESTIONS = 4  # close vocabulary words OR-ed into the query per misspelt word


def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's `show_trgm`: lower-case, split on non-alphanumerics, pad each word with two spaces before and
    one after, take every three-character window."""
    grams: set[str] = set()
    word: list[str] = []
    for char in text.lower() + " ":
        if char.isalnum():
            word.append(char)
            continue
        if word:
            padded = "  " + "".join(word) + " "
            grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
            word = []
    return frozenset(grams)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """pg_trgm's `similarity`: shared trigrams over the union."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def count_bounds(count: int, threshold: float = SIMILARITY_THRESHOLD) -> tuple[int, int]:
    """The trigram counts a word may have and still reach `threshold` against a word with `count` trigrams:
    similarity <= min(a, b) / max(a, b), so anything outside [count * t, count / t] cannot qualify."""
    return math.ceil(count * threshold - 1e-9), math.floor(count / threshold + 1e-9)


def fuzzy_candidate(word: str) -> bool:
    """Whether a query word is worth correcting: long enough, and not a number (2023 is no typo of 2024)."""
    return len(word) >= MIN_FUZZY_CHARS and not any(char.isdigit() for char in word)


def best_matches(
    count: int,
    candidates: Iterable[tuple[str, int, int]],
    *,
    threshold: float = SIMILARITY_THRESHOLD,
    limit: int = MAX_SUGGESTIONS,
) -> list[str]:
    """The closest of `candidates` (term, its trigram count, trigrams shared with the query word, as the vocabulary
    query returns them) to a query word with `count` trigrams, best first, ties in term order."""
    scored = []
    for term, term_count, shared in candidates:
        score = shared / (count + term_count - shared)
        if score >= threshold:
            scored.append((-score, term))
    return [term for _, term in sorted(scored)[:limit]]
