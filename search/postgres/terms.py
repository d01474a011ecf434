"""Query words to tsquery text, against the vocabulary: see `search.postgres.query` for the syntax and `search.typos`
for the similarity. Three kinds of words:

- known (any of its forms is an indexed lexeme): its forms in `simple` and every configuration in use;
- unknown but the start of known words: `word:*` plus the forms of its first completions (the index holds stems,
  so "runnin" needs the forms of "running");
- any other unknown word of four letters or more: the forms of the closest known words by trigram similarity.

At most three statements (normalise; typo candidates; normalise the completions and candidates), the last two
only when a word is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from tortoise.backends.base.client import BaseDBAsyncClient

from search import typos
from search.backend import MIN_PREFIX_CHARS
from search.postgres import sql
from search.postgres.query import Forms, Term, build_tsquery, parse, single_word, title_tsquery


@dataclass(frozen=True, slots=True)
class Words:
    match: str  # tsquery text: what an item must match
    rank: str  # the same words without the configuration lexemes: what ts_rank and ts_headline look for
    title: str | None  # tsquery text: the title tier (search.postgres.query.title_tsquery)


async def words_tsquery(db: BaseDBAsyncClient, text: str) -> Words | None:
    """The tsquery texts for `text`, or None for a query with nothing to search for (match everything)."""
    groups = parse(text)
    if not groups:
        return None
    terms = [term for group in groups for term in group]
    forms, following = await _normalise(db, [term.text for term in terms])
    prefixes, misspelt = _classify(terms, forms, following)
    if misspelt:
        await _suggest(db, misspelt, forms)
    # Completions and suggestions are vocabulary words: the index holds their forms, so normalise them too.
    # Prefixes are single words (see _classify).
    extra = {word for index in prefixes for word in following[(index, cast(str, single_word(forms[index])))]}
    extra.update(word for term_forms in forms for word in term_forms.suggestions)
    if extra:
        words = sorted(extra)
        extra_forms, _ = await _normalise(db, words, with_following=False)
        lexemes = {
            word: {lexeme for sequence in f.by_config.values() if len(sequence) == 1 for _, lexeme in sequence}
            for word, f in zip(words, extra_forms)
        }
        for index in prefixes:
            word = single_word(forms[index])
            assert word is not None  # prefixes are single words (see _classify)
            forms[index].expansions = sorted({lexeme for w in following[(index, word)] for lexeme in lexemes[w]})
        for term_forms in forms:
            if term_forms.suggestions:
                term_forms.expansions = sorted(
                    {lexeme for w in term_forms.suggestions for lexeme in lexemes[w]} | set(term_forms.suggestions)
                )
    parsed: list[list[Forms]] = []
    position = 0
    for group in groups:
        parsed.append(forms[position : position + len(group)])
        position += len(group)
    match = build_tsquery(groups, parsed)
    if match is None:
        return None
    rank = build_tsquery(groups, parsed, per_config=False) or match
    return Words(match=match, rank=rank, title=title_tsquery(groups, parsed))


async def _normalise(
    db: BaseDBAsyncClient, words: list[str], *, with_following: bool = True
) -> tuple[list[Forms], dict[tuple[int, str], list[str]]]:
    """Each word's forms per configuration, and the vocabulary words at or after each of its lexemes (none read
    without `with_following`: for words taken from the vocabulary, whose forms are all that is needed)."""
    _, rows = await db.execute_query(sql.NORMALISE if with_following else sql.NORMALISE_FORMS, [words])
    forms = [Forms() for _ in words]
    following: dict[tuple[int, str], list[str]] = {}
    for row in rows:
        index = row["i"] - 1
        sequence = forms[index].by_config.setdefault(row["config"], [])
        if row["lexeme"] is not None:
            sequence.extend((position, row["lexeme"]) for position in row["positions"] or [1])
            if with_following:
                known = following.setdefault((index, row["lexeme"]), [])
                known.extend(word for word in row["following"] if word not in known)
    return forms, following


def _classify(
    terms: list[Term], forms: list[Forms], following: dict[tuple[int, str], list[str]]
) -> tuple[list[int], dict[int, str]]:
    """Unknown words: those that start known words are prefixes (`word:*` plus the completions' forms), in place
    in `following`; the others are typos to correct. Known words, phrases and exclusions stay as they are."""
    prefixes, misspelt = [], {}
    for index, (term, term_forms) in enumerate(zip(terms, forms)):
        word = single_word(term_forms)
        if word is None or term.phrase or term.negated:
            continue
        lexemes = {lexeme for sequence in term_forms.by_config.values() for _, lexeme in sequence}
        if any((following.get((index, lexeme)) or (None,))[0] == lexeme for lexeme in lexemes):
            continue  # a known word: its exact (and stemmed) forms are enough
        completions = [w for w in following.get((index, word), []) if w.startswith(word) and w != word]
        if len(word) >= MIN_PREFIX_CHARS and completions:
            term_forms.prefix = word
            following[(index, word)] = completions
            prefixes.append(index)
        elif typos.fuzzy_candidate(word):
            misspelt[index] = word
    return prefixes, misspelt


async def _suggest(db: BaseDBAsyncClient, misspelt: dict[int, str], forms: list[Forms]) -> None:
    """Close vocabulary words for each misspelt word (one statement for all of them)."""
    columns: list[list[Any]] = [[], [], [], [], []]
    grams = {index: typos.trigrams(word) for index, word in misspelt.items()}
    for index, word_grams in grams.items():
        lo, hi = typos.count_bounds(len(word_grams))
        for gram in sorted(word_grams):
            for column, value in zip(columns, (index, gram, len(word_grams), lo, hi)):
                column.append(value)
    _, rows = await db.execute_query(sql.TYPO_CANDIDATES, [*columns, typos.SIMILARITY_THRESHOLD])
    candidates: dict[int, list[tuple[str, int, int]]] = {}
    for row in rows:
        candidates.setdefault(row["i"], []).append((row["term"], row["trigram_count"], row["shared"]))
    for index in misspelt:
        forms[index].suggestions = typos.best_matches(len(grams[index]), candidates.get(index, ()))
