"""Text handling both backends share (no I/O here): what a database or a bulk body accepts as text, the primary
subtag of a language tag that language filters and facets use, and the folding of Arabic-script letter forms.

`normalise` is what OpenSearch's `cms_text` analyzer does to Arabic-script text (Lucene's ArabicNormalizer and
PersianNormalizer, DecimalDigitFilter, its char filter: CHAR_FILTER_FOLDS, as `char_filter_rules` writes them),
applied by the PostgreSQL backend to indexed text and query words alike, so that either spelling finds the other:
`كودك` and `کودک`, `ايران` and `ایران`, `مكتبة` and `مکتبه`, `۱۴۰۲` and `1402`. The canonical forms are Lucene's
(Arabic yeh and kaf, heh, bare alef). Every fold maps one character to at most one, so a highlight of folded text
maps back onto the original (`removals`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Lucene's ArabicNormalizer: hamza forms of alef -> alef, alef maksura -> yeh, teh marbuta -> heh; tatweel and the
# harakat (tanween, short vowels, shadda, sukun) removed.
ARABIC_FOLDS: dict[str, str] = {
    "\u0622": "\u0627",
    "\u0623": "\u0627",
    "\u0625": "\u0627",  # آ أ إ -> ا
    "\u0649": "\u064a",  # ى alef maksura -> ي
    "\u0629": "\u0647",  # ة teh marbuta -> ه
    "\u0640": "",  # tatweel
    **dict.fromkeys("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652", ""),  # tanween, harakat, shadda, sukun
}
# Lucene's PersianNormalizer: farsi yeh and yeh barree -> yeh, keheh -> kaf, heh with yeh above and heh goal -> heh,
# hamza above removed (heh + hamza).
PERSIAN_FOLDS: dict[str, str] = {
    "\u06cc": "\u064a",
    "\u06d2": "\u064a",  # ی ے -> ي
    "\u06a9": "\u0643",  # ک -> ك
    "\u06c0": "\u0647",
    "\u06c1": "\u0647",  # ۀ ہ -> ه
    "\u0654": "",  # hamza above
}
# Before words are split (OpenSearch: a mapping char filter). Persian writes the zero-width non-joiner inside words
# and users type it, a space or nothing: it splits words, as the zero-width space does. Invisible characters that
# only shape or hyphenate (joiner, word joiner, soft hyphen, BOM) and the superscript alef (a diacritic Lucene
# keeps) are removed. Lucene's tokenizer keeps all of these but ZWSP inside words.
CHAR_FILTER_FOLDS: dict[str, str] = {
    "\u200c": " ",
    "\u200b": " ",  # ZWNJ, zero-width space
    "\u200d": "",
    "\u2060": "",
    "\u00ad": "",
    "\ufeff": "",  # ZWJ, word joiner, soft hyphen, BOM (ZWNBSP)
    "\u0670": "",  # superscript (dagger) alef
}
FOLDS: dict[str, str] = {**CHAR_FILTER_FOLDS, **ARABIC_FOLDS, **PERSIAN_FOLDS}
_OTHER_DIGIT = re.compile(r"[^\D0-9]")  # a decimal digit (Unicode Nd) other than 0-9: ۱ ٢ १ ...
_REMOVED = re.compile("[" + re.escape("".join(char for char, folded in FOLDS.items() if not folded)) + "]")


def safe_text(value: str | None) -> str:
    """What PostgreSQL (and a JSON bulk body) accepts as text: NUL bytes become spaces, lone surrogates go; ""
    for None or a non-string."""
    if not value or not isinstance(value, str):
        return ""
    return value.replace("\x00", " ").encode("utf-8", "ignore").decode("utf-8")


def primary_subtag(language: str | None) -> str | None:
    """ "fa-IR" -> "fa", "EN_us" -> "en"; None for a missing or blank tag. What language filters and facets use."""
    if not language:
        return None
    primary = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary or None


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def normalise(text: str) -> str:
    """`text` with FOLDS applied and every decimal digit as its ASCII digit (`۱۴۰۲` -> `1402`). Idempotent. Case is
    left to the backends' own lower-casing. ASCII text is returned as is; other text costs one scan per fold."""
    if text.isascii():
        return text
    for char, folded in FOLDS.items():
        if char in text:
            text = text.replace(char, folded)
    return _OTHER_DIGIT.sub(_ascii_digit, text)


def removals(text: str) -> list[int]:
    """Where `normalise` removes characters from `text`: for each removed one, the position in the folded text it
    stood before (non-decreasing). Every other character becomes exactly one, so the folded text's character `p`
    is `text[p + bisect_right(removals(text), p)]`; a removed character goes with the one before it."""
    return [match.start() - i for i, match in enumerate(_REMOVED.finditer(text))]


def char_filter_rules(folds: Iterable[tuple[str, str]] = CHAR_FILTER_FOLDS.items()) -> list[str]:
    """Folds as an OpenSearch `mapping` char filter's rules ("\\u200C=>\\u0020", "\\u00AD=>")."""
    return [f"\\u{ord(char):04X}=>" + "".join(f"\\u{ord(c):04X}" for c in folded) for char, folded in folds]
