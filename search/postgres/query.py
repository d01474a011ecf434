"""From what a user typed to a PostgreSQL `tsquery`, without ever putting user text into SQL.

1. `clean` makes any string safe to send (no NUL, no lone surrogates) and cuts it to MAX_QUERY_CHARS.
2. `parse` reads websearch syntax the way `websearch_to_tsquery` does: words, "quoted phrases", -exclusion, and
   `or`, which separates alternatives of AND-ed terms ("a b or c" = (a AND b) OR c). Each term's text is folded
   as indexed text is (`search.text.normalise`): a word with a ZWNJ becomes two words that must be adjacent.
3. PostgreSQL normalises each term's text once per text search configuration (see `search.postgres.backend`), giving
   lexemes with positions; the vocabulary says whether a word is known, a prefix of known words, or a typo.
4. `build_tsquery` writes the tsquery text: per term, an OR of its forms in every configuration (stemmed and
   `simple`), plus `word:*` and the forms of its completions for a prefix, or the forms of close vocabulary words
   for a typo. Lexemes are quoted and escaped; the result is passed as a bind parameter and cast to `tsquery`.
5. `title_tsquery` writes the title tier's test: any positive term's form as a title mark (TITLE_MARK).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search.backend import MAX_QUERY_CHARS
from search.text import normalise, safe_text

MAX_TERMS = 32  # terms past this are ignored: enough for any real query, bounded work for a pasted essay
# An item's title words are also in its vector behind this mark (' a:news'), a lexeme no query word can produce
# (it starts with a space, like search.postgres.backend.filters'): the GIN index finds the items with a query word in the title.
TITLE_MARK = " a:"
CONFIG_MARK = " g:"  # and its configuration's name: a stem matches only items of the languages that make it


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # what PostgreSQL normalises: one word, or the inside of a quoted phrase, folded
    phrase: bool = False
    negated: bool = False


@dataclass(slots=True)
class Forms:
    """One term normalised: per configuration, the (position, lexeme) sequence PostgreSQL produced."""

    by_config: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    prefix: str | None = None  # an unknown word that starts known ones: expand as `prefix:*`
    suggestions: list[str] = field(default_factory=list)  # vocabulary words close to a misspelt one
    expansions: list[str] = field(default_factory=list)  # lexemes OR-ed in: forms of completions or suggestions


def clean(text: str) -> str:
    """Strip what the driver or server would refuse (NUL, lone surrogates) and cut to MAX_QUERY_CHARS."""
    return safe_text(text[: MAX_QUERY_CHARS * 2] if isinstance(text, str) else "")[:MAX_QUERY_CHARS].strip()


def parse(text: str) -> list[list[Term]]:
    """Alternatives (OR) of AND-ed terms; empty when there is nothing to search for."""
    groups: list[list[Term]] = [[]]
    count, i, n = 0, 0, len(text)
    while i < n and count < MAX_TERMS:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        negated = False
        if char == "-" and i + 1 < n and not text[i + 1].isspace():
            negated, i = True, i + 1
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            body, i = normalise(text[i + 1 : end]), end + 1
            if body.strip():
                groups[-1].append(Term(body, phrase=True, negated=negated))
                count += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != '"':
            i += 1
        word = text[start:i]
        if word.lower() == "or" and not negated:
            if groups[-1]:
                groups.append([])
            continue
        word = normalise(word)
        if word.strip():
            groups[-1].append(Term(word, negated=negated))
            count += 1
    return [group for group in groups if group]


def quote(lexeme: str) -> str:
    """A lexeme as a tsquery literal: single-quoted, quotes doubled, backslashes escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _sequence(forms: list[tuple[int, str]]) -> str:
    """Lexemes in position order joined by `<N>` (N = their distance), as PostgreSQL writes phrases."""
    ordered = sorted(forms)
    parts = [quote(ordered[0][1])]
    for (before, _), (position, lexeme) in zip(ordered, ordered[1:]):
        distance = position - before
        parts.append("<->" if distance == 1 else f"<{distance}>")
        parts.append(quote(lexeme))
    return " ".join(parts)


