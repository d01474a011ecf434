"""OpenSearchSearch's calls, against an in-memory stand-in for the async client (no server): index and alias made on
demand, writes through the alias, the rebuild sequence (load, settings, refresh, one atomic alias swap, old index
deleted) and clean-up when a rebuild fails. The real cluster is exercised by tests/integration/search."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, AsyncIterator, Sequence

import pytest
from opensearchpy.exceptions import NotFoundError, TransportError
from opensearchpy.serializer import JSONSerializer

from search.backend import DocKind, InvalidCursor, SearchDocument, SearchQuery
from search.opensearch import OpenSearchSearch
from search.os_mapping import LIVE_SETTINGS, MAPPING_VERSION

NOW = datetime(2025, 3, 4, tzinfo=timezone.utc)


def doc(id: int, kind: DocKind = DocKind.PROGRAM) -> SearchDocument:
    return SearchDocument(
        kind=kind, id=id, title=f"title {id}", description="", tags=(), category=None, language="en", program_id=id,
        program_title=f"title {id}", public_from=NOW - timedelta(days=1), date=NOW, updated_at=NOW,
    )


class FakeIndices:
    def __init__(self, cluster: "FakeClient") -> None:
        self.c = cluster

    async def exists_alias(self, *, name: str) -> bool:
        self.c.calls.append(("exists_alias", name))
        return any(name in aliases for aliases in self.c.aliases.values())

    async def exists(self, *, index: str) -> bool:
        return index in self.c.docs or await self.exists_alias(name=index)

    async def create(self, *, index: str, body: dict) -> dict:
        self.c.calls.append(("create", index, body))
        if index in self.c.docs:
            raise TransportError(400, "resource_already_exists_exception", {})
        self.c.docs[index] = {}
        self.c.settings[index] = dict(body["settings"]["index"])
        self.c.aliases[index] = set(body.get("aliases", {}))
        return {"acknowledged": True}

    async def get_alias(self, *, name: str) -> dict:
        self.c.calls.append(("get_alias", name))
        found = {index: {"aliases": {name: {}}} for index, aliases in self.c.aliases.items() if name in aliases}
        if not found:
            raise NotFoundError(404, "alias missing", {})
        return found

    async def put_settings(self, *, index: str, body: dict) -> dict:
        self.c.calls.append(("put_settings", index, body))
        self.c.settings[index].update(body["index"])
        return {"acknowledged": True}

    async def refresh(self, *, index: str) -> dict:
        self.c.calls.append(("refresh", index))
        return {}

    async def update_aliases(self, *, body: dict) -> dict:
        self.c.calls.append(("update_aliases", body))
        for action in body["actions"]:
            (verb, spec), = action.items()
            if verb == "remove":
                self.c.aliases[spec["index"]].discard(spec["alias"])
            elif verb == "add":
                self.c.aliases[spec["index"]].add(spec["alias"])
            else:
                self.c.docs.pop(spec["index"])
        return {"acknowledged": True}

    async def delete(self, *, index: str, ignore: int | None = None) -> dict:
        self.c.calls.append(("delete_index", index))
        if self.c.docs.pop(index, None) is None and ignore != 404:
            raise NotFoundError(404, "index_not_found_exception", {})
        self.c.aliases.pop(index, None)
        return {"acknowledged": True}


class FakeClient:
    """Just enough of AsyncOpenSearch for the backend and opensearchpy.helpers.async_bulk."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, dict]] = {}
        self.aliases: dict[str, set[str]] = {}
        self.settings: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.transport = SimpleNamespace(serializer=JSONSerializer())
        self.indices = FakeIndices(self)
        self.fail_bulk_after: int | None = None
        self.closed = False

    def resolve(self, name: str) -> list[str]:
        return [index for index, aliases in self.aliases.items() if name in aliases] or (
            [name] if name in self.docs else []
        )

    async def bulk(self, *, body: str, **params: Any) -> dict:
        self.calls.append(("bulk", params))
        if self.fail_bulk_after is not None:
            if self.fail_bulk_after == 0:
                raise TransportError(500, "boom", {})
            self.fail_bulk_after -= 1
        lines = [json.loads(line) for line in body.strip().split("\n")]
        items = []
        while lines:
            (op, meta), = lines.pop(0).items()
            source = lines.pop(0) if op == "index" else None
            targets = self.resolve(meta["_index"])
            if not targets or (params.get("require_alias") and not any(meta["_index"] in self.aliases[t] for t in targets)):
                items.append({op: {"status": 404, "error": {"type": "index_not_found_exception"}}})
                continue
            store = self.docs[targets[0]]
            if op == "index":
                store[meta["_id"]] = source
                items.append({op: {"_id": meta["_id"], "status": 201}})
            else:
                found = store.pop(meta["_id"], None) is not None
                items.append({op: {"_id": meta["_id"], "status": 200 if found else 404, "result": "not_found"}})
        return {"errors": any(item[next(iter(item))]["status"] >= 300 for item in items), "items": items}

    async def search(self, *, index: str, body: dict) -> dict:
        self.calls.append(("search", index, body))
        targets = self.resolve(index)
        if not targets:
            raise NotFoundError(404, "index_not_found_exception", {})
        hits = [
            {"_id": key, "_score": 1.0, "_source": {"kind": s["kind"], "id": s["id"]}, "sort": [1.0, 0, s["id"], s["kind"]]}
            for t in targets for key, s in sorted(self.docs[t].items())
        ]
        return {"hits": {"total": {"value": len(hits)}, "hits": hits[: body["size"]]}, "aggregations": {}}

    async def count(self, *, index: str) -> dict:
        targets = self.resolve(index)
        if not targets:
            raise NotFoundError(404, "index_not_found_exception", {})
        return {"count": sum(len(self.docs[t]) for t in targets)}

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def backend(client: FakeClient) -> OpenSearchSearch:
    return OpenSearchSearch(url="http://unused:9200", index="cms", client=client)


