"""Search bench (issues 6, 10): both search backends' index build and query latency, vs a plain ILIKE scan.

    .venv/bin/python bench/search_bench.py [--episodes 100000 --programs 500 --repeat 20] [--no-opensearch]

Steps: create a throw-away database cms_bench_<random> (dropped at the end), open it the way the app does
(cms.core.db.open_database: migrations applied, Tortoise initialised), seed it with asyncpg COPY (programs in English,
Persian, Arabic and French with categories and tags; episodes whose titles and descriptions are drawn from
per-language word lists, a deterministic RNG; most published, some drafts, some scheduled, some in draft or
scheduled programs), then:

  1. index build: search.reindex.reindex(PostgresSearch()), the code `cms reindex` runs -> documents per second;
     then VACUUM (ANALYZE) of the search tables until search_document is all-visible, what autovacuum does
     shortly after (--no-vacuum skips it); then the same for OpenSearch (bench/_opensearch.py; --no-opensearch
     skips it): reindex(OpenSearchSearch(url, index=<unique alias>, refresh=False)) on OPENSEARCH_URL, else on a
     node of our own started by the test suite's launcher (tests/support/opensearch.py) while the database is
     seeded -> documents per second; then a wait for its background merges, and --opensearch-warmup untimed rounds
     of every query through it (its freshly started JVM compiles the search code meanwhile);
  2. a fixed list of queries (QUERIES below: common / rare words, two words, phrase, prefix, typo, Persian, Arabic,
     French, filters, DATE order, a second page via cursor, empty queries, OR, exclusion, no match), each asked
     --repeat times as an anonymous caller (include_drafts=False, with facets, as the GraphQL API asks for the
     Search operation) through PostgresSearch.search(), and the same number of times through
       - the baseline: what a naive implementation does, `ILIKE '%word%'` over episode and program title and
         description, the same visibility and filters, ORDER BY date LIMIT 20 (OFFSET 20 for the second page) plus
         a count(*), the two statements concurrently on a 2-connection asyncpg pool (as the backend runs its page
         and totals statements concurrently);
       - the GraphQL `Search` operation (graphql/operations/Search.graphql) executed in-process by the app's
         Strawberry schema, anonymous (--no-graphql skips it);
       - OpenSearchSearch.search() with the same SearchQuery (the second page from its own first page's cursor);
     interleaved (backend, baseline, GraphQL, OpenSearch, the order rotated every round) after one warm-up of each;
  3. EXPLAIN (ANALYZE, BUFFERS) of the backend's statements for every query whose backend p95 misses 30 ms
     (captured from the tortoise.db_client DEBUG log: the exact SQL and parameters it sent).

Prints a table (per query: PostgreSQL and OpenSearch matches, PostgreSQL p50/p95, OpenSearch p50/p95, baseline
p50/p95, ratio = baseline p95 / PostgreSQL p95, GraphQL p50/p95) and the overall figures (all samples pooled) against
issue 6's targets on the PostgreSQL backend: p95 < 30 ms and >= 10x the baseline; then index build docs/s and overall
p50/p95 per backend. Writes bench/results/search.json. Exits 0 whether or not the targets are met. The OpenSearch
index (the alias and `<alias>*`) is deleted and our own node stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import os
import random
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _opensearch
import asyncpg
from _common import BENCH, ROOT, add_database_args, bench_parser, in_throwaway_database, log, print_table, write_results
from _opensearch import Node

sys.path.insert(0, str(ROOT))
from tests.support.sql import QueryCounter  # noqa: E402 - after the path is set

RESULTS = BENCH / "results" / "search.json"
SEARCH_OPERATION = ROOT / "graphql" / "operations" / "Search.graphql"
UTC = dt.UTC
TARGET_P95_MS = 30.0
TARGET_RATIO = 10.0
PAGE = 20

# --- word lists ----------------------------------------------------------------------------------------------------
# Content words in rough frequency order (Zipf weights by rank), stop words mixed in with heavy weights, a long tail
# of made-up proper nouns (names, places) so the vocabulary is as large as real content's, phrases injected now and
# then, and a few rare words injected into a fixed number of episodes.

EN_STOP = ["the", "of", "and", "in", "a", "to", "on", "with", "for", "from", "at", "by", "is", "its"]
EN_WORDS = [
    "news",
    "world",
    "life",
    "story",
    "people",
    "time",
    "day",
    "night",
    "year",
    "week",
    "live",
    "home",
    "special",
    "report",
    "family",
    "city",
    "music",
    "water",
    "war",
    "food",
    "nature",
    "science",
    "sports",
    "culture",
    "art",
    "travel",
    "young",
    "old",
    "new",
    "great",
    "first",
    "last",
    "final",
    "inside",
    "behind",
    "secret",
    "lost",
    "journey",
    "road",
    "train",
    "history",
    "ship",
    "planet",
    "earth",
    "space",
    "climate",
    "change",
    "energy",
    "power",
    "money",
    "market",
    "economy",
    "election",
    "politics",
    "government",
    "law",
    "justice",
    "crime",
    "police",
    "court",
    "interview",
    "health",
    "medicine",
    "football",
    "doctor",
    "hospital",
    "ocean",
    "school",
    "education",
    "teacher",
    "student",
    "university",
    "book",
    "poetry",
    "documentary",
    "film",
    "cinema",
    "theatre",
    "dance",
    "jazz",
    "opera",
    "festival",
    "concert",
    "band",
    "song",
    "album",
    "singer",
    "guitar",
    "piano",
    "orchestra",
    "radio",
    "television",
    "series",
    "season",
    "episode",
    "part",
    "chapter",
    "archive",
    "portrait",
    "profile",
    "legend",
    "hero",
    "king",
    "queen",
    "empire",
    "village",
    "country",
    "nation",
    "border",
    "coast",
    "harbour",
    "bridge",
    "tower",
    "castle",
    "palace",
    "garden",
    "farm",
    "kitchen",
    "recipe",
    "cooking",
    "bread",
    "coffee",
    "tea",
    "wine",
    "street",
    "summer",
    "winter",
    "spring",
    "autumn",
    "rain",
    "snow",
    "storm",
    "fire",
    "light",
    "dark",
    "sun",
    "moon",
    "star",
    "sky",
    "wind",
    "sea",
    "lake",
    "valley",
    "animals",
    "birds",
    "horses",
    "wolves",
    "whales",
    "bees",
    "wildlife",
    "conservation",
    "research",
    "discovery",
    "invention",
    "technology",
    "computer",
    "internet",
    "robot",
    "machine",
    "engine",
    "car",
    "bicycle",
    "airport",
    "flight",
    "pilot",
    "soldier",
    "army",
    "battle",
    "revolution",
    "freedom",
    "peace",
    "memory",
    "dream",
    "voice",
    "silence",
    "truth",
    "question",
    "answer",
    "mystery",
    "adventure",
    "comedy",
    "drama",
    "tragedy",
    "romance",
    "friendship",
    "love",
    "death",
    "birth",
    "wedding",
    "funeral",
    "holiday",
    "tradition",
    "heritage",
    "museum",
    "gallery",
    "painter",
    "sculpture",
    "architecture",
    "photography",
    "fashion",
    "design",
    "craft",
    "workshop",
    "factory",
    "worker",
    "industry",
    "farmer",
    "harvest",
    "fishing",
    "hunting",
    "mining",
    "gold",
    "silver",
    "oil",
    "gas",
    "coal",
    "nuclear",
    "solar",
    "electric",
    "ancient",
    "modern",
    "future",
    "past",
    "present",
    "century",
    "decade",
    "generation",
    "youth",
    "elders",
    "grandmother",
    "mother",
    "father",
    "brother",
    "sister",
    "son",
    "daughter",
    "neighbour",
    "stranger",
    "community",
    "church",
    "mosque",
    "temple",
    "prayer",
    "faith",
    "island",
    "cricket",
    "tennis",
    "rugby",
    "basketball",
    "olympic",
    "champion",
    "match",
    "goal",
    "league",
    "cup",
    "coach",
    "player",
    "team",
    "stadium",
    "race",
    "marathon",
    "boxing",
    "debate",
    "talk",
    "panel",
    "guest",
    "host",
    "studio",
    "broadcast",
    "documentaries",
    "documented",
    "document",
    "documents",
    "investigation",
    "scandal",
    "trial",
    "verdict",
    "prison",
    "escape",
    "refugee",
    "migration",
    "exile",
    "return",
    "homecoming",
    "capital",
    "parliament",
    "minister",
    "protest",
    "strike",
    "union",
    "reform",
    "budget",
    "tax",
    "bank",
    "trade",
    "export",
    "import",
    "shipping",
    "port",
    "container",
    "children",
    "women",
    "hidden",
    "forest",
    "desert",
    "river",
    "mountain",
]
EN_PHRASES = [
    "climate change",
    "world cup",
    "silk road",
    "human rights",
    "cold war",
    "street food",
    "public health",
    "space station",
]
EN_TITLE_SUFFIXES = ["", "", "", " Tonight", " Weekly", " Stories", " Report", " Hour", " Live", " Today"]

FR_STOP = [
    "le",
    "la",
    "les",
    "de",
    "des",
    "du",
    "et",
    "en",
    "un",
    "une",
    "au",
    "aux",
    "dans",
    "pour",
    "sur",
    "avec",
    "par",
]
FR_WORDS = [
    "monde",
    "histoire",
    "vie",
    "ville",
    "musique",
    "famille",
    "nuit",
    "temps",
    "année",
    "jour",
    "semaine",
    "direct",
    "spécial",
    "reportage",
    "maison",
    "eau",
    "guerre",
    "cuisine",
    "nature",
    "science",
    "sport",
    "football",
    "culture",
    "art",
    "voyage",
    "océan",
    "montagne",
    "rivière",
    "île",
    "forêt",
    "désert",
    "entretien",
    "documentaire",
    "enfants",
    "femmes",
    "jeunes",
    "nouveau",
    "grand",
    "dernier",
    "premier",
    "secret",
    "caché",
    "perdu",
    "route",
    "train",
    "navire",
    "planète",
    "terre",
    "espace",
    "climat",
    "énergie",
    "argent",
    "marché",
    "économie",
    "élection",
    "politique",
    "gouvernement",
    "président",
    "loi",
    "justice",
    "police",
    "santé",
    "médecine",
    "médecin",
    "hôpital",
    "école",
    "éducation",
    "étudiant",
    "université",
    "livre",
    "poésie",
    "film",
    "cinéma",
    "théâtre",
    "danse",
    "festival",
    "concert",
    "jazz",
    "opéra",
    "chanson",
    "album",
    "chanteur",
    "piano",
    "orchestre",
    "radio",
    "télévision",
    "série",
    "saison",
    "épisode",
    "portrait",
    "légende",
    "héros",
    "roi",
    "reine",
    "empire",
    "village",
    "pays",
    "frontière",
    "côte",
    "port",
    "pont",
    "tour",
    "château",
    "palais",
    "jardin",
    "ferme",
    "recette",
    "pain",
    "café",
    "vin",
    "rue",
    "paris",
    "lyon",
    "marseille",
    "bordeaux",
    "afrique",
    "europe",
    "amour",
    "paix",
    "mémoire",
    "révolution",
    "république",
    "liberté",
    "travail",
    "ouvrier",
    "industrie",
    "agriculture",
    "mer",
    "soleil",
    "pluie",
    "hiver",
    "été",
    "printemps",
    "automne",
    "fête",
    "tradition",
    "patrimoine",
    "artisan",
    "peintre",
    "musée",
    "exposition",
    "photographie",
    "enquête",
    "témoignage",
    "débat",
    "magazine",
    "journal",
    "actualité",
    "société",
    "jeunesse",
    "écologie",
    "animaux",
    "oiseaux",
    "chevaux",
    "fleuve",
    "lac",
    "documentaires",
    "documents",
]
FR_PHRASES = ["changement climatique", "coupe du monde", "droits de l'homme", "tour de france"]

FA_STOP = ["و", "در", "از", "به", "با", "که", "این", "را", "برای"]
FA_WORDS = [
    "ایران",
    "تهران",
    "اصفهان",
    "شیراز",
    "تبریز",
    "مشهد",
    "فرهنگ",
    "موسیقی",
    "سنتی",
    "تاریخ",
    "خبر",
    "اخبار",
    "گزارش",
    "ورزش",
    "فوتبال",
    "فیلم",
    "سینما",
    "مستند",
    "کودک",
    "کودکان",
    "داستان",
    "شهر",
    "روستا",
    "زندگی",
    "هنر",
    "علم",
    "سفر",
    "آشپزی",
    "طبیعت",
    "جنگ",
    "صلح",
    "مردم",
    "جهان",
    "روز",
    "شب",
    "کتاب",
    "شعر",
    "شاعر",
    "بازار",
    "خانه",
    "خانواده",
    "زن",
    "زنان",
    "جوان",
    "جوانان",
    "آب",
    "کوه",
    "دریا",
    "باغ",
    "گفتگو",
    "برنامه",
    "ویژه",
    "امروز",
    "نوروز",
    "سال",
    "نو",
    "اقتصاد",
    "سیاست",
    "آموزش",
    "دانشگاه",
    "پزشکی",
    "سلامت",
    "تئاتر",
    "نقاشی",
    "معماری",
    "مسجد",
    "کاروانسرا",
    "جاده",
    "ابریشم",
    "بیابان",
    "جنگل",
    "رود",
    "باران",
    "برف",
    "بهار",
    "تابستان",
    "پاییز",
    "زمستان",
    "غذا",
    "نان",
    "چای",
    "فرش",
    "صنایع",
    "دستی",
    "کشاورزی",
    "ماهی",
    "خلیج",
    "فارس",
    "تاریخی",
    "باستان",
    "شاهنامه",
    "فردوسی",
    "حافظ",
    "سعدی",
    "مولانا",
    "خیام",
    "آواز",
    "ساز",
    "تار",
    "کمانچه",
    "دف",
]
FA_PHRASES = ["جاده ابریشم", "موسیقی سنتی", "خلیج فارس"]

AR_STOP = ["في", "من", "على", "إلى", "مع", "عن", "هذا", "التي", "و"]
AR_WORDS = [
    "الأخبار",
    "أخبار",
    "ثقافة",
    "تاريخ",
    "مدينة",
    "رياضة",
    "كرة",
    "القدم",
    "موسيقى",
    "فيلم",
    "وثائقي",
    "حوار",
    "العالم",
    "اقتصاد",
    "سياسة",
    "علوم",
    "طبيعة",
    "رحلة",
    "مطبخ",
    "أطفال",
    "قصة",
    "بحر",
    "جبل",
    "صحراء",
    "القاهرة",
    "بيروت",
    "دمشق",
    "بغداد",
    "الرباط",
    "تونس",
    "عمان",
    "الخليج",
    "النيل",
    "الحياة",
    "الناس",
    "الأسرة",
    "المرأة",
    "الشباب",
    "التعليم",
    "الجامعة",
    "الصحة",
    "الطب",
    "الفن",
    "الشعر",
    "الأدب",
    "الكتاب",
    "المسرح",
    "السينما",
    "الغناء",
    "التراث",
    "الحضارة",
    "الآثار",
    "الإسلامية",
    "العربية",
    "القديمة",
    "الحديثة",
    "السوق",
    "الزراعة",
    "الماء",
    "المناخ",
    "الطاقة",
    "النفط",
    "الحرب",
    "السلام",
    "الانتخابات",
    "الحكومة",
    "البرلمان",
    "القانون",
    "العدالة",
    "برنامج",
    "حلقة",
    "خاص",
    "تقرير",
    "مباشر",
    "أسبوع",
    "يوم",
    "ليلة",
    "شهر",
    "رمضان",
    "العيد",
    "الطعام",
    "الخبز",
    "القهوة",
    "الشاي",
    "الخيل",
    "الجمال",
    "الصيد",
    "الأحمر",
    "المتوسط",
]
AR_PHRASES = ["كرة القدم", "البحر الأحمر", "نهر النيل"]

LATIN_SYLLABLES = [
    "ka",
    "lo",
    "ri",
    "ven",
    "tal",
    "mor",
    "sa",
    "bel",
    "dri",
    "an",
    "ko",
    "zu",
    "pe",
    "nia",
    "gor",
    "li",
    "sha",
    "tem",
    "vo",
    "rin",
    "da",
    "mi",
    "el",
    "os",
    "tar",
    "qui",
    "ber",
    "fen",
    "ha",
    "jo",
    "ul",
    "ix",
    "ren",
    "cas",
    "tor",
    "vi",
    "na",
]
ARABIC_SCRIPT_SYLLABLES = [
    "به",
    "را",
    "مان",
    "سا",
    "لی",
    "دو",
    "کا",
    "نو",
    "زا",
    "ری",
    "تو",
    "مه",
    "شی",
    "پا",
    "گل",
    "دا",
    "نی",
    "هر",
    "بو",
    "فر",
]

CATEGORIES = {
    "news": 20,
    "documentary": 15,
    "culture": 12,
    "sports": 10,
    "music": 10,
    "talk": 8,
    "kids": 7,
    "drama": 7,
    "science": 6,
    "food": 5,
}
TAGS = [
    "interview",
    "live",
    "weekly",
    "archive",
    "investigative",
    "family",
    "travel",
    "politics",
    "history",
    "science",
    "football",
    "jazz",
    "cooking",
    "nature",
    "youth",
]
LANGUAGES = {"en": 60, "en-GB": 5, "fa": 6, "fa-IR": 6, "ar": 10, "fr": 10, None: 3}
# Injected into exactly this many episodes each (some of them not public): selective queries.
RARE_WORDS = {"zanzibar": 40, "timbuktu": 12}


@dataclass
class Lexicon:
    words: list[str]
    cum_weights: list[float]
    phrases: list[str]
    names: list[str]
    name_cum_weights: list[float]
    stop: list[str]


def zipf_cum(n: int, s: float = 1.0, offset: float = 2.0) -> list[float]:
    total, out = 0.0, []
    for rank in range(n):
        total += 1.0 / (rank + offset) ** s
        out.append(total)
    return out


def made_up_names(rng: random.Random, syllables: list[str], n: int, latin: bool) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < n:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        names[word.capitalize() if latin else word] = None
    return list(names)


def lexicons(rng: random.Random, n_names: int) -> dict[str, Lexicon]:
    latin = made_up_names(rng, LATIN_SYLLABLES, n_names, True)
    arabic_script = made_up_names(rng, ARABIC_SCRIPT_SYLLABLES, n_names // 4, False)
    out = {}
    for lang, stop, words, phrases, names in (
        ("en", EN_STOP, EN_WORDS, EN_PHRASES, latin),
        ("fr", FR_STOP, FR_WORDS, FR_PHRASES, latin),
        ("fa", FA_STOP, FA_WORDS, FA_PHRASES, arabic_script),
        ("ar", AR_STOP, AR_WORDS, AR_PHRASES, arabic_script),
    ):
        content = list(dict.fromkeys(words))
        content_weights = [1.0 / (rank + 8) for rank in range(len(content))]
        stop_weight = sum(content_weights) / 3 / len(stop)  # stop words: about a quarter of the tokens
        all_words = stop + content
        cum = list(itertools.accumulate([stop_weight] * len(stop) + content_weights))
        out[lang] = Lexicon(all_words, cum, phrases, names, zipf_cum(len(names), 1.05, 10.0), stop)
    return out


def lexicon_of(language: str | None) -> str:
    primary = (language or "en").split("-")[0]
    return primary if primary in ("en", "fr", "fa", "ar") else "en"


def text(rng: random.Random, lex: Lexicon, n_words: int, n_names: int, phrase_p: float, sentence: bool) -> str:
    tokens = rng.choices(lex.words, cum_weights=lex.cum_weights, k=n_words)
    for name in rng.choices(lex.names, cum_weights=lex.name_cum_weights, k=n_names):
        tokens.insert(rng.randrange(len(tokens) + 1), name)
    if rng.random() < phrase_p:
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(lex.phrases))
    if not sentence:
        return " ".join(tokens)
    out, since = [], 0
    for token in tokens:  # sentences of 6-14 words
        out.append(token.capitalize() if since == 0 and token.isascii() else token)
        since += 1
        if since >= 6 and rng.random() < 0.15:
            out[-1] += "."
            since = 0
    return " ".join(out).rstrip(".") + "."


# --- seed ----------------------------------------------------------------------------------------------------------


async def seed(db_url: str, rng: random.Random, n_programs: int, n_episodes: int, now: dt.datetime) -> dict[str, Any]:
    """Programs and episodes via COPY. Returns counts and what the queries need (dates)."""
    clock = time.perf_counter()
    lex = lexicons(rng, n_names=20_000)
    programs, program_info = [], {}
    oldest = now - dt.timedelta(days=8 * 365)
    for pid in range(1, n_programs + 1):
        language = rng.choices(list(LANGUAGES), weights=list(LANGUAGES.values()))[0]
        lx = lex[lexicon_of(language)]
        content = lx.words[len(lx.stop) :]
        title = " ".join(w.capitalize() if w.isascii() else w for w in rng.sample(content[:150], rng.randint(1, 3)))
        if lexicon_of(language) == "en":
            title += rng.choice(EN_TITLE_SUFFIXES)
        created = oldest + dt.timedelta(seconds=rng.randrange(int((now - oldest).total_seconds() * 0.9)))
        roll = rng.random()
        if roll < 0.04:
            status, publish_at = "DRAFT", None
        elif roll < 0.06:
            status, publish_at = "PUBLISHED", now + dt.timedelta(days=rng.randint(1, 60))
        else:
            status, publish_at = "PUBLISHED", created + dt.timedelta(hours=rng.randint(1, 72))
        category = rng.choices(list(CATEGORIES), weights=list(CATEGORIES.values()))[0]
        tags = sorted(rng.sample(TAGS, rng.randint(1, 3)))
        description = text(rng, lx, rng.randint(20, 60), rng.randint(0, 2), 0.1, True)
        programs.append(
            (pid, title, f"program-{pid}", description, category, language, tags, status, publish_at, created, created)
        )
        program_info[pid] = {"created": created, "status": status, "publish_at": publish_at, "language": language}

    weights = [min(rng.paretovariate(1.3), 25.0) for _ in range(n_programs)]
    owners = rng.choices(range(1, n_programs + 1), weights=weights, k=n_episodes)
    rare_at = {word: set(rng.sample(range(n_episodes), count)) for word, count in RARE_WORDS.items()}
    numbers: dict[int, int] = {}
    episodes = []
    visible = 0
    for i, pid in enumerate(owners):
        eid = i + 1
        info = program_info[pid]
        lx = lex[lexicon_of(info["language"])]
        number = numbers[pid] = numbers.get(pid, 0) + 1
        title = text(rng, lx, rng.randint(3, 8), int(rng.random() < 0.3), 0.02, False)
        title = title[:1].upper() + title[1:]
        if lexicon_of(info["language"]) == "en" and rng.random() < 0.1:
            title += f", part {rng.randint(1, 6)}"
        description = text(rng, lx, rng.randint(15, 60), rng.randint(0, 3), 0.05, True)
        for word, where in rare_at.items():
            if i in where:
                description = f"{description} {word.capitalize()}."
        start = info["created"]
        created = start + dt.timedelta(seconds=rng.randrange(max(1, int((now - start).total_seconds()))))
        roll = rng.random()
        if roll < 0.08:
            status, publish_at = "DRAFT", None
        elif roll < 0.12:
            status, publish_at = "PUBLISHED", now + dt.timedelta(hours=rng.randint(1, 24 * 30))
        else:
            status, publish_at = (
                "PUBLISHED",
                min(created + dt.timedelta(minutes=rng.randint(0, 600)), now - dt.timedelta(minutes=1)),
            )
        public = (
            status == "PUBLISHED"
            and publish_at <= now
            and info["status"] == "PUBLISHED"
            and info["publish_at"] is not None
            and info["publish_at"] <= now
        )
        visible += public
        episodes.append(
            (
                eid,
                pid,
                title[:300],
                f"episode-{eid}",
                1 + (number - 1) // 50,
                number,
                description,
                "{}",
                status,
                publish_at,
                None,
                None,
                created,
                created,
            )
        )
    generated = time.perf_counter() - clock

    conn = await asyncpg.connect(db_url)
    try:
        await conn.copy_records_to_table(
            "program",
            records=programs,
            columns=[
                "id",
                "title",
                "slug",
                "description",
                "category",
                "language",
                "tags",
                "status",
                "publish_at",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "episode",
            records=episodes,
            columns=[
                "id",
                "program_id",
                "title",
                "slug",
                "season",
                "number",
                "description",
                "metadata",
                "status",
                "publish_at",
                "source",
                "external_id",
                "created_at",
                "updated_at",
            ],
        )
        for table in ("program", "episode"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM (ANALYZE) program, episode")
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("program", "episode")}
        by_status = await conn.fetch(
            "SELECT status, publish_at > now() AS scheduled, count(*) AS n FROM episode GROUP BY 1, 2 ORDER BY 1, 2"
        )
        text_mb = await conn.fetchval(
            "SELECT (sum(octet_length(title) + octet_length(description)) / 1e6)::float8 FROM episode"
        )
    finally:
        await conn.close()
    statuses = {f"{r['status']}{' (scheduled)' if r['scheduled'] else ''}": r["n"] for r in by_status}
    log(
        f"seeded {counts} in {time.perf_counter() - clock:.1f}s (text generated in {generated:.1f}s); episodes "
        f"{statuses}; {visible} public episodes; {text_mb:.1f} MB of episode title+description"
    )
    return {"rows": counts, "episode_status": statuses, "public_episodes": visible, "episode_text_mb": text_mb}


# --- queries -------------------------------------------------------------------------------------------------------


@dataclass
class Query:
    key: str
    label: str
    text: str
    # baseline: every pattern of `all_of` matches (title or description ILIKE), at least one of `any_of` when given,
    # none of `none_of`. Patterns are plain text wrapped in %...% (the words a naive implementation would use).
    all_of: list[str] = field(default_factory=list)
    any_of: list[str] = field(default_factory=list)
    none_of: list[str] = field(default_factory=list)
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since_days: int | None = None  # date_from = now - since_days
    order: str = "relevance"
    second_page: bool = False


QUERIES = [
    Query("broad", "very common word", "news", all_of=["news"]),
    Query("common", "common word", "history", all_of=["history"]),
    Query("common2", "common word 2", "music", all_of=["music"]),
    Query("rare", "rare word", "zanzibar", all_of=["zanzibar"]),
    Query("two", "two words", "ocean history", all_of=["ocean", "history"]),
    Query("phrase", "phrase", '"climate change"', all_of=["climate change"]),
    Query("prefix", "prefix", "documen", all_of=["documen"]),
    Query("typo", "typo", "documantary", all_of=["documantary"]),
    Query("stem", "stemmed plural", "interviews", all_of=["interviews"]),
    Query("fa", "Persian word", "تهران", all_of=["تهران"]),
    Query("fa2", "Persian two words", "موسیقی سنتی", all_of=["موسیقی", "سنتی"]),
    Query("ar", "Arabic word", "القاهرة", all_of=["القاهرة"]),
    Query("fr", "French word", "documentaire", all_of=["documentaire"]),
    Query("cat", "word + category", "history", all_of=["history"], categories=("documentary",)),
    Query("lang", "word + language", "festival", all_of=["festival"], languages=("fr",)),
    Query("date", "DATE order", "football", all_of=["football"], order="date"),
    Query("page2", "2nd page (cursor)", "history", all_of=["history"], second_page=True),
    Query("empty_cat", "empty + category", "", categories=("news",)),
    Query("empty", "empty, no filter", ""),
    Query("or", "OR", "football or cricket", any_of=["football", "cricket"]),
    Query("not", "exclusion", "music -jazz", all_of=["music"], none_of=["jazz"]),
    Query("kind", "word + kind=program", "news", all_of=["news"], kinds=("program",)),
    Query("tag_date", "word + tag + date", "war", all_of=["war"], tags=("history",), since_days=730),
    Query("nomatch", "no match (typo path)", "xylophonequartz", all_of=["xylophonequartz"]),
]


def domain_filter(q: Query, now: dt.datetime):
    from search.backend import DocKind, SearchFilter

    return SearchFilter(
        kinds=tuple(DocKind(k) for k in q.kinds),
        categories=q.categories,
        languages=q.languages,
        tags=q.tags,
        date_from=now - dt.timedelta(days=q.since_days) if q.since_days else None,
    )


def search_query(q: Query, now: dt.datetime, after: str | None):
    from search.backend import SearchOrder, SearchQuery

    return SearchQuery(
        text=q.text,
        now=now,
        filter=domain_filter(q, now),
        order=SearchOrder(q.order),
        first=PAGE,
        after=after,
        include_drafts=False,
        with_facets=True,
    )


def graphql_variables(q: Query, now: dt.datetime, after: str | None) -> dict[str, Any]:
    flt: dict[str, Any] = {}
    if q.kinds:
        flt["kinds"] = [k.upper() for k in q.kinds]
    if q.categories:
        flt["categories"] = list(q.categories)
    if q.languages:
        flt["languages"] = list(q.languages)
    if q.tags:
        flt["tags"] = list(q.tags)
    if q.since_days:
        flt["publishedAfter"] = (now - dt.timedelta(days=q.since_days)).isoformat()
    variables: dict[str, Any] = {"query": q.text, "first": PAGE, "orderBy": q.order.upper()}
    if flt:
        variables["filter"] = flt
    if after:
        variables["after"] = after
    return variables


def baseline_sql(q: Query, now: dt.datetime) -> tuple[str, str, list[Any]]:
    """(page SQL, count SQL, parameters): a naive search with ILIKE over title and description."""
    params: list[Any] = [now]

    def p(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    def text_conditions(alias: str) -> list[str]:
        def match(word: str) -> str:
            pattern = p(f"%{word}%")
            return f"({alias}.title ILIKE {pattern} OR {alias}.description ILIKE {pattern})"

        out = [match(w) for w in q.all_of]
        if q.any_of:
            out.append("(" + " OR ".join(match(w) for w in q.any_of) + ")")
        out += [f"NOT {match(w)}" for w in q.none_of]
        return out

    program_filters = []
    if q.categories:
        program_filters.append(f"p.category = ANY({p(list(q.categories))}::text[])")
    if q.languages:
        program_filters.append(f"lower(split_part(p.language, '-', 1)) = ANY({p(list(q.languages))}::text[])")
    if q.tags:
        program_filters.append(f"p.tags @> {p(list(q.tags))}::text[]")
    date_from = p(now - dt.timedelta(days=q.since_days)) if q.since_days else None
    visible = "p.status = 'PUBLISHED' AND p.publish_at <= $1"
    branches = []
    if not q.kinds or "episode" in q.kinds:
        where = [visible, "e.status = 'PUBLISHED' AND e.publish_at <= $1", *text_conditions("e"), *program_filters]
        if date_from:
            where.append(f"coalesce(e.publish_at, e.created_at) >= {date_from}")
        branches.append(
            "SELECT 'episode' AS kind, e.id, e.title, coalesce(e.publish_at, e.created_at) AS date "
            "FROM episode e JOIN program p ON p.id = e.program_id WHERE " + " AND ".join(where)
        )
    if not q.kinds or "program" in q.kinds:
        where = [visible, *text_conditions("p"), *program_filters]
        if date_from:
            where.append(f"coalesce(p.publish_at, p.created_at) >= {date_from}")
        branches.append(
            "SELECT 'program' AS kind, p.id, p.title, coalesce(p.publish_at, p.created_at) AS date "
            "FROM program p WHERE " + " AND ".join(where)
        )
    hits = " UNION ALL ".join(branches)
    offset = PAGE if q.second_page else 0
    page_sql = (
        f"SELECT kind, id, title, date FROM ({hits}) AS h ORDER BY date DESC, id DESC LIMIT {PAGE} OFFSET {offset}"
    )
    count_sql = f"SELECT count(*) FROM ({hits}) AS h"
    return page_sql, count_sql, params


# --- measuring -----------------------------------------------------------------------------------------------------


class StatementLog(QueryCounter):
    """The (SQL, parameters) Tortoise sends: tests/support/sql.py's QueryCounter, keeping the parameters too."""

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2 and isinstance(record.args[0], str):
            self.statements.append((record.args[0], list(record.args[1] or [])))


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "min_ms": min(samples),
        "max_ms": max(samples),
        "mean_ms": sum(samples) / len(samples),
    }


