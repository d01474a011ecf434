"""The SQL of the PostgreSQL search backend. Every value travels as a bind parameter; only fixed fragments chosen
in code are ever joined into statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from search.backend import FACET_LIMIT, SearchFilter
from search.postgres.highlight import FRAGMENT_SENTINEL
from search.postgres.query import TITLE_MARK
from search.text import primary_subtag, safe_text

# ts_rank weights {D, C, B, A}: program title and attachments, description, tags, title. A title match outweighs a
# description that repeats the word a few times.
RANK_WEIGHTS = [0.05, 0.1, 0.3, 1.0]
RANK_SCALE = 1_000_000  # ranks are compared as integers (rank * scale, rounded): exact in cursors
# Added to the score of items with a query word in the title: above any ts_rank (at most ~1.6 with these weights).
TITLE_TIER_BONUS = 10.0
HEADLINE_TITLE = "StartSel=<mark>, StopSel=</mark>, HighlightAll=true"
HEADLINE_DESCRIPTION = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=12, MaxFragments=2, "
    f'FragmentDelimiter="{FRAGMENT_SENTINEL}"'
)

# A lexeme no query can produce (the parser never makes one with a space), put between the fields of a vector so
# that a phrase cannot match across them: `||` places its right side right after the left's last position.
_GAP = "$gap$' ':1$gap$::tsvector"


def _field(column: str, weight: str) -> str:
    return f"setweight(to_tsvector(u.config::regconfig, u.{column}), '{weight}')"


_VECTOR = f" || {_GAP} || ".join(
    _field(column, weight)
    for column, weight in (
        ("title_words", "A"),
        ("tags_text", "B"),
        ("description_words", "C"),
        ("program_words", "D"),
        ("attachments_words", "D"),  # last: positions stop at 16,383, and a long text must not push the others there
    )
) + (
    " || array_to_tsvector(ARRAY(SELECT jsonb_array_elements_text(u.filters_json::jsonb)))"  # filters, samples
    # the title tier's marks (search.postgres.query.TITLE_MARK); a word too long to be worth one gets none
    f" || array_to_tsvector(ARRAY(SELECT '{TITLE_MARK}' || w"
    " FROM unnest(tsvector_to_array(to_tsvector(u.config::regconfig, u.title_words))) AS w"
    " WHERE octet_length(w) <= 200))"
)
_ALL_TEXT = (
    "u.title_words || ' ' || u.tags_text || ' ' || u.description_words || ' ' || u.program_words"
    " || ' ' || u.attachments_words"
)
_DOC_COLUMNS = ("kind", "id", "program_id", "category", "lang", "tags", "public_from", "date", "config", "vector")

# One statement per batch: both tables written, the configurations in use recorded, and back come the words the
# vocabulary lacks: the vector's lexemes and, for stemmed languages, the surface words (`simple` lexemes) too.
# The words are folded text (search.text.normalise): title and description come as written and, where folding
# changes them, folded too (title_norm, description_norm: NULL when the same); tags, program title and an episode's
# attachments (the text of its documents: indexed, never stored here or highlighted) folded only.
UPSERT = f"""
WITH u AS (
    SELECT u.*, COALESCE(u.title_norm, u.title) AS title_words,
           COALESCE(u.description_norm, u.description) AS description_words
    FROM unnest(
        $1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::bigint[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], $15::text[],
        $16::text[], $17::text[]
    ) AS u(kind, id, title, description, tags_json, tags_text, category, lang, program_id, program_words,
           public_from, date, config, filters_json, title_norm, description_norm, attachments_words)
), configs AS (
    INSERT INTO search_config (config) SELECT DISTINCT u.config FROM u ORDER BY 1 ON CONFLICT DO NOTHING
), texts AS (
    INSERT INTO search_document_text (kind, id, title, description, title_norm, description_norm)
    SELECT u.kind, u.id, u.title, u.description, u.title_norm, u.description_norm FROM u
    ON CONFLICT (kind, id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
        title_norm = EXCLUDED.title_norm, description_norm = EXCLUDED.description_norm
), written AS (
    INSERT INTO search_document ({", ".join(_DOC_COLUMNS)})
    SELECT u.kind, u.id, u.program_id, u.category, u.lang,
           ARRAY(SELECT jsonb_array_elements_text(u.tags_json::jsonb)), u.public_from, u.date, u.config,
           {_VECTOR}
    FROM u
    ON CONFLICT (kind, id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _DOC_COLUMNS[2:])}
    RETURNING vector
), words AS (
    SELECT unnest(tsvector_to_array(written.vector)) AS word FROM written
    UNION
    SELECT unnest(tsvector_to_array(to_tsvector('simple'::regconfig, {_ALL_TEXT}))) FROM u WHERE u.config <> 'simple'
)
SELECT word FROM words
WHERE char_length(word) BETWEEN 2 AND 48 AND strpos(word, ' ') = 0
  AND NOT EXISTS (SELECT 1 FROM search_term t WHERE t.term = words.word COLLATE "C")