async def batches(*groups: Sequence[SearchDocument]) -> AsyncIterator[Sequence[SearchDocument]]:
    for group in groups:
        yield group


def calls(client: FakeClient, name: str) -> list[tuple]:
    return [call for call in client.calls if call[0] == name]


async def test_first_upsert_creates_a_versioned_index_behind_the_alias(backend: OpenSearchSearch, client: FakeClient) -> None:
    assert backend.name == "opensearch"
    await backend.upsert([doc(1), doc(1), doc(2)])
    (create,) = calls(client, "create")
    assert create[1].startswith(f"cms-v{MAPPING_VERSION}-")
    assert create[2]["aliases"] == {"cms": {"is_write_index": True}}
    assert create[2]["mappings"]["_meta"]["mapping_version"] == MAPPING_VERSION
    (bulk,) = calls(client, "bulk")
    assert bulk[1] == {"refresh": "wait_for", "require_alias": True}
    assert await backend.count() == 2  # idempotent: "kind:id" ids
    checks = len(calls(client, "get_alias"))
    await backend.upsert([doc(3)])
    assert len(calls(client, "create")) == 1 and len(calls(client, "get_alias")) == checks  # remembered


async def test_refresh_can_be_turned_off(client: FakeClient) -> None:
    backend = OpenSearchSearch(url="http://unused:9200", index="cms", refresh=False, client=client)
    await backend.upsert([doc(1)])
    assert calls(client, "bulk")[0][1]["refresh"] == "false"


async def test_upsert_finds_an_existing_alias(backend: OpenSearchSearch, client: FakeClient) -> None:
    client.docs["cms-v1-1"], client.aliases["cms-v1-1"], client.settings["cms-v1-1"] = {}, {"cms"}, {}
    await backend.upsert([doc(1)])
    assert not calls(client, "create")
    assert list(client.docs["cms-v1-1"]) == ["program:1"]


