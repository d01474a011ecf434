"""Graceful degradation, each part really stopped under a real `cms serve` (and `cms worker`):

- PostgreSQL (a private cluster, tests/support/pg_cluster.py) restarted under a concurrent load of GraphQL reads and
  edits: every answer is a 200 or a 503 with Retry-After (GraphQL: SERVICE_UNAVAILABLE), none hangs, /livez stays
  200 and /readyz says which part is away; the API reconnects by itself and every edit it accepted is there after.
- Redis (a private redis-server) killed: edits and uploads are still accepted, /readyz says "degraded" (200); once
  Redis is back the worker catches every job up, each run once.
- Storage (moto's S3 server) stopped listening: upload creation and receipt, and edge reads, are 503 with
  Retry-After; metadata reads still work; all recovers when it listens again on the same port.

A worker killed mid-job is tests/integration/test_jobs_crash.py (persist) and test_worker_killed_mid_transcode here.
httpx's 30 s timeout is a hang detector, not a performance limit; nothing here asserts a wall-clock time.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from moto.server import ThreadedMotoServer

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support import media
from tests.support.api import Api, operation
from tests.support.black_hole import BlackHole
from tests.support.oidc_issuer import TestIssuer
from tests.support.pg_cluster import PrivatePostgres
from tests.support.processes import CMS, PrivateRedis, Process, cms, eventually
from tests.support.s3 import MotoS3
from tests.support.serve import Served, cms_serve
from tests.support.uploads import create_upload, make_episode, put_direct, upload_direct

HANG = 30.0  # seconds: an answer slower than this is a hang
CREATE_EPISODE = operation("CreateEpisode")
PROGRAMS = operation("Programs")
EPISODES = operation("Episodes")
UPDATE_PROGRAM = """mutation($id: ID!, $title: String!) {
  updateProgram(id: $id, input: {title: $title}) { __typename ... on Program { id title } }
}"""


@dataclass
class Outcome:
    what: str
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: str | None = None  # a transport error or a hang


def record(what: str, response: httpx.Response) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Outcome(what, response.status_code, dict(response.headers), body)


def bad_outcomes(outcomes: list[Outcome]) -> list[Outcome]:
    """Anything but a clean 200 or a 503 that says when to come back (and, for GraphQL, why)."""
    return [o for o in outcomes if not _clean(o)]


def _clean(o: Outcome) -> bool:
    if o.error is not None or o.status not in (200, 503):
        return False
    graphql = o.what.startswith("graphql")
    if o.status == 200:
        # A 200 carrying errors (a masked INTERNAL_SERVER_ERROR, say) is exactly what must not happen.
        return not (graphql and o.body.get("errors"))
    if not o.headers.get("retry-after", "").isdigit():
        return False
    return not graphql or {e.get("extensions", {}).get("code") for e in o.body.get("errors", [])} == {
        "SERVICE_UNAVAILABLE"
    }


def serve_env(issuer: TestIssuer, **extra: str) -> dict[str, str]:
    return {"OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": "cms", "CMS_PUBLIC_CACHE_SECONDS": "0", **extra}


def worker(served: Served, log_dir: Path, name: str = "worker", **extra: str) -> Process:
    """A `cms worker` on the same database, Redis, queue and storage as `served`."""
    env = {**served.env, "CMS_JOB_POLL_SECONDS": "0.2", "CMS_JOB_REQUEUE_SECONDS": "1", **extra}
    return cms(name, "worker", env=env, log_dir=log_dir)


@contextlib.asynccontextmanager
async def client_for(served: Served, issuer: TestIssuer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=served.url, timeout=HANG) as client:
        yield Api(client, issuer)


async def sql(served: Served, query: str, *args: Any) -> list[asyncpg.Record]:
    """Read the served database behind the API's back (job rows, say)."""
    conn = await asyncpg.connect(served.env["DATABASE_URL"])
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


# --- PostgreSQL ------------------------------------------------------------------------------------------------


