"""Highlights over the original text when the index holds folded text (search.text.normalise).

ts_headline must see the folded text to find the query's (folded) lexemes, so for an item whose text folding
changed, PostgreSQL highlights the folded text and the page also returns the original; here the marks and fragments
are carried back onto the original, character for character (every fold maps one character to at most one, a
removed diacritic stays with its letter). A description fragment is found in the folded text after the previous
one: where a passage repeats word for word, the first copy after the previous fragment is the one shown.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from search.text import normalise, removals

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"
# ts_headline's delimiter between description fragments: it starts with "<", which escaped text never holds, so the
# fragments can be told apart; shown as FRAGMENT_DELIMITER.
FRAGMENT_SENTINEL = "<cut>"
FRAGMENT_DELIMITER = " … "
_PIECES = re.compile(f"({re.escape(MARK_OPEN)}|{re.escape(MARK_CLOSE)})")


def escape(text: str) -> str:
    """What search.postgres.sql.escaped() does in SQL before ts_headline sees the text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def restore(headline: str | None, original: str | None) -> str | None:
    """`headline` (ts_headline of the escaped folded text, fragments joined by FRAGMENT_SENTINEL) as the same
    headline of the escaped `original`; as it is, bar the delimiter, when there is no original (nothing folded); None
    when it does not fit the original (an index written by another version of the folding: `cms reindex`)."""
    if headline is None or original is None:
        return headline if headline is None else headline.replace(FRAGMENT_SENTINEL, FRAGMENT_DELIMITER)
    source = escape(original)
    folded, gaps = normalise(source), removals(source)

    def at(position: int) -> int:  # where a boundary in the folded text falls in the source
        if position == 0:
            return 0
        return position + bisect_right(gaps, position) if position < len(folded) else len(source)

    fragments, cursor = [], 0
    for fragment in headline.split(FRAGMENT_SENTINEL):
        pieces = _PIECES.split(fragment)
        plain = "".join(piece for piece in pieces if piece not in (MARK_OPEN, MARK_CLOSE))
        start = folded.find(plain, cursor)
        if start < 0:
            return None
        out, position = [], start
        for piece in pieces:
            if piece in (MARK_OPEN, MARK_CLOSE):
                out.append(piece)
            elif piece:
                out.append(source[at(position) : at(position + len(piece))])
                position += len(piece)
        fragments.append("".join(out))
        cursor = start + len(plain)
    return FRAGMENT_DELIMITER.join(fragments)
