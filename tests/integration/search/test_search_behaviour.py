"""What every search backend does, tested through `SearchBackend` alone (the `search_backend` fixture runs each test
on PostgreSQL and, with OPENSEARCH_URL set, on OpenSearch). Small corpora with known answers."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from search.backend import (
    FACET_FIELDS,
    MAX_QUERY_CHARS,
    InvalidCursor,
    SearchBackend,
    SearchDocument,
    SearchFilter,
    SearchOrder,
    SearchPage,
)
from tests.support.search_docs import EP, NOW, PR, doc, find, ids, keys

# -- relevance ----------------------------------------------------------------------------------------------------


async def test_title_match_beats_description_match(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Evening news", "Tonight: a documentary about rivers, then the weather"),
            doc(2, "River documentary", "Water, fish and boats"),
            doc(3, "Cooking show", "Bread and soup"),
        ]
    )
    page = await find(search_backend, "documentary")
    assert ids(page) == [2, 1]
    assert page.total == 2
    assert page.hits[0].score > page.hits[1].score


async def test_more_specific_match_ranks_first(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Night trains", "The long ride ends at a market in the morning"),
            doc(2, "Night market of Tehran", "Food stalls open after dark"),
            doc(3, "Morning market", "Vegetables"),
        ]
    )
    page = await find(search_backend, "night market")
    assert ids(page) == [2, 1]  # both words in the title beat one in the title and one in the description


async def test_tags_weigh_more_than_description(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Episode one", "We talk about jazz for a minute"),
            doc(2, "Episode two", "Interviews", tags=["jazz"]),
        ]
    )
    assert ids(await find(search_backend, "jazz")) == [2, 1]


async def test_a_query_word_in_the_title_ranks_above_any_match_elsewhere(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Jazz", "Saxophones and a drummer"),
            doc(2, "Late show", "jazz night, jazz night, jazz night: the whole night", tags=["jazz", "night"]),
            doc(3, "Night bus", "jazz on the radio"),
            doc(4, "Weather", "rain at night"),
        ]
    )
    # "night" in the title beats both words side by side many times in tags and description (1 lacks "night")
    assert ids(await find(search_backend, "jazz night")) == [3, 2]
    either = ids(await find(search_backend, "jazz OR night"))
    assert set(either[:2]) == {1, 3} and either[2:] == [2, 4]
    assert ids(await find(search_backend, "night", order=SearchOrder.DATE)) == [2, 3, 4]  # no tiers by date


@pytest.mark.parametrize("size", [1, 2, 3, 5])
async def test_pages_cross_from_title_matches_to_other_matches(search_backend: SearchBackend, size: int):
    await search_backend.upsert(
        [
            *(doc(i, f"Harp recital {i}", "strings") for i in range(1, 5)),
            *(doc(i, f"Recital {i}", "a harp and a flute" + " harp" * (i % 3)) for i in range(5, 10)),
            doc(10, "Flute", "no such instrument"),
        ]
    )
    whole = await find(search_backend, "harp", first=50)
    assert set(ids(whole)[:4]) == {1, 2, 3, 4} and set(ids(whole)[4:]) == set(range(5, 10))
    pages = await _pages(search_backend, "harp", SearchOrder.RELEVANCE, size=size)
    assert [key for page in pages for key in keys(page)] == keys(whole)
    assert all(page.total == 9 and page.exact_counts for page in pages)


async def test_attachments_are_searched_below_every_other_field(search_backend: SearchBackend):
    """An episode's documents' text (its PDFs) finds it, after items with the word in their own fields."""
    await search_backend.upsert(
        [
            doc(1, "Board meeting", attachments="Minutes. Item 4: the quokka motion was carried. " * 3),
            doc(2, "Quokka island", "Ferries and beaches"),
            doc(3, "Wildlife hour", "A quokka at dawn"),
            doc(4, "Board meeting", "Budget", attachments="Minutes. Item 1: the budget"),
        ]
    )
    page = await find(search_backend, "quokka")
    assert ids(page) == [2, 3, 1] and page.total == 3
    assert "description" not in page.hits[2].highlights  # attachments are searched, never shown as a snippet
    assert ids(await find(search_backend, "quokka motion")) == [1]  # words from the document, together
    assert ids(await find(search_backend, "budget")) == [4]


async def test_relevance_ties_go_to_the_newest(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Harbour report", date=NOW - timedelta(days=9)),
            doc(2, "Harbour report", date=NOW - timedelta(days=1)),
            doc(3, "Harbour report", date=NOW - timedelta(days=5)),
        ]
    )
    assert ids(await find(search_backend, "harbour")) == [2, 3, 1]


async def test_date_order_is_newest_first(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Election special", "election " * 5, date=NOW - timedelta(days=20)),
            doc(2, "Weather", "after the election", date=NOW - timedelta(days=2)),
            doc(3, "Election night", date=NOW - timedelta(days=7)),
        ]
    )
    page = await find(search_backend, "election", order=SearchOrder.DATE)
    assert ids(page) == [2, 3, 1]
    assert page.hits[2].score > page.hits[0].score > 0  # relevance is still reported, just not the order
    by_relevance = {hit.id: hit.score for hit in (await find(search_backend, "election")).hits}
    assert {hit.id: hit.score for hit in page.hits} == pytest.approx(by_relevance)  # on the same scale


# -- filters and facets -------------------------------------------------------------------------------------------

FILTER_CORPUS = [
    doc(
        1,
        "Tehran by night",
        kind=PR,
        program_id=1,
        category="travel",
        language="fa-IR",
        tags=["city", "night"],
        date=NOW - timedelta(days=40),
    ),
    doc(
        2,
        "Tehran bazaar",
        program_id=1,
        category="travel",
        language="fa-IR",
        tags=["city", "night"],
        date=NOW - timedelta(days=10),
    ),
    doc(3, "Tehran traffic", program_id=2, category="news", language="fa", tags=["city"], date=NOW - timedelta(days=5)),
    doc(
        4,
        "Tehran weather",
        program_id=3,
        category="news",
        language="en-GB",
        tags=["weather"],
        date=NOW - timedelta(days=3),
    ),
    doc(
        5,
        "Tehran football",
        program_id=3,
        category="sport",
        language="en",
        tags=["night", "city"],
        date=NOW - timedelta(days=1),
    ),
]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        (SearchFilter(kinds=(PR,)), {1}),
        (SearchFilter(kinds=(EP,)), {2, 3, 4, 5}),
        (SearchFilter(program_ids=(1, 3)), {1, 2, 4, 5}),
        (SearchFilter(categories=("travel", "sport")), {1, 2, 5}),
        (SearchFilter(languages=("fa",)), {1, 2, 3}),  # the primary subtag finds "fa" and "fa-IR"
        (SearchFilter(languages=("en",)), {4, 5}),
        (SearchFilter(languages=("fa-IR",)), {1, 2, 3}),
        (SearchFilter(tags=("city", "night")), {1, 2, 5}),  # tags: all of them
        (SearchFilter(tags=("weather",)), {4}),
        (SearchFilter(date_from=NOW - timedelta(days=5)), {3, 4, 5}),  # inclusive
        (SearchFilter(date_to=NOW - timedelta(days=5)), {1, 2}),  # exclusive
        (SearchFilter(date_from=NOW - timedelta(days=10), date_to=NOW - timedelta(days=3)), {2, 3}),
        (SearchFilter(kinds=(EP,), categories=("news",), languages=("fa",)), {3}),  # parts AND together
        (SearchFilter(categories=("nothing-here",)), set()),
    ],
)
async def test_filters(search_backend: SearchBackend, filter: SearchFilter, expected: set[int]):
    await search_backend.upsert(FILTER_CORPUS)
    for text in ("tehran", ""):
        page = await find(search_backend, text, filter=filter)
        assert set(ids(page)) == expected, text
        assert page.total == len(expected)


async def test_facets_count_every_visible_match_most_frequent_first(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            *FILTER_CORPUS,
            doc(6, "Tehran draft", program_id=1, category="travel", language="fa", public_from=None),
            doc(7, "Shiraz gardens", program_id=4, category="travel", language="fa"),
        ]
    )
    page = await find(search_backend, "tehran", first=1)
    assert page.total == 5 and len(page.hits) == 1 and page.exact_counts
    assert set(page.facets) == set(FACET_FIELDS)
    facets = {name: [(f.value, f.count) for f in counts] for name, counts in page.facets.items()}
    assert facets["category"] in (
        [("news", 2), ("travel", 2), ("sport", 1)],
        [("travel", 2), ("news", 2), ("sport", 1)],
    )  # a tie between news and travel may go either way
    assert facets["language"] == [("fa", 3), ("en", 2)]  # primary subtags
    assert sorted(facets["program"]) == [("1", 2), ("2", 1), ("3", 2)]
    assert [count for _, count in facets["program"]] == [2, 2, 1]

    filtered = await find(search_backend, "tehran", filter=SearchFilter(languages=("en",)))
    assert [(f.value, f.count) for f in filtered.facets["category"]] in (
        [("news", 1), ("sport", 1)],
        [("sport", 1), ("news", 1)],
    )
    assert (await find(search_backend, "tehran", with_facets=False)).total == 5


async def test_facets_are_capped(search_backend: SearchBackend):
    await search_backend.upsert([doc(i, f"Concert {i}", category=f"cat-{i:02d}") for i in range(1, 31)])
    page = await find(search_backend, "concert")
    assert page.total == 30
    assert 10 <= len(page.facets["category"]) <= 30
    assert all(f.count == 1 for f in page.facets["category"])


# -- pagination ---------------------------------------------------------------------------------------------------


async def _pages(backend: SearchBackend, text: str, order: SearchOrder, size: int) -> list[SearchPage]:
    pages, after = [], None
    while True:
        page = await find(backend, text, order=order, first=size, after=after)
        pages.append(page)
        if not page.has_next:
            return pages
        assert page.hits, "has_next with an empty page"
        after = page.hits[-1].cursor
        assert len(pages) < 50


@pytest.mark.parametrize("order", [SearchOrder.RELEVANCE, SearchOrder.DATE])
@pytest.mark.parametrize("text", ["river", ""])
async def test_paging_through_every_page_repeats_and_misses_nothing(
    search_backend: SearchBackend, order: SearchOrder, text: str
):
    same_day = NOW - timedelta(days=3)
    corpus = [
        # equal ranks and equal dates: only the id (and kind) tells them apart
        *(doc(i, "River crossing", date=same_day) for i in range(1, 9)),
        *(doc(i, "River", "river river delta", date=same_day, kind=PR) for i in range(1, 4)),
        *(doc(i, "Mountain river", f"part {i}", date=NOW - timedelta(hours=i)) for i in range(10, 25)),
        doc(30, "Desert"),
    ]
    await search_backend.upsert(corpus)
    expected = sorted((d.kind.value, d.id) for d in corpus if d.id != 30 or not text)
    whole = await find(search_backend, text, order=order, first=100)
    assert sorted(keys(whole)) == expected and not whole.has_next

    pages = await _pages(search_backend, text, order, size=4)
    seen = [key for page in pages for key in keys(page)]
    assert seen == keys(whole)  # same order as one big page: no repeats, no misses
    assert all(page.total == len(expected) for page in pages)
    assert all(len(page.hits) == 4 for page in pages[:-1])


async def test_a_cursor_is_only_good_for_its_ordering(search_backend: SearchBackend):
    await search_backend.upsert([doc(i, "Lake") for i in range(1, 6)])
    cursor = (await find(search_backend, "lake", first=2)).hits[-1].cursor
    with pytest.raises(InvalidCursor):
        await find(search_backend, "lake", first=2, after=cursor, order=SearchOrder.DATE)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "%%%",
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        base64.urlsafe_b64encode(json.dumps({"o": "relevance", "k": ["x"]}).encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "A" * 5000,
    ],
)
async def test_a_malformed_or_foreign_cursor_is_refused(search_backend: SearchBackend, cursor: str):
    await search_backend.upsert([doc(1, "Lake")])
    with pytest.raises(InvalidCursor):
        await find(search_backend, "lake", after=cursor)


# -- visibility ---------------------------------------------------------------------------------------------------


async def test_drafts_only_with_include_drafts(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Volcano diary"), doc(2, "Volcano draft", public_from=None)])
    assert ids(await find(search_backend, "volcano")) == [1]
    assert ids(await find(search_backend, "")) == [1]
    assert sorted(ids(await find(search_backend, "volcano", include_drafts=True))) == [1, 2]
    page = await find(search_backend, "volcano")
    assert page.total == 1 and sum(f.count for f in page.facets["program"]) == 1


async def test_scheduled_items_appear_when_their_time_comes(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Eclipse live", public_from=NOW + timedelta(hours=1))])
    assert (await find(search_backend, "eclipse")).total == 0
    assert ids(await find(search_backend, "eclipse", now=NOW + timedelta(hours=1))) == [1]  # public_from <= now
    assert ids(await find(search_backend, "eclipse", now=NOW + timedelta(days=1))) == [1]


async def test_unpublishing_and_deleting_hide_an_item(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Glacier"), doc(2, "Glacier melt"), doc(3, "Glacier walk", kind=PR)])
    await search_backend.upsert([doc(1, "Glacier", public_from=None)])
    assert sorted(keys(await find(search_backend, "glacier"))) == [("episode", 2), ("program", 3)]
    await search_backend.delete(EP, [2, 999])  # unknown ids are ignored
    assert keys(await find(search_backend, "glacier")) == [("program", 3)]
    assert ids(await find(search_backend, "glacier", include_drafts=True, filter=SearchFilter(kinds=(EP,)))) == [1]
    await search_backend.delete(PR, [3])
    await search_backend.delete(EP, [])
    assert (await find(search_backend, "glacier")).total == 0
    assert await search_backend.count() == 1


# -- languages, stemming, typos, prefixes -------------------------------------------------------------------------


async def test_persian_text_is_found_by_its_words(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "مستند درباره تهران", "گزارشی از بازار بزرگ", language="fa-IR"),
            doc(2, "مستند درباره شیراز", language="fa"),
            doc(3, "Tehran today", language="en"),
        ]
    )
    assert ids(await find(search_backend, "تهران")) == [1]
    assert sorted(ids(await find(search_backend, "مستند"))) == [1, 2]
    assert ids(await find(search_backend, "بازار")) == [1]
    assert ids(await find(search_backend, "تهران", filter=SearchFilter(languages=("fa",)))) == [1]


async def test_arabic_text_is_found_with_and_without_its_article(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "الأفلام الوثائقية في القاهرة", language="ar"),
            doc(2, "أخبار المساء", language="ar"),
        ]
    )
    assert ids(await find(search_backend, "القاهرة")) == [1]
    assert ids(await find(search_backend, "الأفلام")) == [1]
    assert ids(await find(search_backend, "أفلام")) == [1]  # the stemmer drops the article


async def test_english_stemming(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "A documentary about rivers"),
            doc(2, "Running the marathon"),
            doc(3, "Cooking", language="en-US"),
        ]
    )
    assert ids(await find(search_backend, "documentaries")) == [1]
    assert ids(await find(search_backend, "river")) == [1]
    assert ids(await find(search_backend, "runs")) == [2]
    assert ids(await find(search_backend, "cooked")) == [3]


async def test_a_stem_of_one_language_does_not_match_another_languages_words(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "New York harbour", language="en"),  # English "new"
            doc(2, "Les news du soir", language="fr"),  # French stems "news" to "new"
            doc(3, "Evening news", language="en"),
        ]
    )
    assert sorted(ids(await find(search_backend, "news"))) == [2, 3]
    assert 1 in ids(await find(search_backend, "new"))


async def test_words_of_unknown_languages_still_match(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Zürich Straßenbahn", language=None), doc(2, "東京 タワー", language="ja")])
    assert ids(await find(search_backend, "zürich")) == [1]
    assert ids(await find(search_backend, "東京")) == [2]


# -- Arabic-script spellings: letter forms, diacritics, joiners, digits (search.text.normalise) ------------------

# (as written in the document, as typed in the query): each pair both ways. Short words among them (3 letters: no
# typo matching below 4, and no other spelling is a typo away), so only folding can make them meet.
SPELLINGS = [
    ("شیر", "شير"),  # farsi yeh / Arabic yeh
    ("ایران", "ايران"),
    ("هدى", "هدی"),  # alef maksura / farsi yeh
    ("هدى", "هدي"),  # alef maksura / Arabic yeh
    ("کوه", "كوه"),  # keheh / Arabic kaf
    ("کودک", "كودك"),
    ("کتاب", "كتاب"),
    ("سنة", "سنه"),  # teh marbuta / heh
    ("مكتبة", "مکتبه"),  # Arabic kaf and teh marbuta / keheh and heh
    ("أسد", "اسد"),  # alef with hamza above / bare alef
    ("إسم", "اسم"),  # alef with hamza below
    ("أسد", "إسد"),
    ("آرش", "ارش"),  # alef with madda
    ("خانۀ", "خانه"),  # heh with yeh above / heh
    ("خانهٔ", "خانه"),  # heh + hamza above / heh
]


@pytest.mark.parametrize(("written", "typed"), SPELLINGS + [(typed, written) for written, typed in SPELLINGS])
async def test_arabic_script_letter_forms_find_each_other(search_backend: SearchBackend, written: str, typed: str):
    await search_backend.upsert(
        [
            doc(1, f"مستند {written}", language="fa"),
            doc(2, "مستند دریا", f"{written[:-2]}زز", language="fa"),  # two letters off (typos are one): no match
            doc(3, f"{written} documentary", language=None),
        ]
    )
    assert sorted(ids(await find(search_backend, typed))) == [1, 3]
    assert ids(await find(search_backend, typed, filter=SearchFilter(languages=("fa",)))) == [1]


async def test_arabic_letter_forms_in_arabic_text(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "مكتبة الإسكندرية", "كتب نادرة", language="ar"),
            doc(2, "أخبار المساء", language="ar"),
        ]
    )
    assert ids(await find(search_backend, "مکتبه")) == [1]  # Persian keheh and heh
    assert ids(await find(search_backend, "اسکندریه")) == [1]  # no hamza, heh, keheh; the stemmer drops "ال"
    assert ids(await find(search_backend, "اخبار")) == [2]


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("كِتَابٌ", "كتاب"),  # kasra, fatha, dammatan
        ("كتاب", "كِتَابٌ"),
        ("محمّد", "محمد"),  # shadda
        ("محمد", "مُحَمَّد"),
        ("مَدْرَسَة", "مدرسه"),  # sukun, teh marbuta
        ("هٰذا", "هذا"),  # superscript alef
        ("مكتـــبة", "مكتبة"),  # tatweel
        ("مكتبة", "مـكـتـبـة"),
    ],
)
async def test_diacritics_and_tatweel_do_not_matter(search_backend: SearchBackend, written: str, typed: str):
    await search_backend.upsert([doc(1, f"درس {written}", language="fa"), doc(2, "درس دریا", language="fa")])
    assert ids(await find(search_backend, typed)) == [1]


async def test_zwnj_is_a_space_and_no_joiner_is_a_word_of_its_own(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "کتاب\u200cخانه ملی", language="fa"),  # ZWNJ
            doc(2, "کتاب خانه قدیمی", language="fa"),  # a space
            doc(3, "کتابخانه مرکزی", language="fa"),  # nothing: one word (Lucene's tokenizer sees it so too)
        ]
    )
    assert sorted(ids(await find(search_backend, "کتاب\u200cخانه"))) == [1, 2]
    assert sorted(ids(await find(search_backend, "کتاب خانه"))) == [1, 2]
    assert sorted(ids(await find(search_backend, '"کتاب خانه"'))) == [1, 2]
    assert ids(await find(search_backend, "کتابخانه")) == [3]
    assert sorted(ids(await find(search_backend, "خانه"))) == [1, 2]


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("ca\u00adt", "cat"),  # soft hyphen
        ("cat", "ca\u00adt"),
        ("\ufeffcat", "cat"),  # BOM
        ("c\ufeffat", "cat"),
        ("c\u2060at", "cat"),  # word joiner
        ("cat", "c\u2060at"),
        ("کو\u200dه", "کوه"),  # ZWJ
        ("کوه", "کو\u200dه"),
    ],
)
async def test_invisible_joiners_do_not_split_or_change_words(search_backend: SearchBackend, written: str, typed: str):
    await search_backend.upsert([doc(1, f"{written} hour", language=None), doc(2, "River hour", language=None)])
    assert ids(await find(search_backend, typed)) == [1]


async def test_a_zero_width_space_separates_words(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "night\u200bmarket", language=None), doc(2, "Night bus", language=None)])
    assert ids(await find(search_backend, "market")) == [1]
    assert sorted(ids(await find(search_backend, "night"))) == [1, 2]


async def test_persian_and_arabic_digits_are_digits(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "گزارش سال ۱۴۰۲", language="fa"),  # Persian digits
            doc(2, "تقرير ٢٠٢٤", language="ar"),  # Arabic-Indic digits
            doc(3, "Report 1403", language="en"),
        ]
    )
    for typed in ("1402", "۱۴۰۲", "١٤٠٢"):
        assert ids(await find(search_backend, typed)) == [1]
    assert ids(await find(search_backend, "2024")) == [2]
    assert ids(await find(search_backend, "۱۴۰۳")) == [3]


async def test_prefixes_typos_phrases_and_exclusions_across_spellings(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "کتاب کودکان", "قصه\u200cهای شب", language="fa"),
            doc(2, "کیمیاگر", language="fa"),
            doc(3, "کودکان کتاب می\u200cخوانند", language="fa"),
        ]
    )
    assert sorted(ids(await find(search_backend, "كودكا"))) == [1, 3]  # a prefix, in Arabic letters
    assert ids(await find(search_backend, "كيمياگار")) == [2]  # a typo, in Arabic letters
    assert ids(await find(search_backend, '"كتاب كودكان"')) == [1]  # a phrase
    assert ids(await find(search_backend, "كودكان -كتاب")) == []  # an exclusion
    assert ids(await find(search_backend, "كودكان -شب")) == [3]
    assert ids(await find(search_backend, "قصه\u200cهاي")) == [1]


async def test_highlights_show_the_text_as_written(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "کتاب\u200cخانهٔ کودک", "كِتَابٌ برای كودكان و نوجوانان", language="fa"),
        ]
    )
    (hit,) = (await find(search_backend, "كتاب كودكان")).hits
    assert "<mark>کتاب</mark>\u200cخانهٔ" in hit.highlights["title"]  # the ZWNJ and hamza as written
    assert "<mark>كِتَابٌ</mark>" in hit.highlights["description"]  # its diacritics inside the mark
    assert "<mark>كودكان</mark>" in hit.highlights["description"]
    assert "برای" in hit.highlights["description"]  # farsi yeh as written, not folded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("documantary", [1]),  # one letter wrong
        ("documentray", [1]),  # two letters swapped
        ("tehrn", [2]),  # one letter missing
        ("teheran", [2]),  # one letter extra
        ("tehran documantary", [2]),  # a typo next to an exact word
    ],
)
async def test_typos_are_forgiven(search_backend: SearchBackend, text: str, expected: list[int]):
    await search_backend.upsert(
        [
            doc(1, "Documentary hour", "Stories from the north"),
            doc(2, "Tehran documentary", "Streets and people"),
            doc(3, "Cooking hour", "Soup"),
        ]
    )
    page = await find(search_backend, text)
    assert page.hits and page.hits[0].id == expected[0]
    assert 3 not in ids(page)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("documen", [1, 2]), ("teh", [2]), ("tehran docu", [2]), ("runnin", [4]), ("مست", [5])],
)
async def test_prefixes_match_as_you_type(search_backend: SearchBackend, text: str, expected: list[int]):
    await search_backend.upsert(
        [
            doc(1, "Documentary hour"),
            doc(2, "Tehran documentary"),
            doc(3, "Cooking hour"),
            doc(4, "Running late"),  # indexed stemmed ("run"): the typed prefix goes further than the stem
            doc(5, "مستند درباره تهران", language="fa"),
        ]
    )
    assert sorted(ids(await find(search_backend, text))) == expected


async def test_websearch_syntax(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Red river valley"),
            doc(2, "Valley of the red river"),
            doc(3, "River red"),
            doc(4, "Blue lagoon"),
        ]
    )
    assert sorted(ids(await find(search_backend, '"red river"'))) == [1, 2]
    assert sorted(ids(await find(search_backend, "red river -valley"))) == [3]
    assert sorted(ids(await find(search_backend, "lagoon or valley"))) == [1, 2, 4]
    assert sorted(ids(await find(search_backend, '-"red river" river'))) == [3]


# -- highlights ---------------------------------------------------------------------------------------------------


async def test_highlights_mark_the_matches(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Volcano documentary", "Lava flows. The documentary follows two scientists.")])
    (hit,) = (await find(search_backend, "documentary")).hits
    assert "<mark>documentary</mark>" in hit.highlights["title"].lower()
    assert "<mark>documentary</mark>" in hit.highlights["description"].lower()


async def test_highlights_escape_the_document_text(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, '<script>alert("x")</script> Volcano & ash', "<b>Volcano</b> notes")])
    (hit,) = (await find(search_backend, "volcano")).hits
    for snippet in hit.highlights.values():
        assert "<script>" not in snippet and "<b>" not in snippet
        assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert "&lt;script&gt;" in hit.highlights["title"]
    assert "&amp;" in hit.highlights["title"]
    assert "<mark>" in hit.highlights["description"]


# -- empty and hostile queries ------------------------------------------------------------------------------------


async def test_an_empty_query_returns_everything_the_filters_allow(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "One", date=NOW - timedelta(days=3)),
            doc(2, "Two", date=NOW - timedelta(days=1)),
            doc(3, "Three", date=NOW - timedelta(days=2), category="sport"),
            doc(4, "Draft", public_from=None),
        ]
    )
    for text in ("", "   "):
        page = await find(search_backend, text)
        assert ids(page) == [2, 3, 1]  # newest first
        assert page.total == 3
    assert ids(await find(search_backend, "", filter=SearchFilter(categories=("sport",)))) == [3]


HOSTILE = [
    "!!! & | :*",
    "&&&",
    "|",
    "!",
    ":*",
    "<->",
    "<2>",
    "()",
    "(((",
    ")))",
    "'",
    "''",
    '"',
    '""',
    '"unclosed phrase',
    "-",
    "--",
    "- -",
    "or",
    "OR or OR",
    "-or",
    "a:*",
    "a:B",
    "foo\\bar",
    "\\",
    "\\'",
    "'; DROP TABLE episode; --",
    "1; SELECT pg_sleep(10)",
    "$1 $$ $body$",
    "x\x00y",
    "\x00",
    "\ud800 lone surrogate \udfff",
    "\u202e right-to-left \u200b zero width \ufeff",
    "🎬🎥 émoji ﷽",
    "a" * 10_000,
    "word " * 2_000,
    "ab" * 5000 + " volcano",
    "%_%",
    "*",
    "\t\n\r",
    '"' + "long phrase " * 60 + '"',
    " ".join(f'"{w} {w}"' for w in "abcdefghijklmnopqrstuvwxyz" * 2),
    "-" * 600,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_queries_are_answered(search_backend: SearchBackend, text: str):
    await search_backend.upsert([doc(1, "Volcano"), doc(2, "Episode table drop")])
    for order in SearchOrder:
        page = await find(search_backend, text, order=order)
        assert isinstance(page, SearchPage)
        assert page.total >= len(page.hits)
        for hit in page.hits:
            assert hit.id in (1, 2)
    assert await search_backend.count() == 2  # nothing was dropped


@pytest.mark.parametrize(
    "filter",
    [
        SearchFilter(program_ids=(2**70,)),
        SearchFilter(categories=("\x00",)),
        SearchFilter(languages=("",)),
        SearchFilter(tags=("'; DROP TABLE x; --", "\ud800")),
        SearchFilter(categories=("x" * 5000,)),
    ],
)
async def test_hostile_filters_are_answered(search_backend: SearchBackend, filter: SearchFilter):
    await search_backend.upsert([doc(1, "Volcano")])
    for text in ("volcano", ""):
        assert (await find(search_backend, text, filter=filter)).total == 0


async def test_a_long_query_is_cut_not_refused(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Volcano")])
    text = "volcano " + "x" * (MAX_QUERY_CHARS * 20)
    page = await find(search_backend, text)
    assert page.total >= 0


async def test_hostile_documents_are_indexed(search_backend: SearchBackend):
    await search_backend.upsert(
        [
            doc(1, "Null\x00byte volcano", "\ud800 broken \x00", tags=["a\x00b", "'; DROP TABLE x; --"]),
            doc(2, "'; DROP TABLE search_document; --", "x" * 200_000),
            doc(3, "Huge", " ".join(f"w{i:07d}" for i in range(300_000)), tags=[f"t{i}" for i in range(3000)]),
        ]
    )
    assert ids(await find(search_backend, "w0000042")) == [3]
    assert ids(await find(search_backend, "volcano")) == [1]
    assert await search_backend.count() == 3


# -- writing ------------------------------------------------------------------------------------------------------


async def test_upsert_is_idempotent_and_replaces(search_backend: SearchBackend):
    corpus = [doc(1, "Canyon"), doc(2, "Canyon echo"), doc(1, "Canyon", kind=PR)]
    await search_backend.upsert(corpus)
    await search_backend.upsert(corpus)
    assert await search_backend.count() == 3
    assert sorted(keys(await find(search_backend, "canyon"))) == [("episode", 1), ("episode", 2), ("program", 1)]

    await search_backend.upsert([doc(2, "Prairie echo")])
    assert sorted(keys(await find(search_backend, "canyon"))) == [("episode", 1), ("program", 1)]
    assert keys(await find(search_backend, "prairie")) == [("episode", 2)]
    assert await search_backend.count() == 3


async def test_upsert_of_many_documents(search_backend: SearchBackend):
    await search_backend.upsert([doc(i, f"Archive item {i}", f"reel {i % 7}") for i in range(1, 1201)])
    assert await search_backend.count() == 1200
    page = await find(search_backend, "archive", first=10)
    assert page.total == 1200 and len(page.hits) == 10 and page.has_next


async def _batches(*batches: list[SearchDocument]) -> AsyncIterator[list[SearchDocument]]:
    for batch in batches:
        yield batch


async def test_rebuild_replaces_everything_and_reports_progress(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Old tundra"), doc(2, "Old taiga"), doc(3, "Old steppe", kind=PR)])
    fresh = [[doc(10 + i, f"New forest {i}") for i in range(5)], [], [doc(20, "New forest", kind=PR)]]
    reported: list[int] = []
    written = await search_backend.rebuild(_batches(*fresh), progress=reported.append)
    assert written == 6 and sum(reported) == 6 and reported[0] == 5
    assert await search_backend.count() == 6
    assert (await find(search_backend, "old")).total == 0
    assert (await find(search_backend, "forest")).total == 6


async def test_searches_see_the_old_index_until_a_rebuild_finishes(search_backend: SearchBackend):
    await search_backend.upsert([doc(i, "Old tundra") for i in range(1, 4)])
    asks: asyncio.Queue[bool] = asyncio.Queue()
    answers: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    async def reader() -> None:
        """Another client, started before the rebuild (as a request would be), searching between its batches."""
        while await asks.get():
            old, new = await find(search_backend, "tundra"), await find(search_backend, "forest")
            await answers.put((old.total, new.total))

    async def batches() -> AsyncIterator[list[SearchDocument]]:
        for start in (10, 20, 30):
            yield [doc(start + i, "New forest") for i in range(3)]
            await asks.put(True)
            seen_during.append(await answers.get())

    seen_during: list[tuple[int, int]] = []
    task = asyncio.create_task(reader())
    try:
        assert await search_backend.rebuild(batches()) == 9
    finally:
        await asks.put(False)
        await task
    assert seen_during == [(3, 0)] * 3
    assert ((await find(search_backend, "tundra")).total, (await find(search_backend, "forest")).total) == (0, 9)


async def test_rebuild_with_nothing_empties_the_index(search_backend: SearchBackend):
    await search_backend.upsert([doc(1, "Old tundra")])
    assert await search_backend.rebuild(_batches()) == 0
    assert await search_backend.count() == 0


async def test_changes_made_during_a_rebuild_are_kept(search_backend: SearchBackend):
    """An index job that runs while a rebuild is under way must not be lost when the rebuilt index goes live."""
    await search_backend.upsert([doc(1, "Old tundra"), doc(2, "Old taiga")])
    start: asyncio.Event = asyncio.Event()

    async def index_job() -> None:
        """Another worker (its own task, started before the rebuild as a job would be)."""
        await start.wait()
        await search_backend.upsert([doc(99, "Late forest arrival")])
        await search_backend.delete(EP, [10])

    async def batches() -> AsyncIterator[list[SearchDocument]]:
        yield [doc(10, "New forest"), doc(11, "New forest")]
        start.set()
        await asyncio.sleep(0.2)  # the job is under way (or waiting for the rebuild)
        yield [doc(20, "New forest", kind=PR)]

    job = asyncio.create_task(index_job())
    try:
        assert await search_backend.rebuild(batches()) == 3
    finally:
        await asyncio.wait_for(job, timeout=30)
    assert sorted(keys(await find(search_backend, "forest"))) == [("episode", 11), ("episode", 99), ("program", 20)]
    assert (await find(search_backend, "tundra")).total == 0