class Runner:
    def __init__(self, backend, pool: asyncpg.Pool, schema, context_factory, opensearch=None) -> None:
        self.backend, self.pool, self.schema, self.context_factory = backend, pool, schema, context_factory
        self.opensearch = opensearch  # OpenSearchSearch, or None without OpenSearch
        self.document = SEARCH_OPERATION.read_text()

    async def backend_once(self, q: Query, after: str | None):
        clock = time.perf_counter()
        page = await self.backend.search(search_query(q, dt.datetime.now(UTC), after))
        return (time.perf_counter() - clock) * 1000, page

    async def opensearch_once(self, q: Query, after: str | None):
        clock = time.perf_counter()
        page = await self.opensearch.search(search_query(q, dt.datetime.now(UTC), after))
        return (time.perf_counter() - clock) * 1000, page

    async def baseline_once(self, q: Query):
        page_sql, count_sql, params = baseline_sql(q, dt.datetime.now(UTC))

        async def fetch(sql: str):
            async with self.pool.acquire() as conn:
                return await conn.fetch(sql, *params)

        clock = time.perf_counter()
        rows, count = await asyncio.gather(fetch(page_sql), fetch(count_sql))
        return (time.perf_counter() - clock) * 1000, (rows, count[0][0])

    async def graphql_once(self, q: Query, after: str | None):
        clock = time.perf_counter()
        result = await self.schema.execute(
            self.document,
            variable_values=graphql_variables(q, dt.datetime.now(UTC), after),
            context_value=self.context_factory(),
            operation_name="Search",
        )
        elapsed = (time.perf_counter() - clock) * 1000
        if result.errors:
            raise RuntimeError(f"GraphQL errors for {q.key}: {result.errors}")
        return elapsed, result.data["search"]