ORDER BY 1
"""

ADD_TERMS = """
WITH added AS (
    INSERT INTO search_term (term) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING term
)
INSERT INTO search_term_trigram (trigram, trigram_count, term)
SELECT g.trigram, g.trigram_count, g.term
FROM unnest($2::text[], $3::smallint[], $4::text[]) AS g(trigram, trigram_count, term)
JOIN added ON added.term = g.term COLLATE "C"
ON CONFLICT DO NOTHING
"""

DELETE = """
WITH gone AS (DELETE FROM search_document WHERE kind = $1 AND id = ANY($2::bigint[]))
DELETE FROM search_document_text WHERE kind = $1 AND id = ANY($2::bigint[])
"""
CLEAR = (
    "DELETE FROM search_document",
    "DELETE FROM search_document_text",
    "DELETE FROM search_term_trigram",
    "DELETE FROM search_term",
    "DELETE FROM search_config",
)
# SHARE ROW EXCLUSIVE: conflicts with writers (and itself), not with readers.
LOCK_WRITERS = (
    "LOCK TABLE search_document, search_document_text, search_term, search_term_trigram, search_config "
    "IN SHARE ROW EXCLUSIVE MODE"
)
COUNT = "SELECT count(*) AS n FROM search_document"
CONFIGS = "SELECT cfgname::text AS name FROM pg_ts_config"
COMPLETIONS = 8  # vocabulary words that complete a prefix, whose forms join the query

_NORMALISED = """
FROM unnest($1::text[]) WITH ORDINALITY AS w(word, i)
CROSS JOIN (SELECT 'simple'::text AS config UNION SELECT config FROM search_config) AS c
LEFT JOIN LATERAL unnest(to_tsvector(c.config::regconfig, w.word)) AS l ON true
"""
# Each word in `simple` and every configuration in use: its lexemes with positions, and the vocabulary words at or
# after each lexeme (the first equal: a known word; starting with it: completions of a prefix).
NORMALISE = f"""
SELECT w.i, c.config, l.lexeme, l.positions,
       ARRAY(SELECT t.term FROM search_term t WHERE t.term >= l.lexeme COLLATE "C" ORDER BY t.term
             LIMIT CASE WHEN c.config = 'simple' THEN {COMPLETIONS} ELSE 1 END) AS following{_NORMALISED}"""
# The same without the vocabulary: for words taken from it (completions and suggestions), only their forms matter.
NORMALISE_FORMS = f"""
SELECT w.i, c.config, l.lexeme, l.positions{_NORMALISED}"""

# Vocabulary words sharing trigrams with misspelt query words, only those whose trigram count allows the threshold.
TYPO_CANDIDATES = """
SELECT q.i, g.term, g.trigram_count, count(*)::int AS shared
FROM unnest($1::int[], $2::text[], $3::int[], $4::int[], $5::int[]) AS q(i, trigram, total, lo, hi)
JOIN search_term_trigram g ON g.trigram = q.trigram AND g.trigram_count BETWEEN q.lo AND q.hi
GROUP BY q.i, q.total, g.term, g.trigram_count
HAVING count(*) * (1 + $6::float8) >= $6::float8 * (q.total + g.trigram_count)
"""


class Params:
    """Collects bind parameters and hands out their `$n` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def conditions(
    params: Params, *, tsquery_param: str | None, filter: SearchFilter, now: datetime, include_drafts: bool
) -> list[str]:
    """WHERE conditions on `search_document d`. With a tsquery, the filter's kinds, programs, categories, languages
    and tags are already in it (search.postgres.backend.filters); without one they are column conditions."""
    where = []
    if tsquery_param is not None:
        where.append(f"d.vector @@ {tsquery_param}::tsquery")
    if not include_drafts:
        now_param = params(now, "timestamptz")
        where.append(f"d.public_from <= {now_param}")
        # Implied (a public item's date is its publish time, never after public_from), and it lets a walk of the
        # date index start at `now` instead of stepping over every scheduled item first.
        where.append(f"d.date <= {now_param}")
    if tsquery_param is None:
        if filter.kinds:
            where.append(f"d.kind = ANY({params([k.value for k in filter.kinds], 'text[]')})")
        if filter.program_ids:  # an id past bigint matches nothing (and must not reach the driver)
            ids = sorted({int(i) for i in filter.program_ids if -(2**63) <= int(i) < 2**63})
            where.append(f"d.program_id = ANY({params(ids, 'bigint[]')})")
        if filter.categories:
            where.append(f"d.category = ANY({params([safe_text(c) for c in filter.categories], 'text[]')})")
        if filter.languages:
            languages = sorted({primary_subtag(safe_text(language)) or "" for language in filter.languages})
            where.append(f"d.lang = ANY({params(languages, 'text[]')})")
        if filter.tags:
            where.append(f"d.tags @> {params(sorted({safe_text(t) for t in filter.tags}), 'text[]')}")
    if filter.date_from is not None:
        where.append(f"d.date >= {params(filter.date_from, 'timestamptz')}")
    if filter.date_to is not None:
        where.append(f"d.date < {params(filter.date_to, 'timestamptz')}")
    return where or ["true"]


