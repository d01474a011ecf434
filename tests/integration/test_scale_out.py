"""Scale-out on one machine: two `cms serve` APIs and two `cms worker`s on one PostgreSQL database, one Redis and
one S3 (moto), as separate processes (tests/support/cluster.py).

A mixed load split between the two APIs (anonymous and signed-in reads, episode edits, 50 uploads of real small
media, half through the API's direct route and half straight to the bucket), then:
- every job done exactly once: each upload made one persist_asset and one process_asset job, every job in the
  table SUCCEEDED at its first attempt, each asset has one set of renditions in the database and one output
  prefix in the previews bucket;
- every cache invalidation seen by both APIs: the public response cache is on with a long TTL, and a change made
  through one API shows in anonymous reads on the other (a missed invalidation would show for minutes);
- no media on an API node's disk: each API's CMS_DATA_DIR is walked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from cms.core.db import PgTarget
from cms.media.storage import Area, master_key
from tests.support import media
from tests.support.api import operation
from tests.support.cluster import Cluster
from tests.support.processes import eventually
from tests.support.uploads import bucket_keys

UPLOADS = 50
EPISODES = 5
EPISODE_LIST = operation("ProgramEpisodes")


def pk(global_id: str) -> int:
    """The number in a global id (base64url of `Type:number`, cms/api/ids.py)."""
    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().partition(":")[2])


class Client:
    """GraphQL against one of the cluster's APIs."""

    def __init__(self, http: httpx.AsyncClient, cluster: Cluster) -> None:
        self.http, self.cluster = http, cluster

    async def call(
        self, api: int, name: str, variables: dict[str, Any], *, role: str | None, fresh: bool = False
    ) -> httpx.Response:
        headers = self.cluster.headers(role) | ({"cache-control": "no-cache"} if fresh else {})
        return await self.http.post(
            f"{self.cluster.api_urls[api]}/graphql",
            json={"query": operation(name) if name[0].isupper() else name, "variables": variables},
            headers=headers,
        )

    async def data(self, api: int, name: str, variables: dict[str, Any], *, role: str | None = "editor") -> Any:
        response = await self.call(api, name, variables, role=role)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def mutate(self, api: int, name: str, variables: dict[str, Any], typename: str) -> dict[str, Any]:
        data = await self.data(api, name, variables)
        [result] = data.values()
        assert result["__typename"] == typename, result
        return result  # type: ignore[no-any-return]

    async def titles(self, api: int, program: str, *, fresh: bool = False) -> dict[str, str]:
        """Episode id -> title as an anonymous reader of API `api` sees them (`fresh`: bypassing its cache)."""
        response = await self.call(api, EPISODE_LIST, {"id": program, "first": 50}, role=None, fresh=fresh)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        if body["data"]["program"] is None:
            return {}
        return {e["node"]["id"]: e["node"]["title"] for e in body["data"]["program"]["episodes"]["edges"]}

    async def cached_on(self, api: int, program: str) -> None:
        """Until API `api` answers the anonymous episode list from its cache (so a change must invalidate it)."""

        async def hit() -> bool:
            await self.titles(api, program)
            response = await self.call(api, EPISODE_LIST, {"id": program, "first": 50}, role=None)
            return response.headers.get("x-cache") == "HIT"

        await eventually(hit, what=f"a cached answer on API {api}", processes=self.cluster.processes)


def upload_file(i: int) -> tuple[bytes, str, str]:
    """Real small media, each file different: half short H.264 + AAC clips (a transcode each), half PNGs."""
    if i % 2:
        return media.png_image(64 + i, 48), f"still-{i}.png", "image/png"
    return media.mp4_clip(seconds=0.6, width=160, height=120, seed=100 + i), f"clip-{i}.mp4", "video/mp4"