async def measure(runner: Runner, repeat: int, with_graphql: bool) -> list[dict[str, Any]]:
    """Every query in turn; one that raises is recorded with its error (the search code may be mid-change)."""
    rows = []
    for q in QUERIES:
        try:
            rows.append(await measure_one(runner, q, repeat, with_graphql))
        except Exception as exc:  # noqa: BLE001 - reported in the table and the results
            error = f"{type(exc).__name__}: {exc}"
            log(f"{q.key:10s} ERROR {error}")
            rows.append(
                {
                    "key": q.key,
                    "label": q.label,
                    "text": q.text,
                    "error": error,
                    "traceback": traceback.format_exc().splitlines()[-12:],
                }
            )
    return rows


async def estimate_error(q: Query, after: str | None, page) -> dict[str, Any]:
    """How far an estimated total and category facets are from exact counts (the same backend, no limit)."""
    from search.postgres.backend import PostgresSearch

    exact = await PostgresSearch(exact_limit=10**9).search(search_query(q, dt.datetime.now(UTC), after))
    estimated = {f.value: f.count for f in page.facets.get("category", [])}
    categories = [(estimated.get(f.value, 0), f.count) for f in exact.facets.get("category", []) if f.count >= 500]
    return {
        "exact_total": exact.total,
        "total_error_pct": round(100 * abs(page.total - exact.total) / exact.total, 2),
        # over the categories with 500+ matches
        "category_error_pct": round(max((100 * abs(e - x) / x for e, x in categories), default=0.0), 2),
        "same_hits": [h.id for h in page.hits] == [h.id for h in exact.hits],
    }