class Load:
    """Concurrent GraphQL reads (anonymous and editor) and edits (new episodes, renamed program) until stopped."""

    def __init__(self, api: Api, program_id: str, *, readers: int = 6, editors: int = 3) -> None:
        self.api = api
        self.program_id = program_id
        self.outcomes: list[Outcome] = []
        self.accepted_episodes: set[str] = set()  # titles of episodes the API said it created
        self.accepted_titles: list[str] = []  # program titles the API said it saved, in order
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._read(i)) for i in range(readers)]
        self._tasks += [asyncio.create_task(self._edit(i)) for i in range(editors)]

    async def _call(self, what: str, query: str, variables: dict[str, Any], role: str | None) -> Outcome:
        try:
            outcome = record(what, await self.api.post(query, variables, role=role))
        except httpx.TimeoutException as exc:
            outcome = Outcome(what, None, error=f"hang: {exc!r}")
        except httpx.TransportError as exc:
            outcome = Outcome(what, None, error=f"transport: {exc!r}")
        self.outcomes.append(outcome)
        return outcome

    async def _read(self, n: int) -> None:
        while not self._stop.is_set():
            if n % 2:
                await self._call("graphql read anonymous", PROGRAMS, {"first": 5}, None)
            else:
                await self._call("graphql read editor", EPISODES, {"first": 20}, "editor")

    async def _edit(self, n: int) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            title = f"load {n}-{i}"
            variables = {"input": {"programId": self.program_id, "title": title}}
            o = await self._call("graphql edit createEpisode", CREATE_EPISODE, variables, "editor")
            if o.status == 200 and _typename(o, "createEpisode") == "Episode":
                self.accepted_episodes.add(title)
            if i % 3 == 0:
                name = f"renamed {n}-{i}"
                o = await self._call(
                    "graphql edit updateProgram", UPDATE_PROGRAM, {"id": self.program_id, "title": name}, "editor"
                )
                if o.status == 200 and _typename(o, "updateProgram") == "Program":
                    self.accepted_titles.append(name)

    def count(self, status: int) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


def _typename(o: Outcome, name: str) -> str | None:
    data = o.body.get("data") if isinstance(o.body, dict) else None
    return ((data or {}).get(name) or {}).get("__typename")