def single_word(forms: Forms) -> str | None:
    """The term's one `simple` lexeme, when the term is a single word (not a phrase, not a compound)."""
    simple = forms.by_config.get("simple") or []
    return simple[0][1] if len(simple) == 1 else None


def config_lexeme(config: str) -> str:
    """The lexeme in every item's vector that names its text search configuration (' g:english')."""
    return CONFIG_MARK + config


def _only_in(text: str, configs: frozenset[str] | None) -> str:
    if configs is None:
        return text
    names = " | ".join(quote(config_lexeme(config)) for config in sorted(configs))
    return f"( {text} & {names if len(configs) == 1 else '( ' + names + ' )'} )"


def _sequences(forms: Forms) -> dict[str, tuple[list[tuple[int, str]], frozenset[str] | None]]:
    """Each distinct form of the term (tsquery text) -> its (position, lexeme) sequence and the configurations whose
    items it may match: None for the word as written (its `simple` form: any item with that lexeme has the word),
    else the configurations that made it, so that a stem of one language does not match another's words (French
    'new' for "news" vs English "new")."""
    simple = forms.by_config.get("simple")
    as_written = _sequence(simple) if simple else None
    made_by: dict[str, tuple[list[tuple[int, str]], set[str]]] = {}
    for config, sequence in forms.by_config.items():
        made_by.setdefault(_sequence(sequence), (sequence, set()))[1].add(config)
    return {
        text: (sequence, None if text == as_written else frozenset(configs))
        for text, (sequence, configs) in made_by.items()
    }


def _drops_out(forms: Forms) -> bool:
    """Whether a term has no query: punctuation only, or a stop word in one of the configurations (as
    `websearch_to_tsquery` drops stop words)."""
    return not forms.by_config or any(not sequence for sequence in forms.by_config.values())


def term_query(term: Term, forms: Forms, *, per_config: bool = True) -> str | None:
    """The tsquery for one term, or None when it drops out (`_drops_out`). `per_config=False` leaves out which
    configurations a stem belongs to (for ts_rank, which would count those lexemes as words)."""
    if _drops_out(forms):
        return None
    alternatives = {_only_in(text, configs if per_config else None) for text, (_, configs) in _sequences(forms).items()}
    if not term.negated and not term.phrase:
        if forms.prefix:
            alternatives.add(quote(forms.prefix) + ":*")
        alternatives.update(quote(lexeme) for lexeme in forms.expansions)
    ordered = sorted(alternatives)
    single = len(ordered) == 1 and "<" not in ordered[0] and "&" not in ordered[0]
    body = ordered[0] if single else "( " + " | ".join(ordered) + " )"
    return "!" + body if term.negated else body


def build_tsquery(groups: list[list[Term]], forms: list[list[Forms]], *, per_config: bool = True) -> str | None:
    """The whole query as tsquery text (`forms` parallel to `groups`); None when no term survives."""
    alternatives = []
    for group, group_forms in zip(groups, forms):
        queries = [term_query(term, term_forms, per_config=per_config) for term, term_forms in zip(group, group_forms)]
        parts = [part for part in queries if part]
        if parts:
            alternatives.append(" & ".join(parts))
    if not alternatives:
        return None
    if len(alternatives) == 1:
        return alternatives[0]
    return " | ".join(f"( {part} )" for part in alternatives)


def title_tsquery(groups: list[list[Term]], forms: list[list[Forms]]) -> str | None:
    """Items with any positive term's form in the title: an OR of title marks (None when no term is positive).
    Ranking puts these first (search.postgres.sql.text_page), so a broad query ranks its title matches, not every match."""
    marks: set[str] = set()
    for group, group_forms in zip(groups, forms):
        for term, term_forms in zip(group, group_forms):
            if term.negated or _drops_out(term_forms):
                continue
            for sequence, configs in _sequences(term_forms).values():
                marks.update(_only_in(quote(TITLE_MARK + lexeme), configs) for _, lexeme in sequence)
            marks.update(quote(TITLE_MARK + lexeme) for lexeme in term_forms.expansions)
            if term_forms.prefix and not term.phrase:
                marks.add(quote(TITLE_MARK + term_forms.prefix) + ":*")
    return " | ".join(sorted(marks)) or None