async def measure_one(runner: Runner, q: Query, repeat: int, with_graphql: bool) -> dict[str, Any]:
    after = gql_after = None
    if q.second_page:
        _, first_page = await runner.backend_once(q, None)
        after = first_page.hits[-1].cursor
        if with_graphql:
            _, gql_first = await runner.graphql_once(q, None)
            gql_after = gql_first["pageInfo"]["endCursor"]
    # One warm-up of each, which also gives the answers recorded in the results.
    _, page = await runner.backend_once(q, after)
    _, (base_rows, base_count) = await runner.baseline_once(q)
    gql = (await runner.graphql_once(q, gql_after))[1] if with_graphql else None
    estimate = None if page.exact_counts else await estimate_error(q, after, page)
    os_after, os_page, os_error = await opensearch_warm_up(runner, q)
    samples: dict[str, list[float]] = {"backend": [], "baseline": [], "graphql": [], "opensearch": []}
    kinds = ["backend", "baseline"] + (["graphql"] if with_graphql else []) + (["opensearch"] if os_page else [])
    for i in range(repeat):
        for kind in kinds[i % len(kinds) :] + kinds[: i % len(kinds)]:  # rotate who goes first
            if kind == "backend":
                ms, _ = await runner.backend_once(q, after)
            elif kind == "baseline":
                ms, _ = await runner.baseline_once(q)
            elif kind == "opensearch":
                ms, _ = await runner.opensearch_once(q, os_after)
            else:
                ms, _ = await runner.graphql_once(q, gql_after)
            samples[kind].append(ms)
    row = {
        "key": q.key,
        "label": q.label,
        "text": q.text,
        "order": q.order,
        "second_page": q.second_page,
        "filter": {
            k: v
            for k, v in (
                ("categories", q.categories),
                ("languages", q.languages),
                ("kinds", q.kinds),
                ("tags", q.tags),
                ("since_days", q.since_days),
            )
            if v
        },
        "backend": {
            **stats(samples["backend"]),
            "total": page.total,
            "exact": page.exact_counts,
            "hits": len(page.hits),
            "has_next": page.has_next,
            "top": [f"{h.kind.value}:{h.id}" for h in page.hits[:5]],
            "facets": {k: [(f.value, f.count) for f in v[:5]] for k, v in page.facets.items()},
            "estimate": estimate,
        },
        "baseline": {**stats(samples["baseline"]), "total": base_count, "hits": len(base_rows)},
        "graphql": (
            {**stats(samples["graphql"]), "total": gql["totalCount"], "edges": len(gql["edges"])}
            if with_graphql
            else None
        ),
        "opensearch": _opensearch.row(
            stats(samples["opensearch"]) if samples["opensearch"] else None,
            os_page,
            os_error,
            page,
            page.total if page.exact_counts else estimate["exact_total"],
        ),
        "samples_ms": samples,
    }
    row["ratio_p95"] = row["baseline"]["p95_ms"] / row["backend"]["p95_ms"]
    g, o = row["graphql"], row["opensearch"]
    log(
        f"{q.key:10s} backend p50 {row['backend']['p50_ms']:6.1f} p95 {row['backend']['p95_ms']:6.1f} ms "
        f"({'' if page.exact_counts else '~'}{page.total} matches) | baseline p50 {row['baseline']['p50_ms']:6.1f} p95 {row['baseline']['p95_ms']:6.1f} ms "
        f"({base_count}) | {row['ratio_p95']:5.1f}x"
        + (f" | graphql p50 {g['p50_ms']:6.1f} p95 {g['p95_ms']:6.1f} ms" if g else "")
        + (_opensearch.log_part(o) if o else "")
    )
    return row