def escaped(column: str) -> str:
    """HTML-escape a column in SQL before ts_headline sees it, so a document cannot inject markup."""
    return f"replace(replace(replace(replace({column}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '\"', '&quot;')"


_ORDER = "rank DESC, date DESC, id DESC, kind DESC"


def _keyset(params: Params, after: list[Any] | None, ranked: bool, alias: str = "") -> str:
    """Rows strictly after the cursor's in the page order (a row comparison the date index can serve)."""
    if after is None:
        return "true"
    r, d, i, k = after
    tail = f"{params(d, 'timestamptz')}, {params(i, 'bigint')}, {params(k, 'text')}"
    if ranked:
        return f"(rank, date, id, kind) < ({params(r, 'bigint')}, {tail})"
    return f"({alias}date, {alias}id, {alias}kind) < ({tail})"


def totals(where: list[str], *, with_facets: bool, limit_param: str) -> str:
    """Rows (field, value, n) over the first `limit_param` matches (search.postgres.backend.counts decides how many and which):
    the total, and when asked the most frequent values of each facet. Counting (category, language, program)
    combinations first is one hash over the matches instead of three; the grouping sets then run over a few thousand
    rows at most."""
    source = (
        f"(SELECT d.category, d.lang, d.program_id FROM search_document d WHERE {' AND '.join(where)}"
        f" LIMIT {limit_param}) AS m"
    )
    if not with_facets:
        return f"SELECT 'total'::text AS field, NULL::text AS value, count(*) AS n FROM {source}"
    grouping = "GROUPING(category, lang, program_id)"
    value = "COALESCE(category, lang, program_id::text)"
    return f"""
SELECT CASE x.g WHEN 7 THEN 'total' WHEN 3 THEN 'category' WHEN 5 THEN 'language' ELSE 'program' END AS field,
       x.value, x.n
FROM (
    SELECT {grouping} AS g, {value} AS value, COALESCE(sum(c.n), 0)::bigint AS n,
           row_number() OVER (PARTITION BY {grouping} ORDER BY sum(c.n) DESC, {value}) AS r
    FROM (SELECT category, lang, program_id, count(*) AS n FROM {source} GROUP BY 1, 2, 3) AS c
    GROUP BY GROUPING SETS ((), (category), (lang), (program_id))
    HAVING {grouping} = 7 OR {value} IS NOT NULL
) AS x
WHERE x.r <= {FACET_LIMIT}"""


def _tier(params: Params, where: list[str], *, rank_of: str, bonus: float, after: list[Any] | None, n: str) -> str:
    """One relevance tier's best n + 1 rows after the cursor: every match of the tier ranked (a top-N sort)."""
    return f"""
    SELECT * FROM (
        SELECT d.kind, d.id, d.date, d.config, {bonus} + {rank_of}::float8 AS score,
               round(({bonus} + {rank_of}::float8) * {RANK_SCALE})::bigint AS rank
        FROM search_document d WHERE {" AND ".join(where)}
    ) AS m
    WHERE {_keyset(params, after, ranked=True)}
    ORDER BY {_ORDER} LIMIT {n} + 1"""