async def all_episode_titles(api: Api) -> set[str]:
    titles: set[str] = set()
    after = None
    while True:
        page = (await api.data(EPISODES, {"first": 100, "after": after}, role="editor"))["episodes"]
        titles |= {edge["node"]["title"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return titles
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_postgres_restarted_under_load(issuer: TestIssuer, settings: Settings, tmp_path: Path, mode: str) -> None:
    with PrivatePostgres(tmp_path) as pg:
        async with (
            cms_serve(pg.target, redis_url=str(settings.redis_url), log_dir=tmp_path, env=serve_env(issuer)) as served,
            client_for(served, issuer) as api,
        ):
            created = await api.data(operation("CreateProgram"), {"input": {"title": "Under load"}}, role="editor")
            program_id = created["createProgram"]["id"]
            load = Load(api, program_id)
            try:
                await eventually(
                    lambda: load.count(200) >= 50, what="the load to get going", processes=(served.process,)
                )
                pg.stop(mode)
                await eventually(
                    lambda: load.count(503) >= 5, what="503s while PostgreSQL is down", processes=(served.process,)
                )

                # While it is away: the process is alive, not ready, and says why.
                live = await api.client.get("/livez")
                assert (live.status_code, live.json()) == (200, {"status": "ok"})
                body = await eventually(  # its last answer may be cached for a second
                    lambda: _unready(api), what="/readyz to say 503", processes=(served.process,)
                )
                assert body["status"] == "unavailable" and body["database"] is False, body
                assert body["checks"]["database"]["status"] in ("error", "timeout"), body
                assert body["checks"]["storage"]["status"] == "ok", body

                pg.start()
                before = load.count(200)
                await eventually(
                    lambda: load.count(200) >= before + 50,
                    what="answers again once PostgreSQL is back",
                    processes=(served.process,),
                )
            finally:
                await load.stop()
                if not pg.running():
                    pg.start()  # for cms_serve to drop its database

            bad = bad_outcomes(load.outcomes)
            assert not bad, f"{len(bad)} bad answers of {len(load.outcomes)}, e.g. {bad[:3]}\n{served.process.tail()}"
            outage = [o for o in load.outcomes if o.status == 503]
            assert {o.body["errors"][0]["extensions"]["service"] for o in outage} == {"database"}
            assert all(o.headers.get("cache-control") == "no-store" for o in outage)

            # Reconnected for good: a run of requests after the restart all succeed (no dead pooled connection left).
            for _ in range(40):
                response = await api.post(EPISODES, {"first": 5}, role="editor")
                assert response.status_code == 200 and not response.json().get("errors"), response.text
            ready = await eventually(lambda: _ready(api), what="/readyz to be 200 again", processes=(served.process,))
            assert ready["checks"]["database"]["status"] == "ok"

            # Nothing the API accepted was lost.
            assert load.accepted_episodes, "no edit was accepted"
            missing = load.accepted_episodes - await all_episode_titles(api)
            assert not missing, f"accepted edits lost: {sorted(missing)[:10]}"
            program = await api.data(
                "query($id: ID!) { node(id: $id) { ... on Program { title } } }", {"id": program_id}, role="editor"
            )
            if load.accepted_titles:
                assert program["node"]["title"] in load.accepted_titles


async def _readyz_status(api: Api, code: int, status: str) -> dict[str, Any] | None:
    response = await api.client.get("/readyz")
    body: dict[str, Any] = response.json()
    return body if (response.status_code, body["status"]) == (code, status) else None


async def _unready(api: Api) -> dict[str, Any] | None:
    response = await api.client.get("/readyz")
    return response.json() if response.status_code == 503 else None


async def _ready(api: Api) -> dict[str, Any] | None:
    response = await api.client.get("/readyz")
    return response.json() if response.status_code == 200 else None


async def _storage_timeout(api: Api) -> dict[str, Any] | None:
    body = await _unready(api)
    return body if body is not None and body["checks"]["storage"]["status"] == "timeout" else None


# --- Redis -----------------------------------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


async def test_redis_stopped_edits_and_uploads_accepted_and_jobs_caught_up(
    issuer: TestIssuer, pg_server: PgTarget, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    async with (
        cms_serve(pg_server, redis_url=private_redis.url, log_dir=tmp_path, env=serve_env(issuer)) as served,
        client_for(served, issuer) as api,
    ):
        running = worker(served, tmp_path, CMS_WORKER_HEALTH_SECONDS="1")
        try:
            first = await upload_direct(api, await make_episode(api, "Before"), media.mp4_clip(seed=11))
            await eventually(
                lambda: _asset_ready(api, first["id"]), what="the first upload ready", processes=(running,)
            )

            private_redis.kill()  # SIGKILL, no persistence: whatever was queued in it is gone too
            episodes = [await make_episode(api, f"During {i}") for i in range(3)]
            during = [
                await upload_direct(api, episode, media.mp4_clip(seed=20 + i)) for i, episode in enumerate(episodes)
            ]
            renamed = await api.data(
                'mutation($id: ID!) { updateEpisode(id: $id, input: {title: "Renamed while Redis was away"}) { __typename } }',
                {"id": episodes[0]},
                role="editor",
            )
            assert renamed["updateEpisode"]["__typename"] == "Episode"
            body = await eventually(
                lambda: _readyz_status(api, 200, "degraded"),
                what="/readyz to say degraded",
                processes=(served.process,),
            )
            assert (
                body["checks"]["redis"]["status"] in ("error", "timeout")
                and body["checks"]["database"]["status"] == "ok"
            )
            for asset in during:  # nothing can run without the queue
                assert (await _asset(api, asset["id"]))["status"] == "PROCESSING"
            # The worker noticed and stays alive for its liveness probe, which does not ask Redis.
            health_env = {**served.env, "CMS_WORKER_HEALTH_SECONDS": "1"}

            def alive_after_losing_redis() -> bool:
                probe = subprocess.run([str(CMS), "worker-health"], env=health_env, capture_output=True, text=True)
                return probe.returncode == 0 and "lost Redis" in probe.stdout

            await eventually(alive_after_losing_redis, what="worker-health to pass without Redis", processes=(running,))

            private_redis.start()  # same port, empty: the dispatcher hands the jobs over again
            for asset in during:
                await eventually(
                    lambda a=asset: _asset_ready(api, a["id"]),
                    what="uploads made without Redis to be ready",
                    attempts=600,
                    processes=(running, served.process),
                )
            await eventually(
                lambda: _readyz_status(api, 200, "ready"), what="/readyz ready", processes=(served.process,)
            )
            # The worker rode out the outage by itself (a fresh arq worker once Redis answered), no restart.
            assert running.alive(), running.tail(30)
        finally:
            running.stop()

        # Each job ran once and succeeded; no asset has two of the same rendition.
        rows = await sql(served, "SELECT kind, asset_id, status, attempts FROM job WHERE asset_id IS NOT NULL")
        per = {}
        for row in rows:
            per.setdefault((row["kind"], row["asset_id"]), []).append(row)
        assert all(len(v) == 1 for v in per.values()), per
        assert {(r["status"], r["attempts"]) for r in rows} == {("SUCCEEDED", 1)}, rows
        dupes = await sql(
            served, "SELECT asset_id, kind, name, count(*) FROM rendition GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )
        assert dupes == []
        names = {
            e["node"]["title"] for e in (await api.data(EPISODES, {"first": 50}, role="editor"))["episodes"]["edges"]
        }
        assert {"Renamed while Redis was away", "During 1", "During 2", "Before"} <= names


async def _asset(api: Api, asset_id: str) -> dict[str, Any]:
    query = "query($id: ID!) { node(id: $id) { ... on Asset { id status failureReason } } }"
    return (await api.data(query, {"id": asset_id}, role="editor"))["node"]


async def _asset_ready(api: Api, asset_id: str) -> bool:
    asset = await _asset(api, asset_id)
    assert asset["status"] != "FAILED", asset
    return asset["status"] == "READY"


# --- Storage ---------------------------------------------------------------------------------------------------


class RestartableS3(MotoS3):
    """moto's S3 server whose listener really goes away (connections refused) and comes back on the same port with
    the same buckets and objects (moto keeps them in this process)."""

    def stop_listening(self) -> None:
        server = self._server._server  # werkzeug's; ThreadedMotoServer.stop leaves its socket open (a black hole)
        self._server.stop()
        assert server is not None
        server.server_close()

    def start_listening(self) -> None:
        host, port = self.endpoint_url.removeprefix("http://").split(":")
        self._server = ThreadedMotoServer(ip_address=host, port=int(port), verbose=False)
        self._server.start()

    def hanging(self) -> BlackHole:
        """While not listening: the port accepts connections and never answers (a stuck S3)."""
        return BlackHole(int(self.endpoint_url.rpartition(":")[2]))


async def test_storage_unreachable_refuses_uploads_and_edge_reads_then_recovers(
    issuer: TestIssuer, pg_server: PgTarget, settings: Settings, tmp_path: Path
) -> None:
    with RestartableS3() as s3:
        buckets = s3.create_buckets("degrade")
        # A short read timeout, so that the stuck S3 below costs each request seconds (two tries), not 30.
        env = serve_env(issuer, **s3.env(buckets), CMS_S3_READ_TIMEOUT_SECONDS="1")
        async with (
            cms_serve(pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path, env=env) as served,
            client_for(served, issuer) as api,
        ):
            the_worker = worker(served, tmp_path, CMS_S3_READ_TIMEOUT_SECONDS="15")
            try:
                episode = await make_episode(api, "Stored")
                done = await upload_direct(api, episode, media.mp4_clip(seed=31), method="DIRECT")
                await eventually(
                    lambda: _asset_ready(api, done["id"]), what="the upload ready", processes=(the_worker,)
                )
                playback = (await api.data(operation("EpisodePlayback"), {"id": episode}, role="editor"))["episode"]
                hls_url = playback["mediaAsset"]["playback"]["hlsUrl"]
                assert (await api.client.get(hls_url)).status_code == 200

                s3.stop_listening()
                outcomes: list[Outcome] = []
                edge = await api.client.get(hls_url)
                outcomes.append(record("edge read", edge))
                assert edge.status_code == 503, edge.text

                clip = media.mp4_clip(seed=32)
                multipart = await api.post(
                    operation("CreateUpload"),
                    {"input": {"filename": "m.mp4", "size": 20 * 2**20, "episodeId": episode, "method": "MULTIPART"}},
                    role="editor",
                )
                outcomes.append(record("graphql createUpload multipart", multipart))
                assert multipart.status_code == 503, multipart.text
                assert multipart.json()["errors"][0]["extensions"]["service"] == "storage"

                ticket = await create_upload(
                    api, filename="d.mp4", size=len(clip), episodeId=episode, contentType="video/mp4", method="DIRECT"
                )
                put = await put_direct(api, ticket["url"], clip)
                outcomes.append(record("upload PUT", put))
                assert put.status_code == 503 and put.json()["service"] == "storage", put.text

                reads = await api.post(PROGRAMS, {"first": 5}, role="editor")  # metadata does not need storage
                outcomes.append(record("graphql read", reads))
                assert reads.status_code == 200

                body = await eventually(lambda: _unready(api), what="/readyz to say 503", processes=(served.process,))
                assert body["checks"]["storage"]["status"] in ("error", "timeout"), body
                assert body["checks"]["database"]["status"] == "ok"

                # S3 accepts connections and never answers: the same 503s once the read timeout passes, no hang.
                with s3.hanging() as hole:
                    edge = await api.client.get(hls_url)
                    outcomes.append(record("edge read, S3 silent", edge))
                    assert edge.status_code == 503, edge.text
                    multipart = await api.post(
                        operation("CreateUpload"),
                        {
                            "input": {
                                "filename": "h.mp4",
                                "size": 20 * 2**20,
                                "episodeId": episode,
                                "method": "MULTIPART",
                            }
                        },
                        role="editor",
                    )
                    outcomes.append(record("graphql createUpload multipart, S3 silent", multipart))
                    assert multipart.status_code == 503, multipart.text
                    put = await put_direct(api, ticket["url"], clip)
                    outcomes.append(record("upload PUT, S3 silent", put))
                    assert put.status_code == 503 and put.json()["service"] == "storage", put.text
                    body = await eventually(
                        lambda: _storage_timeout(api),
                        what="/readyz to say storage timeout",
                        processes=(served.process,),
                    )
                    assert body["checks"]["database"]["status"] == "ok", body
                    assert hole.accepted  # the requests reached it, and nothing answered them
                assert not bad_outcomes(outcomes), outcomes

                s3.start_listening()
                await eventually(lambda: _ready(api), what="/readyz 200 with storage back", processes=(served.process,))
                assert (await api.client.get(hls_url)).status_code == 200
                again = await put_direct(api, ticket["url"], clip)  # the same upload takes its bytes now
                assert again.status_code == 200, again.text
                completed = await api.data(operation("CompleteUpload"), {"id": ticket["id"]}, role="editor")
                assert completed["completeUpload"]["status"] == "PROCESSING", completed
                await eventually(
                    lambda: _asset_ready(api, completed["completeUpload"]["id"]),
                    what="the upload made after the outage ready",
                    processes=(the_worker,),
                )
            finally:
                the_worker.stop()


# --- A worker killed mid-transcode -------------------------------------------------------------------------------


async def test_worker_killed_mid_transcode_resumes_elsewhere_without_duplicates(
    issuer: TestIssuer, pg_server: PgTarget, settings: Settings, tmp_path: Path
) -> None:
    env = serve_env(issuer, CMS_QUEUE_NAME=f"cms-test-degrade:{uuid.uuid4().hex[:12]}")
    async with (
        cms_serve(pg_server, redis_url=str(settings.redis_url), log_dir=tmp_path, env=env) as served,
        client_for(served, issuer) as api,
    ):
        lease = {"CMS_JOB_LEASE_SECONDS": "2"}
        first = worker(served, tmp_path, "worker-1", **lease)
        second: Process | None = None
        try:
            # Long enough that the transcode is still running when its progress first shows.
            clip = media.mp4_clip(seconds=30, width=640, height=360, seed=41)
            asset = await upload_direct(api, await make_episode(api, "Long"), clip)

            async def transcoding() -> bool:
                assert first.alive(), first.tail()
                row = await sql(served, "SELECT stage, progress, status FROM asset WHERE status = 'PROCESSING'")
                return bool(row) and row[0]["stage"] == "transcode" and 0 < row[0]["progress"] < 100

            await eventually(transcoding, what="the transcode under way", attempts=1500, delay=0.05, processes=(first,))
            first.kill()  # SIGKILL to its process group: the worker and its transcoding child
            first.popen.wait(10)
            second = worker(served, tmp_path, "worker-2", **lease)
            await eventually(
                lambda: _asset_ready(api, asset["id"]),
                what="the asset ready on the second worker",
                attempts=1500,
                processes=(second,),
            )
        finally:
            first.stop()
            if second is not None:
                second.stop()
        jobs = await sql(served, "SELECT kind, status, attempts FROM job WHERE kind = 'process_asset'")
        assert [(j["status"], j["attempts"]) for j in jobs] == [("SUCCEEDED", 2)], jobs
        dupes = await sql(served, "SELECT kind, name, count(*) FROM rendition GROUP BY 1, 2 HAVING count(*) > 1")
        assert dupes == []
        masters = await sql(
            served, "SELECT count(*) AS n FROM rendition WHERE kind = 'HLS_MASTER' AND status = 'READY'"
        )
        assert masters[0]["n"] == 1