async def warm_up_jvm(runner: Runner, rounds: int) -> dict[str, Any]:
    """Every query through OpenSearch `rounds` times, untimed, before any measurement: a freshly started JVM runs
    its search code interpreted until the JIT has compiled it (1.5-4x slower over the first ~100 searches on a
    5,000-episode index), a node in service would not. A query that fails is left to measure_one to report."""
    clock, calls = time.perf_counter(), 0
    for _ in range(rounds):
        for q in QUERIES:
            try:
                await runner.opensearch_once(q, None)
                calls += 1
            except Exception:  # noqa: BLE001 - reported by measure_one
                pass
    seconds = time.perf_counter() - clock
    log(f"OpenSearch JVM warm-up: {calls} untimed searches ({rounds} rounds of the queries) in {seconds:.1f}s")
    return {"rounds": rounds, "searches": calls, "seconds": round(seconds, 1)}


async def opensearch_warm_up(runner: Runner, q: Query):
    """(cursor for the second page, the warm-up's page, error): OpenSearch's first page gives its own cursor. A query
    OpenSearch fails is recorded with its error and left out of its rounds; the other sides' figures stand."""
    if runner.opensearch is None:
        return None, None, None
    try:
        after = None
        if q.second_page:
            after = (await runner.opensearch_once(q, None))[1].hits[-1].cursor
        return after, (await runner.opensearch_once(q, after))[1], None
    except Exception as exc:  # noqa: BLE001 - reported in the table and the results
        log(f"{q.key:10s} OpenSearch ERROR {type(exc).__name__}: {exc}")
        return None, None, f"{type(exc).__name__}: {exc}"


