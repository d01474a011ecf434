"""Folding Arabic-script text (search.text.normalise), carrying highlights back onto the original
(search.postgres.backend.highlight.restore) and folding query terms (search.postgres.query.parse); no database."""

from __future__ import annotations

import sys
import unicodedata
from bisect import bisect_right

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.postgres.highlight import FRAGMENT_DELIMITER, FRAGMENT_SENTINEL, escape, restore
from search.postgres.query import Term, parse
from search.text import (
    ARABIC_FOLDS,
    FOLDS,
    PERSIAN_FOLDS,
    char_filter_rules,
    normalise,
    removals,
)

ALEF, YEH, KAF, HEH = "\u0627", "\u064a", "\u0643", "\u0647"


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("\u0622", ALEF),
        ("\u0623", ALEF),
        ("\u0625", ALEF),  # آ أ إ
        ("\u06cc", YEH),
        ("\u0649", YEH),
        ("\u06d2", YEH),  # ی ى ے
        ("\u06a9", KAF),  # ک
        ("\u0629", HEH),
        ("\u06c0", HEH),
        ("\u06c1", HEH),  # ة ۀ ہ
        ("\u0640", ""),  # tatweel
        *((mark, "") for mark in "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0654\u0670"),  # diacritics
        ("\u200c", " "),
        ("\u200b", " "),  # ZWNJ, ZWSP
        ("\u200d", ""),
        ("\u2060", ""),
        ("\u00ad", ""),
        ("\ufeff", ""),  # ZWJ, word joiner, soft hyphen, BOM
        ("\u06f1\u06f4\u06f0\u06f2", "1402"),
        ("\u0662\u0660\u0662\u0664", "2024"),
        ("\u0967\u0968", "12"),  # digits
    ],
)
def test_each_fold(written: str, folded: str):
    assert normalise(written) == folded
    assert normalise(f"x{written}y") == f"x{folded}y"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("کودک", "كودك"),
        ("ایران", "ايران"),
        ("کتاب", "كتاب"),
        ("مکتبه", "مكتبة"),
        ("هدی", "هدى"),
        ("آرش", "ارش"),
        ("أسد", "إسد"),
        ("خانۀ", "خانه"),
        ("خانهٔ", "خانه"),
        ("كِتَابٌ", "كتاب"),
        ("مكتـــبة", "مکتبه"),
        ("محمّد", "محمد"),
        ("موسیٰ", "موسي"),
        ("۱۴۰۲", "1402"),
    ],
)
def test_spellings_of_one_word_fold_alike(one: str, other: str):
    assert normalise(one) == normalise(other)


def test_letters_that_differ_stay_apart():
    for one, other in [("کوه", "کره"), ("سنه", "سنح"), ("اسم", "اسن"), ("ھ", "ه"), ("ئ", "ي"), ("ؤ", "و")]:
        assert normalise(one) != normalise(other)


def test_the_tables_are_lucenes_and_every_fold_is_final():
    harakat = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652"
    assert set(ARABIC_FOLDS) == set("\u0622\u0623\u0625\u0649\u0629\u0640" + harakat)
    assert set(PERSIAN_FOLDS) == set("\u06cc\u06d2\u06a9\u06c0\u06c1\u0654")
    assert all(len(folded) <= 1 and folded not in FOLDS for folded in FOLDS.values())


def test_other_text_is_left_alone():
    for text in ("Zürich Straßenbahn", "東京 タワー", "ABC def 123", "پ چ ژ گ", "", "a - b"):
        assert normalise(text) == text
    ascii_text = "plain ascii"
    assert normalise(ascii_text) is ascii_text


_ALPHABET = st.sampled_from(sorted(FOLDS) + list("ab cي\u06f5\u0665\u0969<&") + ["\U0001d7d9"])


def _fold(char: str) -> str:
    if char in FOLDS:
        return FOLDS[char]
    return str(unicodedata.decimal(char)) if char.isdecimal() else char


@given(st.text(_ALPHABET, max_size=40))
def test_normalise_folds_character_by_character_and_says_where_it_removed(text: str):
    folded = normalise(text)
    assert folded == "".join(_fold(char) for char in text)
    assert normalise(folded) == folded
    gaps = removals(text)
    assert len(gaps) == len(text) - len(folded)
    sources = [p + bisect_right(gaps, p) for p in range(len(folded))]
    assert [_fold(text[source]) for source in sources] == list(folded)


def test_every_decimal_digit_folds_to_ascii():
    digits = [chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Nd"]
    assert len(digits) > 600
    assert all(normalise(f"x{digit}") == f"x{unicodedata.decimal(digit)}" for digit in digits)


def test_char_filter_rules_for_opensearch():
    assert char_filter_rules([("\u200c", " "), ("\u00ad", "")]) == ["\\u200C=>\\u0020", "\\u00AD=>"]
    assert "\\u0670=>" in char_filter_rules()


# -- highlights ---------------------------------------------------------------------------------------------------


def test_a_title_highlight_shows_the_original_letters_and_diacritics():
    original = "كِتَابٌ و کودک‌ها"
    headline = escape(normalise(original)).replace("كتاب", "<mark>كتاب</mark>").replace("كودك", "<mark>كودك</mark>")
    assert restore(headline, original) == "<mark>كِتَابٌ</mark> و <mark>کودک</mark>\u200cها"


def test_leading_removed_characters_and_escaping_are_kept():
    original = '\ufeffـ<b>"کتاب"</b> & ی'
    folded = escape(normalise(original))
    assert restore(folded.replace("كتاب", "<mark>كتاب</mark>"), original) == (
        "\ufeffـ&lt;b&gt;&quot;<mark>کتاب</mark>&quot;&lt;/b&gt; &amp; ی"
    )


def test_description_fragments_are_found_in_order():
    original = "یک " + "کتاب " * 3 + "دیگر " * 40 + "کتاب پایان"
    folded = escape(normalise(original))
    first = folded[: folded.index("ديگر") + 4].replace("كتاب", "<mark>كتاب</mark>")
    last = "ديگر <mark>كتاب</mark> پايان"
    restored = restore(first + FRAGMENT_SENTINEL + last, original)
    assert restored == ("یک " + "<mark>کتاب</mark> " * 3 + "دیگر" + FRAGMENT_DELIMITER + "دیگر <mark>کتاب</mark> پایان")


def test_text_that_folding_left_alone_only_gets_its_delimiter():
    assert restore("a <mark>b</mark>" + FRAGMENT_SENTINEL + "c", None) == "a <mark>b</mark>" + FRAGMENT_DELIMITER + "c"
    assert restore(None, None) is None


def test_a_headline_that_does_not_fit_the_original_is_dropped():
    assert restore("<mark>something</mark> else", "کتاب") is None


# -- query terms --------------------------------------------------------------------------------------------------


def test_query_terms_are_folded():
    assert parse("کودک") == [[Term("كودك")]]
    assert parse('"کتاب کودک" -ایران') == [[Term("كتاب كودك", phrase=True), Term("ايران", negated=True)]]
    assert parse("کتاب\u200cخانه") == [[Term("كتاب خانه")]]  # one word with a ZWNJ: its parts, side by side
    assert parse("۱۴۰۲ or ـ") == [[Term("1402")]]  # a term that folds to nothing is no term
    assert parse("\u200c \ufeff") == []
