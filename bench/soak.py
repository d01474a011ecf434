"""Soak: a mixed load for minutes against two APIs and two workers on one PostgreSQL, Redis and S3 (moto).

    .venv/bin/python bench/soak.py                  # 10 minutes (after a warm-up)
    .venv/bin/python bench/soak.py --short          # 60 seconds
    .venv/bin/python bench/soak.py --duration 120 --rate 30 --json var/bench/soak.json

It starts a cluster on loopback (tests/support/cluster.py: `cms serve` and `cms worker` processes, each with its own
data directory, moto_server, a private redis-server, a fresh database on the PostgreSQL of `make services`), seeds
published programs and episodes through the API, then runs, against both APIs at once:

  anon_cached    anonymous reads of the same few queries (the home page: the public cache's case)
  anon_uncached  anonymous reads whose variables change every time (a program's episodes, an episode by id)
  signed_read    a viewer's reads (never cached): viewer, an episode's comments, a program's feed
  edit           mutations: rename an episode, comment on one, change a program's description
  search         anonymous full-text searches for words of the seeded titles
  upload         small real media (MP4 clips, PNG images) through the clients' flow: createUpload, the bytes
                 (a presigned POST straight to S3, or a PUT to the API for DIRECT), completeUpload

Reads, edits and searches share a pace (--rate requests a second over --concurrency tasks, weights by --mix);
uploads have their own (--upload-rate over --upload-concurrency). When the system falls behind the pace, the
tasks simply run back to back (no backlog burst): compare the achieved rate with the target.

It reports throughput, p50 and p99 latency per kind, the 5xx count (target 0), RSS growth per API and worker
process between the end of the warm-up and the end of the run (VmRSS, target < 50 MB), and jobs lost or duplicated
(target 0): after the load it waits for the workers to finish, then checks in PostgreSQL and S3 that every upload's
asset is READY with one persist and one processing job, no job is DEAD or still pending, no (kind, payload) was
run twice, one "asset.ready" per asset, each master in the bucket and nothing left in staging. Exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import ROOT, bench_parser, log, print_table

sys.path.insert(0, str(ROOT))
from cms.media.storage import Area, master_key  # noqa: E402 - after the path is set
from tests.support import media  # noqa: E402
from tests.support.api import operation  # noqa: E402
from tests.support.cluster import Cluster  # noqa: E402
from tests.support.uploads import bucket_keys  # noqa: E402

KINDS = ("anon_cached", "anon_uncached", "signed_read", "edit", "search", "upload")
DEFAULT_MIX = "anon_cached=30,anon_uncached=20,signed_read=20,edit=15,search=15"
RSS_TARGET_MB = 50.0
WORDS = [
    "river",
    "harbour",
    "mountain",
    "midnight",
    "orchestra",
    "garden",
    "signal",
    "archive",
    "comet",
    "lantern",
    "meadow",
    "voyage",
    "thunder",
    "circuit",
    "glacier",
    "compass",
    "festival",
    "canyon",
    "beacon",
    "harvest",
    "atlas",
    "ember",
    "horizon",
    "island",
    "jazz",
    "kitchen",
    "library",
    "marathon",
    "nebula",
    "opera",
    "prairie",
    "quartz",
    "rhythm",
    "savanna",
    "tundra",
    "velvet",
]
OPS = {
    name: operation(name)
    for name in (
        "CreateProgram",
        "CreateEpisode",
        "PublishProgram",
        "PublishEpisode",
        "UpdateProgram",
        "UpdateEpisode",
        "AddComment",
        "Programs",
        "EpisodeFeed",
        "Episode",
        "ProgramEpisodes",
        "EpisodeComments",
        "Viewer",
        "Search",
        "CreateUpload",
        "CompleteUpload",
    )
}


class OpFailed(Exception):
    """An operation that did not do what it should (a GraphQL error, a wrong result, a refused upload)."""


class ServerError(OpFailed):
    """A 5xx answer."""


# --- statistics --------------------------------------------------------------------------------------------------


@dataclass
class KindStats:
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0  # 5xx answers (an upload counts each step's)
    failures: int = 0  # anything else that went wrong: transport errors, GraphQL errors, wrong results
    cache_hits: int = 0
    samples: list[str] = field(default_factory=list)  # the first few failure messages


@dataclass
class Stats:
    kinds: dict[str, KindStats] = field(default_factory=lambda: defaultdict(KindStats))
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (p99 of 100 values is the 99th), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def pk(global_id: str) -> int:
    """The number in a global id (base64url of `Type:number`, cms/api/ids.py)."""
    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().partition(":")[2])


# --- the load ----------------------------------------------------------------------------------------------------


class Pacer:
    """Hands out start times `1/rate` apart; a caller behind schedule starts at once, and a backlog over a second is
    dropped rather than run as a burst."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(self.next, now - 1.0)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class Upload:
    asset_id: str
    sha256: str
    kind: str  # "video" or "image"
    method: str