def plan_summary(plan: dict) -> dict[str, Any]:
    """Top nodes by exclusive time (summed over loops), and the statement's execution time and buffers.

    A CTE's plan is listed once (as a subplan) but its time also shows inside the CTE Scan that first reads it:
    that scan's exclusive time leaves it out, so a CTE's work is counted in its own nodes only."""
    nodes = []
    cte_left: dict[str, float] = {}

    def collect(node: dict) -> None:
        name = node.get("Subplan Name", "")
        if name.startswith("CTE "):
            cte_left[name[4:]] = node.get("Actual Total Time", 0.0) * (node.get("Actual Loops", 1) or 1)
        for child in node.get("Plans", []):
            collect(child)

    def walk(node: dict) -> float:
        loops = node.get("Actual Loops", 1) or 1
        total = node.get("Actual Total Time", 0.0) * loops
        children = sum(walk(child) for child in node.get("Plans", []))
        own = total - children
        if node["Node Type"] == "CTE Scan" and node.get("CTE Name") in cte_left:
            inner = min(own, cte_left[node["CTE Name"]])
            cte_left[node["CTE Name"]] -= inner
            own -= inner
        what = node["Node Type"]
        for key in ("Relation Name", "Index Name", "CTE Name"):
            if key in node:
                what += f" {node[key]}"
        nodes.append(
            {"node": what, "self_ms": round(max(own, 0.0), 2), "rows": node.get("Actual Rows"), "loops": loops}
        )
        return total

    collect(plan["Plan"])
    walk(plan["Plan"])
    top = plan["Plan"]
    return {
        "execution_ms": plan.get("Execution Time"),
        "planning_ms": plan.get("Planning Time"),
        "shared_hit": top.get("Shared Hit Blocks"),
        "shared_read": top.get("Shared Read Blocks"),
        "temp_written": top.get("Temp Written Blocks"),
        "top_nodes": sorted(nodes, key=lambda n: -n["self_ms"])[:5],
    }


def statement_kind(sql: str) -> str:
    """A short name for a backend statement (search/postgres/sql.py changes; this only guesses from its text)."""
    if "search_term_trigram" in sql:
        return "typo"
    if "to_tsvector(c.config" in sql:
        return "normalise"
    ranks_or_pages = "ORDER BY" in sql and "LIMIT" in sql
    counts = "GROUPING" in sql or "count(*)" in sql
    return {(True, True): "page+totals", (True, False): "page", (False, True): "totals"}.get(
        (ranks_or_pages, counts), "other"
    )


def code_fingerprint() -> dict[str, Any]:
    """Which search code was measured: HEAD, uncommitted changes under search/ and migrations/, a hash of them."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "?"

    files = sorted([*(ROOT / "search").glob("*.py"), *(ROOT / "migrations" / "models").glob("*.py")])
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return {
        "head": git("rev-parse", "--short", "HEAD"),
        "uncommitted": git("status", "--porcelain", "--", "search", "migrations").splitlines(),
        "search_sha256": digest.hexdigest()[:12],
    }


async def explain_backend(runner: Runner, db_url: str, q: Query, after: str | None) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement the backend sends for `q` (one call captured from the log)."""
    with StatementLog() as captured:
        clock = time.perf_counter()
        await runner.backend.search(search_query(q, dt.datetime.now(UTC), after))
        wall = (time.perf_counter() - clock) * 1000
    conn = await asyncpg.connect(db_url)
    out = []
    try:
        for sql, values in captured.statements:
            kind = statement_kind(sql)
            raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *values)
            plan = json.loads(raw)[0]
            text_plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
            out.append(
                {
                    "statement": kind,
                    "sql": sql,
                    "params": [str(v)[:200] for v in values],
                    "summary": plan_summary(plan),
                    "plan_text": [r[0] for r in text_plan],
                }
            )
    finally:
        await conn.close()
    log(f"EXPLAIN {q.key}: one search() call took {wall:.1f} ms, {len(out)} statements")
    for item in out:
        s = item["summary"]
        log(
            f"    {item['statement']:9s} execution {s['execution_ms']:.1f} ms (planning {s['planning_ms']:.1f}), "
            f"shared hit {s['shared_hit']} read {s['shared_read']}, temp written {s['temp_written']}"
        )
        for node in s["top_nodes"][:3]:
            log(
                f"        {node['self_ms']:8.2f} ms self (x loops)  {node['node']} (rows {node['rows']} x {node['loops']} loops)"
            )
    return out


# --- main ----------------------------------------------------------------------------------------------------------


async def timed_reindex(backend) -> dict[str, Any]:
    """search.reindex.reindex(backend), the code `cms reindex` runs: documents per second of the rebuild."""
    from search.reindex import reindex

    progress = {"batches": 0}
    clock = time.perf_counter()
    result = await reindex(backend, on_progress=lambda n: progress.__setitem__("batches", progress["batches"] + 1))
    wall = time.perf_counter() - clock
    build = {
        "documents": result.documents,
        "rebuild_seconds": result.seconds,
        "docs_per_second": result.per_second,
        "reindex_call_seconds": wall,
        "caught_up": result.caught_up,
        "batches": progress["batches"],
    }
    log(
        f"reindex ({type(backend).__name__}): {result.documents} documents in {result.seconds:.1f}s = "
        f"{result.per_second:,.0f} docs/s (whole reindex() call {wall:.1f}s, {result.caught_up} caught up)"
    )
    return build