async def test_an_index_of_an_older_mapping_version_is_used_with_a_warning(
    backend: OpenSearchSearch, client: FakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.docs["cms-v0-1"], client.aliases["cms-v0-1"], client.settings["cms-v0-1"] = {}, {"cms"}, {}
    await backend.upsert([doc(1)])
    assert list(client.docs["cms-v0-1"]) == ["program:1"]
    assert "run `cms reindex`" in caplog.text


async def test_upsert_recreates_a_vanished_alias_once(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.upsert([doc(1)])
    for index in list(client.docs):
        await client.indices.delete(index=index)
    await backend.upsert([doc(2)])
    assert len(calls(client, "create")) == 2 and await backend.count() == 1


async def test_losing_the_creation_race_is_fine(backend: OpenSearchSearch, client: FakeClient) -> None:
    real_create = client.indices.create

    async def racing_create(*, index: str, body: dict) -> dict:
        await real_create(index="cms-v1-other", body=body)  # another process got there first
        raise TransportError(500, "illegal_state_exception", "alias [cms] has more than one write index")

    client.indices.create = racing_create  # type: ignore[method-assign]
    await backend.upsert([doc(1)])
    assert list(client.docs) == ["cms-v1-other"] and await backend.count() == 1


async def test_delete_ignores_missing_documents_and_missing_index(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.delete(DocKind.PROGRAM, [1, 2])
    assert not calls(client, "bulk") and not client.docs  # no index is made just to delete from it
    await backend.upsert([doc(1), doc(2)])
    await backend.delete(DocKind.PROGRAM, [1, 99])
    await backend.delete(DocKind.EPISODE, [2])
    await backend.delete(DocKind.PROGRAM, [])
    assert await backend.count() == 1
    assert calls(client, "bulk")[-1][1] == {"refresh": "wait_for", "require_alias": True}


async def test_search_and_count_before_any_index(backend: OpenSearchSearch, client: FakeClient) -> None:
    page = await backend.search(SearchQuery(text="jazz", now=NOW))
    assert page.hits == [] and page.total == 0 and page.has_next is False
    assert set(page.facets) == {"category", "language", "program"}
    assert await backend.count() == 0
    with pytest.raises(InvalidCursor):
        await backend.search(SearchQuery(text="jazz", now=NOW, after="garbage"))
    assert len(calls(client, "search")) == 1  # the bad cursor never reached the cluster


async def test_search_goes_through_the_alias(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.upsert([doc(1), doc(2)])
    page = await backend.search(SearchQuery(text="", now=NOW, first=1))
    assert [(hit.kind, hit.id) for hit in page.hits] == [(DocKind.PROGRAM, 1)] and page.has_next
    assert calls(client, "search")[0][1] == "cms"


async def test_rebuild_loads_a_new_index_then_swaps_the_alias(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.upsert([doc(1), doc(99)])
    (old,) = client.docs
    client.calls.clear()
    seen: list[int] = []

    total = await backend.rebuild(batches([doc(1), doc(2)], [], [doc(3, DocKind.EPISODE)]), progress=seen.append)

    assert total == 3 and seen == [2, 1]  # empty batches write nothing and report nothing
    (new,) = client.docs
    assert new != old and new.startswith(f"cms-v{MAPPING_VERSION}-")
    assert sorted(client.docs[new]) == ["episode:3", "program:1", "program:2"]
    assert client.aliases[new] == {"cms"}
    order = [call[0] for call in client.calls if call[0] != "get_alias"]
    assert order == ["create", "bulk", "bulk", "put_settings", "refresh", "update_aliases", "delete_index"]
    create = calls(client, "create")[0]
    assert create[2]["settings"]["index"]["refresh_interval"] == "-1" and "aliases" not in create[2]
    assert create[2]["settings"]["index"]["number_of_replicas"] == 0
    assert all("refresh" not in call[1] and "require_alias" not in call[1] for call in calls(client, "bulk"))
    assert calls(client, "put_settings")[0][2] == {"index": LIVE_SETTINGS}
    assert calls(client, "update_aliases")[0][1] == {"actions": [
        {"remove": {"index": old, "alias": "cms"}}, {"add": {"index": new, "alias": "cms", "is_write_index": True}},
    ]}
    assert calls(client, "delete_index") == [("delete_index", old)]
    assert await backend.count() == 3


async def test_first_rebuild_replaces_an_index_squatting_the_alias_name(backend: OpenSearchSearch, client: FakeClient) -> None:
    client.docs["cms"], client.aliases["cms"], client.settings["cms"] = {"x": {}}, set(), {}
    await backend.rebuild(batches([doc(1)]))
    (swap,) = calls(client, "update_aliases")
    assert swap[1]["actions"][0] == {"remove_index": {"index": "cms"}}
    assert "cms" not in client.docs and await backend.count() == 1


async def test_failed_rebuild_keeps_the_old_index_and_drops_the_new(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.upsert([doc(1)])
    (old,) = client.docs
    client.fail_bulk_after = 1
    with pytest.raises(TransportError):
        await backend.rebuild(batches([doc(1)], [doc(2)], [doc(3)]))
    assert list(client.docs) == [old] and client.aliases[old] == {"cms"}
    assert not calls(client, "update_aliases")


async def test_close(backend: OpenSearchSearch, client: FakeClient) -> None:
    await backend.close()
    assert client.closed