@dataclass
class Seeded:
    programs: list[str]
    episodes: list[str]
    by_program: dict[str, list[str]]


class Load:
    def __init__(self, cluster: Cluster, client: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.cluster = cluster
        self.client = client
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.uploads: list[Upload] = []
        self.upload_attempts = 0
        self.seeded = Seeded([], [], {})
        self.stop = asyncio.Event()
        ttl = int(args.warmup + args.duration + args.drain_timeout + 3600)
        self.tokens = {role: cluster.token(role, ttl=ttl) for role in ("admin", "editor")}
        self.viewers = [cluster.token("viewer", f"viewer-{i}", ttl=ttl) for i in range(1, 6)]
        self.files = self._media_pool(args.seed)
        self.mix = parse_mix(args.mix)

    # -- plumbing --

    def _media_pool(self, seed: int) -> list[tuple[str, bytes, str, str]]:
        """(kind, bytes, filename, content type): distinct clips and images, made once before the load."""
        pool: list[tuple[str, bytes, str, str]] = []
        for i in range(self.args.distinct_files):
            pool.append(("video", media.mp4_clip(seconds=1.0, seed=seed * 1000 + i), f"clip-{i}.mp4", "video/mp4"))
            pool.append(("image", media.png_image(64 + i, 48 + i), f"still-{i}.png", "image/png"))
        return pool

    def api(self) -> str:
        return self.rng.choice(self.cluster.api_urls)

    def _check_status(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 500:
            raise ServerError(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise OpFailed(f"{what}: HTTP {response.status_code}: {response.text[:200]}")

    async def gql(
        self, op: str, variables: dict[str, Any], *, token: str | None = None, url: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """POST one operation; (data, served from the public cache). Raises on 5xx, other HTTP errors and errors."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            f"{url or self.api()}/graphql", json={"query": OPS[op], "variables": variables}, headers=headers
        )
        self._check_status(response, op)
        body = response.json()
        if body.get("errors"):
            raise OpFailed(f"{op}: {json.dumps(body['errors'])[:300]}")
        return body["data"], response.headers.get("x-cache") == "HIT"

    async def mutate(
        self, op: str, variables: dict[str, Any], typename: str, *, token: str, url: str | None = None
    ) -> dict[str, Any]:
        data, _ = await self.gql(op, variables, token=token, url=url)
        result: dict[str, Any] = next(iter(data.values()))
        if result.get("__typename") != typename:
            raise OpFailed(f"{op}: {json.dumps(result)[:300]}")
        return result

    async def timed(self, kind: str, work: Callable[[], Awaitable[bool]]) -> None:
        stats = self.stats.kinds[kind]  # the phase it started in
        started = time.monotonic()
        try:
            hit = await work()
        except ServerError as exc:
            stats.server_errors += 1
            self._sample(stats, exc)
            return
        except (OpFailed, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            stats.failures += 1
            self._sample(stats, exc)
            return
        stats.latencies.append(time.monotonic() - started)
        stats.cache_hits += bool(hit)

    @staticmethod
    def _sample(stats: KindStats, exc: Exception) -> None:
        if len(stats.samples) < 5:
            stats.samples.append(f"{type(exc).__name__}: {exc}"[:400])

    def title(self, words: int = 3) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(words)).title()

    # -- seeding --

    async def seed(self) -> None:
        """Published programs with published episodes, made through the API (outbox, search index and all)."""
        editor = self.tokens["editor"]
        gate = asyncio.Semaphore(8)
        categories = ("news", "music", "sport", "drama")

        async def program(index: int) -> None:
            async with gate:
                made = await self.mutate(
                    "CreateProgram",
                    {
                        "input": {
                            "title": f"{self.title()} {index}",
                            "description": self.title(8),
                            "category": categories[index % len(categories)],
                            "language": ("en", "fr")[index % 2],
                            "tags": [self.rng.choice(WORDS)],
                        }
                    },
                    "Program",
                    token=editor,
                )
                await self.mutate("PublishProgram", {"id": made["id"]}, "Program", token=editor)
            episodes = await asyncio.gather(*(episode(made["id"], n) for n in range(self.args.episodes)))
            self.seeded.programs.append(made["id"])
            self.seeded.by_program[made["id"]] = list(episodes)
            self.seeded.episodes.extend(episodes)

        async def episode(program_id: str, number: int) -> str:
            async with gate:
                variables = {"input": {"programId": program_id, "title": self.title(), "number": number + 1}}
                made = await self.mutate("CreateEpisode", variables, "Episode", token=editor)
                await self.mutate("PublishEpisode", {"id": made["id"]}, "Episode", token=editor)
                return str(made["id"])

        await asyncio.gather(*(program(i) for i in range(self.args.programs)))

    # -- operations: each returns whether the answer came from the public cache --

    async def anon_cached(self) -> bool:
        shape = self.rng.randrange(3)
        if shape == 0:
            _, hit = await self.gql("Programs", {"first": 20})
        elif shape == 1:
            _, hit = await self.gql("EpisodeFeed", {"first": 20})
        else:
            data, hit = await self.gql("Episode", {"id": self.seeded.episodes[0]})
            if data["episode"] is None:
                raise OpFailed("a published episode is not visible")
        return hit

    async def anon_uncached(self) -> bool:
        if self.rng.random() < 0.5:
            program = self.rng.choice(self.seeded.programs)
            data, hit = await self.gql("ProgramEpisodes", {"id": program, "first": self.rng.randint(1, 50)})
            if data["program"] is None:
                raise OpFailed("a published program is not visible")
        else:
            data, hit = await self.gql("Episode", {"id": self.rng.choice(self.seeded.episodes)})
            if data["episode"] is None:
                raise OpFailed("a published episode is not visible")
        return hit

    async def signed_read(self) -> bool:
        token = self.rng.choice(self.viewers)
        shape = self.rng.randrange(3)
        if shape == 0:
            data, _ = await self.gql("Viewer", {}, token=token)
            if data["viewer"] is None:
                raise OpFailed("signed in, but viewer is null")
        elif shape == 1:
            await self.gql("EpisodeComments", {"id": self.rng.choice(self.seeded.episodes), "first": 20}, token=token)
        else:
            program = self.rng.choice(self.seeded.programs)
            await self.gql("EpisodeFeed", {"first": 20, "filter": {"programId": program}}, token=token)
        return False

    async def edit(self) -> bool:
        shape = self.rng.random()
        if shape < 0.5:
            variables = {"id": self.rng.choice(self.seeded.episodes), "input": {"title": self.title()}}
            await self.mutate("UpdateEpisode", variables, "Episode", token=self.tokens["editor"])
        elif shape < 0.85:
            variables = {
                "input": {
                    "targetId": self.rng.choice(self.seeded.episodes),
                    "body": self.title(6),
                    "timecode": round(self.rng.uniform(0, 60), 1),
                }
            }
            await self.mutate("AddComment", variables, "Comment", token=self.rng.choice(self.viewers))
        else:
            variables = {"id": self.rng.choice(self.seeded.programs), "input": {"description": self.title(10)}}
            await self.mutate("UpdateProgram", variables, "Program", token=self.tokens["editor"])
        return False

    async def search(self) -> bool:
        _, hit = await self.gql("Search", {"query": self.rng.choice(WORDS), "first": 10})
        return hit

    async def upload(self) -> bool:
        kind, data, filename, content_type = self.rng.choice(self.files)
        method = "DIRECT" if self.rng.random() < self.args.direct_share else "PRESIGNED_POST"
        editor = self.tokens["editor"]
        variables = {
            "input": {
                "filename": filename,
                "size": len(data),
                "contentType": content_type,
                "episodeId": self.rng.choice(self.seeded.episodes),
                "method": method,
            }
        }
        self.upload_attempts += 1
        url = self.api()  # one client talks to one API for the whole flow, as a browser tab would
        upload = await self.mutate("CreateUpload", variables, "Upload", token=editor, url=url)
        if upload["method"] == "DIRECT":
            response = await self.client.put(upload["url"], content=data, headers={"authorization": f"Bearer {editor}"})
        else:
            files = {"file": (filename, data, content_type)}
            response = await self.client.post(upload["url"], data=upload["formFields"], files=files)
        self._check_status(response, f"{upload['method']} bytes")
        done, _ = await self.gql("CompleteUpload", {"id": upload["id"]}, token=editor, url=url)
        result = done["completeUpload"]
        if result.get("__typename") != "Asset" or result["status"] not in ("PROCESSING", "READY"):
            raise OpFailed(f"completeUpload: {json.dumps(result)[:300]}")
        self.uploads.append(Upload(result["id"], media.sha256(data), kind, upload["method"]))
        return False

    # -- running --

    async def _runner(self, pacer: Pacer, choose: Callable[[], str]) -> None:
        while not self.stop.is_set():
            await pacer.wait()
            if self.stop.is_set():
                return
            kind = choose()
            await self.timed(kind, getattr(self, kind))

    def _choose_mixed(self) -> str:
        kinds, weights = zip(*self.mix.items(), strict=True)
        return self.rng.choices(kinds, weights)[0]

    async def run(self, *, warmup: float, duration: float, on_measure: Callable[[], Awaitable[None]]) -> Stats:
        """Warm up (not counted), then measure for `duration` seconds; returns the measured phase's stats."""
        mixed = Pacer(self.args.rate)
        runners = [asyncio.create_task(self._runner(mixed, self._choose_mixed)) for _ in range(self.args.concurrency)]
        if self.args.upload_rate > 0:
            uploads = Pacer(self.args.upload_rate)
            runners += [
                asyncio.create_task(self._runner(uploads, lambda: "upload"))
                for _ in range(self.args.upload_concurrency)
            ]
        try:
            await asyncio.sleep(warmup)
            self.stats = Stats()
            await on_measure()
            deadline = time.monotonic() + duration
            while (left := deadline - time.monotonic()) > 0:
                await asyncio.sleep(min(left, 30))
                if left > 30:
                    log(f"  {self.progress()}")
            self.stats.ended = time.monotonic()
        finally:
            self.stop.set()
            await asyncio.gather(*runners, return_exceptions=True)
        return self.stats

    def progress(self) -> str:
        done = sum(len(k.latencies) for k in self.stats.kinds.values())
        bad = sum(k.server_errors + k.failures for k in self.stats.kinds.values())
        return f"{self.stats.seconds:.0f}s: {done} ops ({done / max(self.stats.seconds, 1e-9):.1f}/s), {bad} failed, {len(self.uploads)} uploads"


def parse_mix(spec: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in KINDS or name == "upload":
            raise SystemExit(f"--mix: unknown kind {name!r} (one of {', '.join(KINDS[:-1])})")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise SystemExit(f"--mix: {part!r} needs the form kind=weight") from None
    if not mix or sum(mix.values()) <= 0:
        raise SystemExit("--mix needs at least one positive weight")
    return mix


# --- memory ------------------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MB (10^6 bytes), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (not its children), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


class RssSampler:
    """VmRSS of every API and worker process: `mark()` at the start of the measured phase, every `every` seconds
    in the background (for the peak), and `mark()` again at the end; CPU use between the two marks beside it, to
    show how loaded the machine was."""

    def __init__(self, cluster: Cluster, every: float = 5.0) -> None:
        self.processes = {p.name: p.pid for p in (*cluster.apis, *cluster.workers)}
        self.every = every
        self.marks: list[dict[str, float | None]] = []
        self.peak: dict[str, float] = {}
        self.series: list[tuple[float, dict[str, float | None]]] = []
        self.cpu_marks: list[tuple[dict[str, float | None], tuple[int, int], float]] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()

    def sample(self) -> dict[str, float | None]:
        values = {name: rss_mb(pid) for name, pid in self.processes.items()}
        for name, value in values.items():
            if value is not None:
                self.peak[name] = max(self.peak.get(name, 0.0), value)
        self.series.append((round(time.monotonic() - self._t0, 1), values))
        return values

    def mark(self) -> None:
        self.marks.append(self.sample())
        self.cpu_marks.append(
            ({name: cpu_seconds(pid) for name, pid in self.processes.items()}, machine_ticks(), time.monotonic())
        )

    def machine_busy(self) -> float:
        """Share of all CPUs busy between the marks (0 to 1), everything on the machine included."""
        (b0, t0), (b1, t1) = self.cpu_marks[0][1], self.cpu_marks[-1][1]
        return (b1 - b0) / max(t1 - t0, 1)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.sample()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.mark()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self.mark()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def growth(self) -> dict[str, dict[str, float | None]]:
        start, end = self.marks[0], self.marks[-1]
        (cpu0, _, w0), (cpu1, _, w1) = self.cpu_marks[0], self.cpu_marks[-1]
        rows: dict[str, dict[str, float | None]] = {}
        for name in self.processes:
            a, b = start[name], end[name]
            c0, c1 = cpu0[name], cpu1[name]
            rows[name] = {
                "cpu_pct": None if c0 is None or c1 is None else 100 * (c1 - c0) / max(w1 - w0, 1e-9),
                "start_mb": a,
                "end_mb": b,
                "growth_mb": None if a is None or b is None else b - a,
                "peak_mb": self.peak.get(name),
            }
        return rows


# --- after the load: jobs lost or duplicated ---------------------------------------------------------------------


async def backlog(cluster: Cluster) -> dict[str, Any]:
    """The jobs waiting when the load stops: QUEUED rows, the oldest one's age, and the hand-overs waiting in Redis
    (more entries than jobs means some were handed over again while they waited)."""
    from redis.asyncio import Redis

    assert cluster.database is not None
    conn = await cluster.database.connect()
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS queued, extract(epoch FROM now() - min(created_at)) AS oldest_s"
            " FROM job WHERE status = 'QUEUED'"
        )
    finally:
        await conn.close()
    redis = Redis.from_url(cluster.redis_url)
    try:
        entries = await redis.zcard(cluster.queue_name)
    finally:
        await redis.aclose()
    oldest = row["oldest_s"]
    return {
        "queued_jobs": row["queued"],
        "oldest_queued_s": None if oldest is None else float(oldest),
        "redis_entries": entries,
    }


async def wait_for_workers(cluster: Cluster, uploads: list[Upload], timeout: float) -> float:
    """Until every uploaded asset has settled (READY or FAILED) and no job is QUEUED or RUNNING; bounded by
    `timeout` (what is still open then is reported as lost). Returns the seconds it took."""
    assert cluster.database is not None
    started = time.monotonic()
    ids = [pk(u.asset_id) for u in uploads]
    conn = await cluster.database.connect()
    try:
        while time.monotonic() - started < timeout:
            unsettled = await conn.fetchval(
                "SELECT count(*) FROM asset WHERE id = ANY($1::bigint[]) AND status NOT IN ('READY', 'FAILED')", ids
            )
            pending = await conn.fetchval("SELECT count(*) FROM job WHERE status IN ('QUEUED', 'RUNNING')")
            unrelayed = await conn.fetchval("SELECT count(*) FROM outbox_event WHERE relayed_at IS NULL")
            if unsettled == 0 and pending == 0 and unrelayed == 0:
                break
            await asyncio.sleep(1)
    finally:
        await conn.close()
    return time.monotonic() - started


async def check_jobs(cluster: Cluster, uploads: list[Upload]) -> dict[str, Any]:
    """Compare what was uploaded with what exists: assets, jobs, events, masters and staging."""
    assert cluster.database is not None
    ids = {pk(u.asset_id) for u in uploads}
    conn = await cluster.database.connect()
    try:
        statuses = dict(await conn.fetch("SELECT id, status FROM asset"))
        jobs_per_asset = await conn.fetch(
            "SELECT asset_id, kind, count(*) AS n FROM job WHERE asset_id = ANY($1::bigint[]) GROUP BY 1, 2",
            list(ids),
        )
        # A job row is unique by its dedupe key (an event's id and the kind, an asset's id): what could still go
        # twice is its run (a lease that expired under a live worker, a retry) or its effect (a second READY).
        ran_twice = await conn.fetch(
            "SELECT id, kind, payload::text AS payload, status, attempts, last_error FROM job WHERE attempts > 1"
        )
        dead = await conn.fetch("SELECT kind, count(*) AS n FROM job WHERE status = 'DEAD' GROUP BY 1")
        pending = await conn.fetchval("SELECT count(*) FROM job WHERE status IN ('QUEUED', 'RUNNING')")
        jobs_by_kind = await conn.fetch("SELECT kind, status, count(*) AS n FROM job GROUP BY 1, 2 ORDER BY 1, 2")
        ready_events = await conn.fetch(
            "SELECT (payload->>'asset_id')::bigint AS asset_id, count(*) AS n FROM outbox_event"
            " WHERE kind = 'asset.ready' GROUP BY 1"
        )
    finally:
        await conn.close()

    not_ready = {i: statuses.get(i, "MISSING") for i in ids if statuses.get(i) != "READY"}
    per_asset: dict[int, dict[str, int]] = defaultdict(dict)
    for row in jobs_per_asset:
        per_asset[row["asset_id"]][row["kind"]] = row["n"]
    # Each upload makes one persist_asset job, and its "asset.persisted" event one process_asset job.
    missing_jobs = {i: per_asset.get(i, {}) for i in ids if {"persist_asset", "process_asset"} - set(per_asset[i])}
    extra_jobs = {i: kinds for i, kinds in per_asset.items() if any(n > 1 for n in kinds.values())}
    ready_counts = {row["asset_id"]: row["n"] for row in ready_events}
    ready_twice = {i: n for i, n in ready_counts.items() if n > 1}
    no_ready_event = sorted(i for i in ids if ready_counts.get(i, 0) == 0 and statuses.get(i) == "READY")

    s3 = cluster.s3_client()
    masters = set(bucket_keys(s3, cluster.buckets[Area.MASTERS]))
    missing_masters = sorted({u.sha256 for u in uploads if master_key(u.sha256) not in masters})
    staging_left = bucket_keys(s3, cluster.buckets[Area.STAGING])
    api_files = {name: [str(p) for p in cluster.files_on_disk(name)] for name in (p.name for p in cluster.apis)}

    lost = len(not_ready) + len(missing_jobs) + pending + len(missing_masters) + len(no_ready_event)
    duplicated = len(ran_twice) + len(extra_jobs) + len(ready_twice)
    return {
        "uploads": len(uploads),
        "assets_in_database": len(statuses),
        "unexpected_assets": sorted(set(statuses) - ids),
        "not_ready": not_ready,
        "missing_jobs": missing_jobs,
        "pending_jobs": pending,
        "dead_jobs": {row["kind"]: row["n"] for row in dead},
        "jobs_run_twice": [dict(row) for row in ran_twice],
        "assets_with_a_job_kind_twice": extra_jobs,
        "asset_ready_twice": ready_twice,
        "ready_without_event": no_ready_event,
        "jobs": [dict(row) for row in jobs_by_kind],
        "masters_missing": missing_masters,
        "staging_left": staging_left,
        "files_on_api_disks": api_files,
        "lost": lost,
        "duplicated": duplicated,
    }


# --- report ------------------------------------------------------------------------------------------------------


def quantile_ms(values: list[float], q: float) -> float | None:
    value = quantile(values, q)
    return None if value is None else value * 1000


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(
    stats: Stats, rss: dict[str, dict[str, float | None]], busy: float, jobs: dict[str, Any], drain_s: float
) -> tuple[dict[str, Any], bool]:
    seconds = stats.seconds
    rows, table = [], {}
    for kind in KINDS:
        k = stats.kinds.get(kind) or KindStats()
        count = len(k.latencies)
        entry = {
            "ok": count,
            "per_second": count / seconds,
            "p50_ms": quantile_ms(k.latencies, 0.5),
            "p99_ms": quantile_ms(k.latencies, 0.99),
            "server_errors": k.server_errors,
            "failures": k.failures,
            "cache_hits": k.cache_hits,
            "failure_samples": k.samples,
        }
        table[kind] = entry
        hits = f"{100 * k.cache_hits / count:.0f}%" if count and kind.startswith(("anon", "search")) else "-"
        rows.append(
            f"{kind:<14} {count:>7} {count / seconds:>7.1f} {ms(quantile(k.latencies, 0.5)):>7} "
            f"{ms(quantile(k.latencies, 0.99)):>7} {k.server_errors:>5} {k.failures:>6} {hits:>6}"
        )
    everything = [x for k in stats.kinds.values() for x in k.latencies]
    total_5xx = sum(k.server_errors for k in stats.kinds.values())
    total_failures = sum(k.failures for k in stats.kinds.values())
    footer = [
        f"{'all':<14} {len(everything):>7} {len(everything) / seconds:>7.1f} {ms(quantile(everything, 0.5)):>7} "
        f"{ms(quantile(everything, 0.99)):>7} {total_5xx:>5} {total_failures:>6}"
    ]
    print_table(
        f"{'operation':<14} {'ok':>7} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7} {'5xx':>5} {'failed':>6} {'cache':>6}",
        rows,
        footer,
    )
    for kind, k in stats.kinds.items():
        for sample in k.samples:
            print(f"  {kind} failure: {sample}")

    print_table(
        f"{'process':<12} {'RSS start MB':>12} {'end MB':>8} {'growth MB':>10} {'peak MB':>8} {'CPU %':>6}",
        [
            f"{name:<12} {mb(r['start_mb']):>12} {mb(r['end_mb']):>8} {mb(r['growth_mb']):>10} {mb(r['peak_mb']):>8}"
            f" {mb(r['cpu_pct']):>6}"
            for name, r in rss.items()
        ],
        [
            f"machine CPU busy over the run: {100 * busy:.0f}% of {os.cpu_count()} CPUs (the load generator, moto, "
            "PostgreSQL and Redis included; transcodes run in the workers' children)"
        ],
    )
    growths = [r["growth_mb"] for r in rss.values()]
    worst = max((g for g in growths if g is not None), default=None)
    gone = [name for name, r in rss.items() if r["growth_mb"] is None]

    waiting = jobs["backlog_at_end_of_load"]
    print(
        f"at the end of the load: {waiting['queued_jobs']} jobs queued, the oldest {waiting['oldest_queued_s'] or 0:.0f}s;"
        f" {waiting['redis_entries']} hand-overs in Redis"
    )
    print(
        f"uploads: {jobs['uploads']} (assets in the database: {jobs['assets_in_database']}), workers done {drain_s:.0f}s after the load"
    )
    print("jobs: " + ", ".join(f"{r['kind']} {r['status']} {r['n']}" for r in jobs["jobs"]))
    print(f"jobs run more than once: {len(jobs['jobs_run_twice']) or 'none'}; dead: {jobs['dead_jobs'] or 'none'}")
    for key in (
        "not_ready",
        "missing_jobs",
        "jobs_run_twice",
        "assets_with_a_job_kind_twice",
        "asset_ready_twice",
        "ready_without_event",
        "masters_missing",
        "unexpected_assets",
        "staging_left",
    ):
        if jobs[key]:
            print(f"  {key}: {json.dumps(jobs[key], default=str)[:600]}")
    if jobs["pending_jobs"]:
        print(f"  jobs still QUEUED or RUNNING: {jobs['pending_jobs']}")
    api_files = sum(len(files) for files in jobs["files_on_api_disks"].values())
    print()

    targets = [
        ("5xx responses", total_5xx == 0, f"{total_5xx} (target 0)"),
        (
            "RSS growth per process",
            worst is not None and worst < RSS_TARGET_MB and not gone,
            f"worst {mb(worst)} MB (target < {RSS_TARGET_MB:.0f} MB)"
            + (f"; exited: {', '.join(gone)}" if gone else ""),
        ),
        ("jobs lost", jobs["lost"] == 0, f"{jobs['lost']} (target 0)"),
        (
            "jobs duplicated",
            jobs["duplicated"] + len(jobs["dead_jobs"]) == 0,
            f"{jobs['duplicated']} duplicated, {sum(jobs['dead_jobs'].values())} dead (target 0)",
        ),
        ("other failed operations", total_failures == 0, f"{total_failures} (target 0)"),
        ("files on API disks", api_files == 0, f"{api_files} (target 0)"),
    ]
    for name, ok, detail in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    passed = all(ok for _, ok, _ in targets)
    results = {
        "seconds": seconds,
        "operations": table,
        "total": {
            "ok": len(everything),
            "per_second": len(everything) / seconds,
            "p50_ms": quantile_ms(everything, 0.5),
            "p99_ms": quantile_ms(everything, 0.99),
            "server_errors": total_5xx,
            "failures": total_failures,
        },
        "rss": rss,
        "machine_cpu_busy": busy,
        "jobs": jobs,
        "workers_done_after_s": drain_s,
        "targets": {name: {"pass": ok, "detail": detail} for name, ok, detail in targets},
        "passed": passed,
    }
    return results, passed


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": None if memory is None else round(memory / 1e9, 1),
        "load_average_before": os.getloadavg(),  # other work on the machine skews the latencies
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- main --------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--duration", type=float, default=600, help="seconds of measured load (default 600)")
    parser.add_argument("--short", action="store_true", help="60 seconds of load, a shorter warm-up")
    parser.add_argument("--warmup", type=float, help="seconds of load before measuring (default 30, 10 with --short)")
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="tasks running reads, edits and searches")
    parser.add_argument("--rate", type=float, default=40, help="reads, edits and searches a second, all tasks together")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"weights of the kinds (default {DEFAULT_MIX})")
    parser.add_argument("--upload-rate", type=float, default=0.5, help="uploads a second (0: none)")
    parser.add_argument("--upload-concurrency", type=int, default=4)
    parser.add_argument("--direct-share", type=float, default=0.3, help="share of uploads sent DIRECT through the API")
    parser.add_argument("--distinct-files", type=int, default=12, help="distinct clips and images in the upload pool")
    parser.add_argument("--programs", type=int, default=8, help="programs seeded")
    parser.add_argument("--episodes", type=int, default=12, help="episodes seeded per program")
    parser.add_argument(
        "--drain-timeout", type=float, default=600, help="seconds to wait for the workers after the load"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--redis-url", help="an outside Redis (default: a private redis-server)")
    parser.add_argument("--log-dir", type=Path, help="where process logs go (default: a temporary directory, kept)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.short:
        args.duration = 60
    if args.warmup is None:
        args.warmup = 10 if args.duration <= 120 else 30
    if args.rate <= 0 or args.concurrency <= 0 or args.duration <= 0:
        parser.error("--rate, --concurrency and --duration must be positive")
    parse_mix(args.mix)
    return args


async def soak(args: argparse.Namespace) -> int:
    started = time.monotonic()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="cms-soak-"))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    info = machine()
    log(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB, Python {info['python']}, "
        f"load average {' '.join(f'{v:.1f}' for v in info['load_average_before'])} before the run"
    )
    log("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None))
    log(f"process logs in {log_dir}")
    async with Cluster(log_dir=log_dir, apis=args.apis, workers=args.workers, redis_url=args.redis_url) as cluster:
        log(
            f"cluster up in {time.monotonic() - started:.0f}s: APIs {', '.join(cluster.api_urls)}, {args.workers} workers"
        )
        # Idle connections are dropped before the server's keep-alive timeout (5 s) can close one under a request.
        limits = httpx.Limits(
            max_connections=args.concurrency + args.upload_concurrency + 8,
            max_keepalive_connections=64,
            keepalive_expiry=2,
        )
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            load = Load(cluster, client, args)
            await load.seed()
            log(f"seeded {len(load.seeded.programs)} programs, {len(load.seeded.episodes)} episodes")
            sampler = RssSampler(cluster)
            log(f"warm-up {args.warmup:.0f}s, then {args.duration:.0f}s measured")
            stats = await load.run(warmup=args.warmup, duration=args.duration, on_measure=_async(sampler.start))
            await sampler.stop()
            waiting = await backlog(cluster)
            log(
                f"load done: {load.progress()}; {waiting['queued_jobs']} jobs queued (the oldest "
                f"{waiting['oldest_queued_s'] or 0:.0f}s), {waiting['redis_entries']} hand-overs in Redis; "
                "waiting for the workers"
            )
            drain_s = await wait_for_workers(cluster, load.uploads, args.drain_timeout)
            jobs = await check_jobs(cluster, load.uploads)
        print()
        print(
            f"soak: {args.apis} APIs, {args.workers} workers, {info['cpus']} CPUs; {args.duration:.0f}s measured after "
            f"{args.warmup:.0f}s warm-up; target {args.rate:g} req/s over {args.concurrency} tasks ({args.mix}), "
            f"{args.upload_rate:g} uploads/s over {args.upload_concurrency}"
        )
        jobs["backlog_at_end_of_load"] = waiting
        results, passed = report(stats, sampler.growth(), sampler.machine_busy(), jobs, drain_s)
    print(f"\n{'PASS' if passed else 'FAIL'}: soak ({'all targets met' if passed else 'a target was missed'})")
    if args.json:
        payload = {"bench": "soak", "machine": info, "settings": settings, "log_dir": str(log_dir), **results}
        payload["rss_series"] = sampler.series
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        log(f"wrote {args.json} in {time.monotonic() - started:.0f}s total")
    return 0 if passed else 1


def _async(fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        fn()

    return call


def main() -> int:
    return asyncio.run(soak(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