async def bench(args: argparse.Namespace, db_url: str, tmp: Path, node: Node | None) -> dict[str, Any]:
    from cms.core import db
    from cms.core.settings import Settings
    from search.postgres.backend import PostgresSearch

    code = code_fingerprint()
    log(
        f"search code: HEAD {code['head']}, search sha256 {code['search_sha256']}, uncommitted "
        f"{', '.join(line.split()[-1] for line in code['uncommitted']) or 'none'}"
    )
    settings = Settings(
        database_url=db_url,
        data_dir=tmp / "data",
        env="development",
        oidc_issuer=None,
        opensearch_url=None,
        redis_url=None,
    )
    target = db.PgTarget.from_url(db_url)
    clock = time.perf_counter()
    await db.open_database(settings, target)
    log(f"open_database (migrations) {time.perf_counter() - clock:.1f}s")
    now = dt.datetime.now(UTC)
    rng = random.Random(args.seed)
    seeded = await seed(db_url, rng, args.programs, args.episodes, now)
    os_url = await asyncio.to_thread(node.wait) if node else None  # its start-up is over before any measurement

    backend = PostgresSearch()
    build = await timed_reindex(backend)

    conn = await asyncpg.connect(db_url)
    try:
        if not args.no_vacuum:
            build["vacuum"] = await vacuum_search_tables(conn)
        build["visibility"] = await visibility(conn)
        build["sizes_mb"] = {
            name: await conn.fetchval(f"SELECT pg_total_relation_size('{name}') / 1e6::float8")
            for name in (
                "search_document",
                "idx_search_document_vector",
                "search_term",
                "search_term_trigram",
                "episode",
            )
        }
        build["vocabulary_terms"] = await conn.fetchval("SELECT count(*) FROM search_term")
        build["configs"] = [r[0] for r in await conn.fetch("SELECT config FROM search_config ORDER BY 1")]
        pg = {k: await conn.fetchval(f"SHOW {k}") for k in ("server_version", "shared_buffers", "work_mem", "jit")}
    finally:
        await conn.close()
    log(
        f"index sizes (MB): {', '.join(f'{k} {v:.1f}' for k, v in build['sizes_mb'].items())}; "
        f"{build['vocabulary_terms']} vocabulary terms; configs {build['configs']}; server {pg}"
    )

    schema, context_factory = None, None
    if not args.no_graphql:
        from cms.api.context import Context
        from cms.api.schema import build_schema
        from cms.media.storage import LocalStorage

        schema = build_schema()
        storage = LocalStorage(tmp / "data" / "storage")

        def anonymous_context() -> Context:
            return Context(
                principal=None,
                request_id="search-bench",
                settings=settings,
                storage=storage,
                base_url_of=lambda: "http://bench.invalid",
                search=backend,
            )

        context_factory = anonymous_context

    pool = await asyncpg.create_pool(db_url, min_size=2, max_size=2)
    os_backend, opensearch = None, None
    try:
        if os_url:  # removed in `finally` below; _opensearch.build removes what it made when it fails
            os_backend, opensearch = await _opensearch.build(os_url, _opensearch.unique_alias(), timed_reindex)
        runner = Runner(backend, pool, schema, context_factory, os_backend)
        if os_backend:
            opensearch["jvm_warm_up"] = await warm_up_jvm(runner, args.opensearch_warmup)
        loadavg_before = os.getloadavg()[0]
        clock = time.perf_counter()
        rows = await measure(runner, args.repeat, not args.no_graphql)
        measure_seconds = time.perf_counter() - clock
        loadavg_after = os.getloadavg()[0]
        explains = {}
        for row, q in zip(rows, QUERIES):
            if "error" not in row and (row["backend"]["p95_ms"] >= TARGET_P95_MS or q.key in args.explain):
                after = None
                if q.second_page:
                    after = (await runner.backend_once(q, None))[1].hits[-1].cursor
                explains[q.key] = await explain_backend(runner, db_url, q, after)
    finally:
        await pool.close()
        if os_backend:
            await os_backend.close()
            await _opensearch.drop(os_url, opensearch["alias"])
        await db.close_database()
    return {
        "code": code,
        "seeded": seeded,
        "build": build,
        "rows": rows,
        "explains": explains,
        "postgres": pg,
        "opensearch": opensearch,
        "measure_seconds": measure_seconds,
        "loadavg": [loadavg_before, loadavg_after],
    }


async def visibility(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'search_document'")
    return {"relpages": row["relpages"], "relallvisible": row["relallvisible"]}


async def vacuum_search_tables(conn: asyncpg.Connection, attempts: int = 10) -> dict[str, Any]:
    """VACUUM (ANALYZE) the search tables until search_document's pages are all-visible, as autovacuum leaves them
    some time after a rebuild (index-only scans need that). A VACUUM right after the rebuild may leave them not
    all-visible while a snapshot older than the rebuild's commit is open in this database (e.g. an autovacuum
    ANALYZE that started meanwhile); the holders are logged, and it is retried a few times, a second apart."""
    from search.postgres.backend import TABLES

    runs = []
    tables = [name for name in TABLES if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)]
    for _ in range(attempts):
        clock = time.perf_counter()
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        seen = await visibility(conn)
        runs.append({"seconds": round(time.perf_counter() - clock, 2), **seen})
        if seen["relallvisible"] >= seen["relpages"]:
            break
        holders = await conn.fetch(
            "SELECT pid, backend_type, state, backend_xmin::text AS xmin, left(query, 80) AS query "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
        )
        log(
            f"VACUUM left {seen['relallvisible']}/{seen['relpages']} pages of search_document all-visible; "
            f"snapshots open in this database: {[dict(h) for h in holders]}; retrying"
        )
        runs[-1]["holders"] = [dict(h) for h in holders]
        await asyncio.sleep(1)
    log(
        f"VACUUM (ANALYZE) of the search tables: {len(runs)} run(s), {sum(r['seconds'] for r in runs):.1f}s, "
        f"{runs[-1]['relallvisible']}/{runs[-1]['relpages']} pages all-visible"
    )
    return {"runs": runs}


def estimates_line(rows: list[dict[str, Any]]) -> str:
    estimated = [r["backend"]["estimate"] for r in rows if r["backend"].get("estimate")]
    if not estimated:
        return "every total was counted exactly"
    return (
        f"{len(estimated)} estimated totals: off by at most {max(e['total_error_pct'] for e in estimated):.1f} % "
        f"from the exact count (category facets with 500+ matches: "
        f"{max(e['category_error_pct'] for e in estimated):.1f} %); same hits as with exact counting: "
        f"{sum(e['same_hits'] for e in estimated)}/{len(estimated)}"
    )