async def upload(client: Client, i: int, episode: str) -> tuple[str, str]:
    """createUpload, the bytes, completeUpload, all on API i % 2; returns (asset id, sha256)."""
    api = i % 2
    data, filename, content_type = upload_file(i)
    method = "DIRECT" if i % 4 < 2 else "PRESIGNED_POST"
    variables = {
        "input": {
            "filename": filename,
            "size": len(data),
            "contentType": content_type,
            "episodeId": episode,
            "method": method,
        }
    }
    created = await client.mutate(api, "CreateUpload", variables, "Upload")
    if created["method"] == "DIRECT":
        response = await client.http.put(created["url"], content=data, headers=client.cluster.headers("editor"))
    else:
        assert created["method"] == "PRESIGNED_POST", created
        files = {"file": (filename, data, content_type)}
        response = await client.http.post(created["url"], data=created["formFields"], files=files)
    assert response.status_code in (200, 201, 204), response.text
    done = await client.mutate(api, "CompleteUpload", {"id": created["id"]}, "Asset")
    assert done["status"] in ("PROCESSING", "READY"), done
    return done["id"], hashlib.sha256(data).hexdigest()


class _Cluster(Cluster):
    """Each API's temporary files (TMPDIR) inside its data directory, so that walking it finds spooled uploads too."""

    def env(self, name: str, **extra: str) -> dict[str, str]:
        if name.startswith("api-"):
            tmp = self.data_dir(name) / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)  # must exist, or Python quietly uses /tmp
            extra = {"TMPDIR": str(tmp), **extra}
        return super().env(name, **extra)