def text_page(
    params: Params,
    where: list[str],
    *,
    rank_param: str,
    title_param: str | None,
    ranked: bool,
    after: list[Any] | None,
    limit: int,
) -> str:
    """A text query's page (plus one row to tell has_next), with scores and highlights for the page's rows only.
    `rank_param` is the words' tsquery (without filter and configuration lexemes), `title_param` the title tier's.
    Highlights are of the folded text (what the lexemes come from), with the original beside them where folding
    changed it (title_source, description_source: search.postgres.backend.highlight carries the marks over).

    Relevance is the title tier first (items with a query word in the title, TITLE_TIER_BONUS added to their
    score), then ts_rank with the field weights. The tiers are ranked apart and the lower one only when the title
    tier cannot fill the page: a word in 40 % of the index ranks its ~7 % title matches, not every match."""
    n = params(limit, "int")
    rank_of = f"ts_rank({params(RANK_WEIGHTS, 'float4[]')}, d.vector, {rank_param}::tsquery)"
    if not ranked:  # no rank: the planner may walk the date index instead of the GIN bitmap when words are common
        page = f"""
    SELECT d.kind, d.id, d.date, d.config, NULL::float8 AS score, 0::bigint AS rank FROM search_document d
    WHERE {" AND ".join(where)} AND {_keyset(params, after, ranked=False, alias="d.")}
    ORDER BY d.date DESC, d.id DESC, d.kind DESC LIMIT {n} + 1"""
    elif title_param is None:  # nothing to look for in titles (only excluded words): one tier
        page = _tier(params, where, rank_of=rank_of, bonus=0.0, after=after, n=n)
    else:
        in_title = f"d.vector @@ {title_param}::tsquery"
        rest = _tier(params, [*where, f"NOT ({in_title})"], rank_of=rank_of, bonus=0.0, after=after, n=n)
        if after is not None and after[0] < TITLE_TIER_BONUS * RANK_SCALE:
            page = rest  # the cursor is past the title tier
        else:
            # The lower tier is read only when the title tier has no more than n rows after the cursor: a one-time
            # filter that skips its plan entirely otherwise. Every title-tier row ranks above every other row.
            top = _tier(params, [*where, in_title], rank_of=rank_of, bonus=TITLE_TIER_BONUS, after=after, n=n)
            page = f"""
    WITH top AS ({top}
    )
    SELECT * FROM top
    UNION ALL
    SELECT * FROM ({rest}
    ) AS rest WHERE (SELECT count(*) FROM top) <= {n}"""
    score, join = "q.score", ""  # relevance order: the tiers scored every row
    if not ranked:
        # In date order the page's rows get their relevance score here, n of them (they are not ranked), on the
        # relevance order's scale: their vectors are read again.
        score = rank_of
        if title_param is not None:
            score = f"CASE WHEN d.vector @@ {title_param}::tsquery THEN {TITLE_TIER_BONUS} ELSE 0 END + {rank_of}"
        score = f"({score})::float8"
        join = "\nJOIN search_document d ON d.kind = q.kind AND d.id = q.id"
    return f"""
WITH p AS ({page}
), q AS (
    SELECT p.*, row_number() OVER (ORDER BY {_ORDER}) AS ord FROM p
)
SELECT q.kind, q.id, q.date, q.rank,
       CASE WHEN q.ord <= {n} THEN {score} END AS score,
       CASE WHEN q.ord <= {n} THEN ts_headline(q.config::regconfig, {escaped("COALESCE(t.title_norm, t.title)")},
                                               {rank_param}::tsquery, '{HEADLINE_TITLE}') END AS title_hl,
       CASE WHEN q.ord <= {n} THEN ts_headline(q.config::regconfig,
                                               {escaped("COALESCE(t.description_norm, t.description)")},
                                               {rank_param}::tsquery, '{HEADLINE_DESCRIPTION}') END AS description_hl,
       CASE WHEN q.ord <= {n} AND t.title_norm IS NOT NULL THEN t.title END AS title_source,
       CASE WHEN q.ord <= {n} AND t.description_norm IS NOT NULL THEN t.description END AS description_source
FROM q{join}
LEFT JOIN search_document_text t ON t.kind = q.kind AND t.id = q.id
WHERE q.ord <= {n} + 1
ORDER BY q.ord
"""


def browse_page(params: Params, where: list[str], *, after: list[Any] | None, limit: int) -> str:
    """An empty query's page: newest first, straight off the date index; every rank (and score) is 0."""
    n = params(limit, "int")
    return f"""
SELECT d.kind, d.id, d.date, 0::bigint AS rank, 0::float8 AS score,
       NULL::text AS title_hl, NULL::text AS description_hl, NULL::text AS title_source,
       NULL::text AS description_source
FROM search_document d
WHERE {" AND ".join(where)} AND {_keyset(params, after, ranked=False, alias="d.")}
ORDER BY d.date DESC, d.id DESC, d.kind DESC
LIMIT {n} + 1
"""