def report(out: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    failed = [r for r in out["rows"] if "error" in r]
    rows = [r for r in out["rows"] if "error" not in r]
    with_graphql = not args.no_graphql
    with_os = out["opensearch"] is not None
    header = (
        f"{'query':27} {'matches':>7}"
        + (f" {'OS matches':>10}" if with_os else "")
        + f" {'PG p50/p95 ms':>19} {'<30':>3}"
        + (f" {'OS p50/p95 ms':>18}" if with_os else "")
        + f" {'ILIKE':>6} {'baseline p50/p95 ms':>20} {'ratio':>7}"
        + (f" {'GraphQL p50/p95 ms':>19}" if with_graphql else "")
    )
    lines = []
    for r in rows:
        b, base, o = r["backend"], r["baseline"], r["opensearch"]
        matches = ("" if b["exact"] else "~") + str(b["total"])
        line = f"{r['key'] + ' ' + r['label']:27.27} {matches:>7}"
        if with_os:
            line += f" {'ERROR':>10}" if "error" in o else f" {o['total']:8d} {'=' if o['same_total'] else '≠'}"
        line += f" {b['p50_ms']:9.1f} /{b['p95_ms']:7.1f} {'ok' if b['p95_ms'] < TARGET_P95_MS else 'NO':>3}"
        if with_os:
            line += f" {'-':>18}" if "error" in o else f" {o['p50_ms']:9.1f} /{o['p95_ms']:7.1f}"
        line += f" {base['total']:6d} {base['p50_ms']:10.1f} /{base['p95_ms']:7.1f} {r['ratio_p95']:6.1f}x"
        if with_graphql:
            g = r["graphql"]
            line += f" {g['p50_ms']:9.1f} /{g['p95_ms']:7.1f}"
        lines.append(line)
    lines += [f"{r['key'] + ' ' + r['label']:27.27} ERROR {r['error'][:150]}" for r in failed]
    pooled = {
        kind: [ms for r in rows for ms in r["samples_ms"][kind]]
        for kind in ("backend", "baseline", "graphql", "opensearch")
    }
    overall = {kind: stats(v) for kind, v in pooled.items() if v}
    overall_ratio = overall["baseline"]["p95_ms"] / overall["backend"]["p95_ms"]
    geo_ratio = math.exp(sum(math.log(r["ratio_p95"]) for r in rows) / len(rows))
    misses = [r["key"] for r in rows if r["backend"]["p95_ms"] >= TARGET_P95_MS]
    below_10x = [r["key"] for r in rows if r["ratio_p95"] < TARGET_RATIO]
    p95_ok = overall["backend"]["p95_ms"] < TARGET_P95_MS
    ratio_ok = overall_ratio >= TARGET_RATIO
    b, base = overall["backend"], overall["baseline"]
    total_line = (
        f"{'overall (all samples)':27} {'':7}"
        + (f" {'':10}" if with_os else "")
        + f" {b['p50_ms']:9.1f} /{b['p95_ms']:7.1f} {'ok' if p95_ok else 'NO':>3}"
        + (
            f" {overall['opensearch']['p50_ms']:9.1f} /{overall['opensearch']['p95_ms']:7.1f}"
            if "opensearch" in overall
            else f" {'-':>18}"
            if with_os
            else ""
        )
        + f" {'':6} {base['p50_ms']:10.1f} /{base['p95_ms']:7.1f} {overall_ratio:6.1f}x"
    )
    if with_graphql:
        total_line += f" {overall['graphql']['p50_ms']:9.1f} /{overall['graphql']['p95_ms']:7.1f}"
    build = out["build"]
    seeded = out["seeded"]
    print(
        f"\n{seeded['rows']['episode']:,} episodes ({seeded['public_episodes']:,} public), "
        f"{seeded['rows']['program']} programs; index build (search.reindex.reindex, PostgresSearch): "
        f"{build['documents']:,} documents in {build['rebuild_seconds']:.1f}s = {build['docs_per_second']:,.0f} docs/s; "
        f"{args.repeat} timed runs per query and side after 1 warm-up, interleaved; 1-min load average "
        f"{out['loadavg'][0]:.2f} before, {out['loadavg'][1]:.2f} after (other processes skew timings); search code "
        f"{out['code']['search_sha256']} (HEAD {out['code']['head']}"
        f"{' + uncommitted changes' if out['code']['uncommitted'] else ''})"
    )
    print_table(
        header,
        [*lines, "-" * len(header), total_line],
        [
            "matches = the PostgreSQL backend's total (public matches, stemming/prefix/typo aware; ~ = estimated from a "
            "sample, past 10,000 matches); ILIKE = the baseline's count(*).",
            "PG = PostgresSearch.search() (anonymous, with facets); baseline = ILIKE '%word%' over title/description, "
            "same visibility and filters, ORDER BY date LIMIT 20 (+ OFFSET 20 for page2) + count(*), concurrently.",
            "ratio = baseline p95 / PG p95. GraphQL = the Search operation executed in-process (schema.execute, "
            "anonymous): the PostgreSQL backend + loading the items and facet programs.",
            *(_opensearch.footer(out["opensearch"], rows) if with_os else []),
            f"geometric mean of the per-query ratios: {geo_ratio:.1f}x; queries with backend p95 >= {TARGET_P95_MS:g} ms: "
            f"{', '.join(misses) or 'none'}; below {TARGET_RATIO:g}x: {', '.join(below_10x) or 'none'}",
            estimates_line(rows),
        ],
    )
    verdict = (
        f"Targets (PostgreSQL backend): overall p95 {b['p95_ms']:.1f} ms < {TARGET_P95_MS:g} ms "
        f"{'PASS' if p95_ok else 'FAIL'}; overall p95 ratio {overall_ratio:.1f}x >= {TARGET_RATIO:g}x "
        f"{'PASS' if ratio_ok else 'FAIL'}; per query: {len(rows) - len(misses)}/{len(rows)} under "
        f"{TARGET_P95_MS:g} ms, {len(rows) - len(below_10x)}/{len(rows)} at >= {TARGET_RATIO:g}x"
        + (f"; {len(failed)} queries FAILED and are left out: {', '.join(r['key'] for r in failed)}" if failed else "")
    )
    print(verdict)
    per_backend = {"postgres": backend_summary(build, overall["backend"], [r["backend"] for r in rows])}
    if with_os:
        per_backend["opensearch"] = backend_summary(
            out["opensearch"]["build"],
            overall.get("opensearch"),
            [r["opensearch"] for r in rows if "error" not in r["opensearch"]],
        )
    print(
        "Per backend (index build: search.reindex.reindex, documents per second of the rebuild; latency: "
        "search() calls, all samples pooled):"
    )
    for name, s in per_backend.items():
        latency = (
            "no samples"
            if s["p50_ms"] is None
            else (
                f"overall p50 {s['p50_ms']:5.1f} ms, p95 {s['p95_ms']:5.1f} ms; {s['queries_under_target']}/{s['queries']} "
                f"queries with p95 < {TARGET_P95_MS:g} ms"
            )
        )
        print(
            f"  {'PostgreSQL' if name == 'postgres' else 'OpenSearch':10}  {s['docs_per_second']:7,.0f} docs/s "
            f"({s['documents']:,} documents in {s['rebuild_seconds']:.1f}s); {latency}"
        )
    print()
    return {
        "overall": overall,
        "overall_ratio_p95": overall_ratio,
        "geomean_ratio_p95": geo_ratio,
        "misses_p95": misses,
        "below_ratio": below_10x,
        "p95_target_met": p95_ok,
        "ratio_target_met": ratio_ok,
        "failed": [r["key"] for r in failed],
        "verdict": verdict,
        "per_backend": per_backend,
        "opensearch_totals_differ": [
            {"key": r["key"], "postgres_exact": o["pg_exact_total"], "opensearch": o["total"]}
            for r in rows
            if with_os and "error" not in (o := r["opensearch"]) and not o["same_total"]
        ],
    }


def backend_summary(
    build: dict[str, Any], overall: dict[str, float] | None, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Index build docs/s, overall p50/p95 and queries under the p95 target of one backend."""
    return {
        "docs_per_second": build["docs_per_second"],
        "documents": build["documents"],
        "rebuild_seconds": build["rebuild_seconds"],
        "p50_ms": overall["p50_ms"] if overall else None,
        "p95_ms": overall["p95_ms"] if overall else None,
        "queries": len(rows),
        "queries_under_target": sum(r["p95_ms"] < TARGET_P95_MS for r in rows),
    }


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--episodes", type=int, default=100_000, help="episodes to seed (default 100000)")
    parser.add_argument("--programs", type=int, default=500, help="programs to seed (default 500)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query and side (default 20)")
    parser.add_argument("--seed", type=int, default=6, help="RNG seed of the content (default 6)")
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="skip VACUUM (ANALYZE) of the search tables after the build (measure right after it)",
    )
    parser.add_argument("--no-graphql", action="store_true", help="skip the in-process GraphQL figures")
    parser.add_argument(
        "--no-opensearch",
        action="store_true",
        help="skip the OpenSearch backend (else OPENSEARCH_URL, or a node started from the test suite's launcher)",
    )
    parser.add_argument(
        "--opensearch-warmup",
        type=int,
        default=5,
        metavar="ROUNDS",
        help="untimed rounds of every query through OpenSearch before measuring, to let its JVM "
        "compile the search code (default 5)",
    )
    parser.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="KEY",
        help="also EXPLAIN this query (key from the table; repeatable); misses are always explained",
    )
    add_database_args(parser)
    args = parser.parse_args()
    started = time.monotonic()

    def in_db(db_url: str, tmp: Path) -> int:
        (tmp / "data").mkdir()
        node = None if args.no_opensearch else Node().start()  # starts while the database is seeded
        try:
            out = asyncio.run(bench(args, db_url, tmp, node))
        finally:
            if node:
                node.stop()
        summary = report(out, args)
        write_results(
            RESULTS,
            {
                "when": dt.datetime.now(UTC).isoformat(),
                "config": {k: v for k, v in vars(args).items() if k != "pg_url"},
                "cpus": os.cpu_count(),
                "targets": {"p95_ms": TARGET_P95_MS, "ratio": TARGET_RATIO},
                **summary,
                **out,
                "elapsed_s": round(time.monotonic() - started, 1),
            },
            started,
        )
        return 0

    return in_throwaway_database(args, "cms-search-bench-", in_db)


if __name__ == "__main__":
    sys.exit(main())