async def test_two_apis_and_two_workers_share_one_database_redis_and_s3(tmp_path: Path, pg_server: PgTarget) -> None:
    async with (
        _Cluster(log_dir=tmp_path, apis=2, workers=2, pg_server=pg_server) as cluster,
        httpx.AsyncClient(timeout=120) as http,
    ):
        client = Client(http, cluster)
        assert cluster.database is not None
        program = (await client.mutate(0, "CreateProgram", {"input": {"title": "Scale Out"}}, "Program"))["id"]
        await client.mutate(0, "PublishProgram", {"id": program}, "Program")
        episodes = []
        for n in range(EPISODES):
            variables = {"input": {"programId": program, "title": f"Episode {n}", "number": n + 1}}
            episode = (await client.mutate(n % 2, "CreateEpisode", variables, "Episode"))["id"]
            await client.mutate(1 - n % 2, "PublishEpisode", {"id": episode}, "Episode")
            episodes.append(episode)

        # -- the mixed load, split between the APIs --------------------------------------------------------------
        final_titles: dict[str, str] = {}

        async def edits() -> None:
            for round_, (n, episode) in itertools.product(range(4), enumerate(episodes)):
                title = f"Episode {n} v{round_}"
                await client.mutate(
                    (round_ + n) % 2, "UpdateEpisode", {"id": episode, "input": {"title": title}}, "Episode"
                )
                final_titles[episode] = title

        async def reads(api: int) -> None:
            for i in range(60):
                assert len(await client.titles(api, program, fresh=i % 3 == 0)) == EPISODES
                data = await client.data(api, "Episode", {"id": episodes[i % EPISODES]}, role="viewer")
                assert data["episode"]["status"] == "PUBLISHED"

        gate = asyncio.Semaphore(8)

        async def one_upload(i: int) -> tuple[str, str]:
            async with gate:
                return await upload(client, i, episodes[i % EPISODES])

        results = await asyncio.gather(
            *(one_upload(i) for i in range(UPLOADS)), edits(), reads(0), reads(1), return_exceptions=False
        )
        uploaded: list[tuple[str, str]] = list(results[:UPLOADS])  # type: ignore[arg-type]
        asset_ids = [pk(asset) for asset, _ in uploaded]
        assert len(set(asset_ids)) == UPLOADS

        # -- every job done, exactly once -----------------------------------------------------------------------
        conn = await cluster.database.connect()
        try:

            async def settled() -> bool:
                unsettled = await conn.fetchval(
                    "SELECT count(*) FROM asset WHERE id = ANY($1::bigint[]) AND status NOT IN ('READY', 'FAILED')",
                    asset_ids,
                )
                pending = await conn.fetchval("SELECT count(*) FROM job WHERE status IN ('QUEUED', 'RUNNING')")
                unrelayed = await conn.fetchval("SELECT count(*) FROM outbox_event WHERE relayed_at IS NULL")
                return unsettled == 0 and pending == 0 and unrelayed == 0

            await eventually(
                settled, what="every upload processed", attempts=900, delay=0.5, processes=cluster.processes
            )
            statuses = dict(await conn.fetch("SELECT id, status FROM asset WHERE id = ANY($1::bigint[])", asset_ids))
            assert set(statuses.values()) == {"READY"}, statuses
            jobs = await conn.fetch("SELECT id, kind, status, attempts, asset_id, last_error FROM job")
            not_once = [dict(j) for j in jobs if j["status"] != "SUCCEEDED" or j["attempts"] != 1]
            assert not not_once, not_once
            per_asset = Counter((j["asset_id"], j["kind"]) for j in jobs if j["asset_id"] in statuses)
            for asset_id in asset_ids:
                assert per_asset[(asset_id, "persist_asset")] == 1 and per_asset[(asset_id, "process_asset")] == 1
            assert max(per_asset.values()) == 1, per_asset
            ready_events = await conn.fetch(
                "SELECT payload->>'asset_id' AS asset, count(*) AS n FROM outbox_event WHERE kind = 'asset.ready'"
                " GROUP BY 1"
            )
            assert {int(r["asset"]): r["n"] for r in ready_events} == dict.fromkeys(asset_ids, 1)
            renditions = await conn.fetch(
                "SELECT asset_id, status, count(*) AS n FROM rendition WHERE asset_id = ANY($1::bigint[])"
                " GROUP BY 1, 2",
                asset_ids,
            )
            assert {r["status"] for r in renditions} == {"READY"}, renditions
            assert {r["asset_id"] for r in renditions} == set(asset_ids)
            shas = dict(await conn.fetch("SELECT id, sha256 FROM asset WHERE id = ANY($1::bigint[])", asset_ids))
        finally:
            await conn.close()
        assert sorted(shas.values()) == sorted(sha for _, sha in uploaded)

        s3 = cluster.s3_client()
        masters = bucket_keys(s3, cluster.buckets[Area.MASTERS])
        assert sorted(masters) == sorted(master_key(sha) for _, sha in uploaded)
        previews = bucket_keys(s3, cluster.buckets[Area.PREVIEWS])
        prefixes: dict[str, set[str]] = {}
        for key in previews:
            sha, _, rest = key.partition("/")
            prefixes.setdefault(sha, set()).add(rest.partition("/")[0])
        # One set of outputs per asset: a second run would have written a second prefix or rewritten none.
        assert {sha: len(found) for sha, found in prefixes.items()} == dict.fromkeys(shas.values(), 1), prefixes

        # -- every cache invalidation seen by both APIs ---------------------------------------------------------
        for api in (0, 1):

            async def current(api: int = api) -> bool:
                return await client.titles(api, program) == final_titles

            await eventually(current, what=f"API {api} to show the last edits", processes=cluster.processes)
        for changer, reader in ((0, 1), (1, 0)):
            episode = episodes[changer]
            await client.cached_on(reader, program)
            title = f"Changed on API {changer}"
            await client.mutate(changer, "UpdateEpisode", {"id": episode, "input": {"title": title}}, "Episode")

            async def renamed(reader: int = reader, episode: str = episode, title: str = title) -> bool:
                return (await client.titles(reader, program)).get(episode) == title

            await eventually(renamed, what=f"API {reader} to see an edit made on API {changer}")
            await client.cached_on(reader, program)
            await client.mutate(changer, "UnpublishEpisode", {"id": episode}, "Episode")

            async def withdrawn(reader: int = reader, episode: str = episode) -> bool:
                return episode not in await client.titles(reader, program)

            await eventually(withdrawn, what=f"API {reader} to see an unpublish made on API {changer}")

        # -- no media on an API node's disk ---------------------------------------------------------------------
        uploaded_shas = {sha for _, sha in uploaded}
        for api in cluster.apis:
            assert cluster.data_dir(api.name).is_dir()  # the walk below looks where the API keeps its files
            files = cluster.files_on_disk(api.name)
            on_disk = [
                p for p in files if "storage" in p.parts or hashlib.sha256(p.read_bytes()).hexdigest() in uploaded_shas
            ]
            assert not on_disk, f"media on {api.name}'s disk: {on_disk}"
            assert sum(p.stat().st_size for p in files) < 1024 * 1024, files  # nothing of media size either
