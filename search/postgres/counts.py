"""Totals and facet counts with bounded work: exact up to `exact_limit` matches, estimated from a sample beyond.

Counting every match reads every matching row, and the rows of a word in 40 % of a 100,000-item index are on nearly
every page of the table (~30 ms here). So, like OpenSearch's `track_total_hits` and Algolia's non-exhaustive facet
counts, a broad query is counted on a uniform sample: every item falls in one of SAMPLE_BUCKETS buckets by a hash
of its key, and carries a lexeme for each sample level that keeps its bucket (' s:16' = the 1/16 sample). ANDing a
level's lexeme into the query lets the GIN index hand over only that sample's matches, which are counted and scaled
up. The 1/16 sample (a coarser one when that holds more than `sample_budget` matches) is read first, as a probe
that tells what to read next: every match when there should be at most `exact_limit` of them (then the counts are
exact), else a finer sample when one is expected to hold at most half `sample_budget`; otherwise the probe's own
counts are the estimate.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from search.backend import FacetCount, empty_facets
from search.postgres import sql
from search.postgres.query import quote

SAMPLE_BUCKETS = 256
SAMPLE_LEVELS = (4, 16, 64, 256)  # the sampled fractions' denominators, finest first
EXACT_LIMIT = 10_000  # matches counted exactly (OpenSearch's default track_total_hits)
SAMPLE_BUDGET = 5_000  # matched rows a sampled count reads at most (it aims at half)
PROBE_LEVEL = 16  # the probe's sample: 1/16 of the matches tells within a few percent how many there are
# An exact count is tried when the probe says up to 1.1 x exact_limit: at the limit the 1/16 probe holds ~625 matches,
# so 1.1 x is 2.5 sigma there (and 5 sigma at 9,000 matches); past it, reading up to the limit would be wasted.
EXACT_MARGIN = 1.1


def sample_lexemes(key: str) -> list[str]:
    """The sample levels an item belongs to, as lexemes no query word can produce (they start with a space)."""
    bucket = zlib.crc32(key.encode()) % SAMPLE_BUCKETS
    return [_lexeme(level) for level in SAMPLE_LEVELS if bucket < SAMPLE_BUCKETS // level]


def _lexeme(level: int) -> str:
    return f" s:{level}"


@dataclass(frozen=True, slots=True)
class Counts:
    total: int
    facets: dict[str, list[FacetCount]]
    exact: bool


async def count_matches(
    db: BaseDBAsyncClient,
    where: list[str],
    values: list[Any],
    *,
    with_facets: bool,
    exact_limit: int = EXACT_LIMIT,
    sample_budget: int = SAMPLE_BUDGET,
) -> Counts:
    """Total and facets of the rows `where` selects (its parameters in `values`)."""
    coarser = [level for level in SAMPLE_LEVELS if level >= PROBE_LEVEL]
    for probe_level in coarser:  # past the budget, coarser (beyond ~1.3M matches the last is a lower bound)
        probe = await _count(db, where, values, with_facets, probe_level, sample_budget)
        if probe.total <= sample_budget:
            break
    expected = probe.total * probe_level
    if expected <= EXACT_MARGIN * exact_limit:
        exact = await _count(db, where, values, with_facets, 1, exact_limit)
        if exact.total <= exact_limit:
            return Counts(exact.total, exact.facets, exact=True)
    # the finest sample expected to fill half the budget (so that it rarely overflows); the probe when none is finer
    level = next((level for level in SAMPLE_LEVELS if expected <= level * sample_budget // 2), probe_level)
    if level < probe_level:
        finer = await _count(db, where, values, with_facets, level, sample_budget)
        if finer.total <= sample_budget:
            return _estimate(finer, level, exact_limit)
    return _estimate(probe, probe_level, exact_limit)


def _estimate(sample: Counts, level: int, exact_limit: int) -> Counts:
    return Counts(
        total=max(sample.total * level, exact_limit + 1),  # more than exact_limit matched: less is sampling noise
        facets={name: [FacetCount(f.value, f.count * level) for f in counts] for name, counts in sample.facets.items()},
        exact=False,
    )


async def _count(
    db: BaseDBAsyncClient, where: list[str], values: list[Any], with_facets: bool, level: int, limit: int
) -> Counts:
    """Counts over at most `limit` + 1 rows of the level's sample (level 1: every row)."""
    values = list(values)
    conditions = list(where)
    if level != 1:
        values.append(quote(_lexeme(level)))
        conditions.append(f"d.vector @@ ${len(values)}::tsquery")
    values.append(limit + 1)
    _, rows = await db.execute_query(
        sql.totals(conditions, with_facets=with_facets, limit_param=f"${len(values)}::int"), values
    )
    total = 0
    facets: dict[str, list[FacetCount]] = empty_facets() if with_facets else {}
    for row in rows:
        if row["field"] == "total":
            total = int(row["n"])
        else:
            facets[row["field"]].append(FacetCount(value=row["value"], count=int(row["n"])))
    return Counts(total, facets, exact=level == 1)
