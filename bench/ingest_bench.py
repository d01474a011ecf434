"""Ingest bench: a loopback podcast feed of N items with small audio enclosures, end to end to READY episodes.

    .venv/bin/python bench/ingest_bench.py [--items 1000 --seconds 1.0]

Steps: a throw-away database cms_bench_<random> (`cms migrate`d, dropped at the end); N distinct short AAC clips
made with PyAV (a tone per item, so no two enclosures share bytes and every one is really persisted and
processed); a feed server on a free loopback port (the same Starlette app the tests use, tests/support/feeds.py:
ETag conditional GETs); a program and an `rss` source created through the service functions; then the real worker
(`cms worker`, a subprocess with CMS_INGEST_ALLOW_HOSTS=127.0.0.1) and `runSource`'s event.

Measures:
- first run: from the run request to every episode's media READY: items/s end to end (discover, item jobs, fetch
  through the safe client, persist, process to AAC HLS, index), and the worker's peak RSS (its process tree,
  sampled every 0.2 s);
- re-run with nothing new, twice: as the server answers (304 to the conditional GET), and with the server ignoring
  the validators (the whole feed parsed again, every item looked up and skipped). Each is the run's own time
  (started to finished, as recorded on the run; the dispatcher's polling before a job starts is not the run's
  cost) as a share of the first run's end-to-end time; the target is under 1 %.

Writes bench/results/ingest.json; exits 0 whether or not the target is met, 1 when a check fails.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
from _common import (
    ROOT,
    add_database_args,
    bench_parser,
    cms_cmd,
    cms_env,
    in_throwaway_database,
    log,
    migrate,
    print_table,
    stop_process,
    write_results,
)

sys.path.insert(0, str(ROOT))
from tests.support.feeds import feed_server, podcast_feed  # noqa: E402 - the repo root joins the path first

RESULTS = ROOT / "bench" / "results" / "ingest.json"


def tone(seconds: float, frequency: float) -> bytes:
    """A short mono AAC file in MP4 (m4a), distinct per frequency."""
    out = BytesIO()
    with av.open(out, "w", format="ipod") as container:  # an .m4a (brand M4A), as podcasts serve them
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        samples = int(44100 * seconds)
        t = np.arange(samples) / 44100
        wave = (0.3 * np.sin(2 * math.pi * frequency * t)).astype(np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class TreeRss:
    """Peak resident memory of a process and its children, sampled in the background."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0

    def sample(self) -> None:
        try:
            tree = [self.process, *self.process.children(recursive=True)]
            self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass


async def run(args: Any, db_url: str, tmp: Path) -> int:
    from cms.auth.principal import Principal
    from cms.content.models import Episode, Program
    from cms.core import db
    from cms.core.settings import Settings
    from cms.ingest import sources
    from cms.ingest.models import RunStatus, SourceRun
    from cms.media.models import Asset, AssetStatus
    from cms.users.actors import Actor
    from cms.users.service import ensure_user

    data_dir = tmp / "data"
    data_dir.mkdir()
    migrate(db_url, data_dir)
    settings = Settings(DATABASE_URL=db_url, CMS_DATA_DIR=data_dir, CMS_ENV="development", OIDC_ISSUER=None)
    await db.open_database(settings, db.PgTarget.from_url(db_url), run_migrations=False)
    started = time.monotonic()
    log(f"making {args.items} enclosures of {args.seconds:g} s")
    clips = [tone(args.seconds, 220 + i * 0.5) for i in range(args.items)]
    async with feed_server() as feeds:
        items = []
        for i, clip in enumerate(clips):
            feeds.serve(f"/media/{i}.m4a", clip, "audio/mp4")
            items.append(
                {
                    "guid": f"item-{i}",
                    "title": f"Item {i}",
                    "enclosure": f"{feeds.url}/media/{i}.m4a",
                    "type": "audio/mp4",
                }
            )
        url = feeds.serve("/feed.xml", podcast_feed("Bench", items))
        principal = Principal(subject="bench", roles=frozenset({"editor"}), name="bench")
        actor = Actor(principal=principal, user=await ensure_user(principal=principal))
        program = await Program.create(title="Bench", slug="bench")
        source = await sources.create_source(
            actor=actor,
            kind="rss",
            changes=sources.SourceChanges(name="bench", program_id=program.id, config={"url": url}),
            installed=_installed(settings),
        )
        env = cms_env(db_url, data_dir, CMS_INGEST_ALLOW_HOSTS="127.0.0.1", CMS_TRY_GPU="false")
        worker_log = (tmp / "worker.log").open("w")  # a pipe nobody reads would fill and block the worker's logging
        worker = subprocess.Popen(
            [*cms_cmd(), "worker"], env=env, cwd=ROOT, stdout=worker_log, stderr=subprocess.STDOUT, text=True
        )
        rss = TreeRss(worker.pid)
        try:

            async def until(done: Any, what: str, limit: float) -> float:
                begin = time.monotonic()
                while not await done():
                    rss.sample()
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker exited: {(tmp / 'worker.log').read_text()[-2000:]}")
                    if time.monotonic() - begin > limit:
                        raise RuntimeError(f"{what}: not done after {limit:.0f} s")
                    await asyncio.sleep(0.2)
                return time.monotonic() - begin

            async def runs_finished(n: int) -> bool:
                return await SourceRun.filter(source_id=source.id).exclude(status=RunStatus.RUNNING).count() >= n

            async def all_ready() -> bool:
                if not await runs_finished(1):
                    return False
                ready = await Asset.filter(status=AssetStatus.READY, episode__program_id=program.id).count()
                failed = await Asset.filter(status=AssetStatus.FAILED).count()
                if failed:
                    reasons = await Asset.filter(status=AssetStatus.FAILED).values_list("failure_reason", flat=True)
                    raise RuntimeError(f"{failed} assets failed: {sorted(set(reasons))[:3]}")
                return ready >= args.items

            await sources.request_run(actor=actor, id=source.id)
            first = await until(all_ready, "first run", args.limit)
            log(f"first run: {args.items} items READY in {first:.1f} s")
            reruns = {}
            for label, ignore in (("304", False), ("full feed", True)):
                feeds.ignore_validators = ignore
                count = await SourceRun.filter(source_id=source.id).count()
                await sources.request_run(actor=actor, id=source.id)
                wall = await until(lambda c=count: runs_finished(c + 1), f"re-run ({label})", 600)
                last = await SourceRun.filter(source_id=source.id).order_by("-id").first()
                assert last is not None and last.finished_at is not None
                # The run's own time (its job started to finished), without the dispatcher's polling before it.
                reruns[label] = (last.finished_at - last.started_at).total_seconds()
                log(f"re-run, nothing new ({label}): {reruns[label]:.3f} s in the run, {wall:.2f} s from the request")
            runs = (
                await SourceRun.filter(source_id=source.id)
                .order_by("id")
                .values("status", "found", "created", "updated", "skipped", "failed", "gone")
            )
            episodes = await Episode.filter(program_id=program.id).count()
        finally:
            stop_process(worker, 15)
            await db.close_database()
    problems = []
    if episodes != args.items:
        problems.append(f"{episodes} episodes for {args.items} items")
    if runs[0]["created"] != args.items or any(r["status"] != "SUCCEEDED" for r in runs):
        problems.append(f"runs: {runs}")
    if runs[-1]["skipped"] != args.items or runs[-1]["created"] or runs[-1]["updated"]:
        problems.append(f"the full-feed re-run did something: {runs[-1]}")
    rows = [
        f"{'first run':28} {first:9.1f} {args.items / first:9.1f} {'':>8}",
        *(
            f"{'re-run, nothing new (' + k + ')':28} {v:9.2f} {'':>9} {v / first * 100:7.2f}%"
            for k, v in reruns.items()
        ),
    ]
    print_table(
        f"{'':28} {'seconds':>9} {'items/s':>9} {'of first':>8}",
        rows,
        [
            f"{args.items} items, {args.seconds:g} s AAC enclosures; worker peak RSS {rss.peak / 2**20:.0f} MiB "
            f"(process tree); target: a re-run with nothing new under 1 % of the first run: "
            + ", ".join(f"{k} {'PASS' if v / first < 0.01 else 'FAIL'}" for k, v in reruns.items()),
        ],
    )
    write_results(
        RESULTS,
        {
            "items": args.items,
            "first_seconds": first,
            "items_per_second": args.items / first,
            "rerun_seconds": reruns,
            "worker_peak_rss_mib": rss.peak / 2**20,
            "runs": runs,
            "problems": problems,
        },
        started,
    )
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _installed(settings: Any) -> dict[str, Any]:
    from cms.ingest.registry import installed_sources
    from cms.plugins.host import PluginHost

    return installed_sources(PluginHost().load(), settings)


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each enclosure")
    parser.add_argument("--limit", type=float, default=3600, help="give up on the first run after this many s")
    add_database_args(parser)
    args = parser.parse_args()
    return in_throwaway_database(args, "cms-ingest-bench-", lambda url, tmp: asyncio.run(run(args, url, tmp)))


if __name__ == "__main__":
    sys.exit(main())
