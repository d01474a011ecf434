"""A worker killed in the middle of a source's run: the run is taken over and every item comes in exactly once.

Real `cms worker` processes (one paused after the run sorted its first item, tests/support/paused_worker.py) on
the session database, a queue of the test's own and short leases; the feed is a loopback server."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from cms.api.ids import from_global_id
from cms.content.models import Episode
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.ingest.models import RunStatus, SourceRun
from cms.media.models import Asset, AssetStatus
from jobs.store.models import Job
from tests.support import media
from tests.support.api import Api, operation
from tests.support.feeds import feed_server, podcast_feed
from tests.support.jobs import database_url, forget_queue
from tests.support.processes import Process, child_env, cms, cms_module, eventually


def worker_env(settings: Settings, target: PgTarget, **extra: str) -> dict[str, str]:
    return child_env(
        {
            "DATABASE_URL": database_url(target),
            "REDIS_URL": settings.redis_url or "",
            "CMS_DATA_DIR": str(settings.data_dir),
            "CMS_QUEUE_NAME": settings.queue_name,
            "CMS_JOB_LEASE_SECONDS": "2",
            "CMS_JOB_REQUEUE_SECONDS": "1",
            "CMS_JOB_POLL_SECONDS": "0.2",
            "CMS_INGEST_ALLOW_HOSTS": "127.0.0.1",
            **extra,
        }
    )


async def test_a_run_killed_mid_way_is_taken_over_with_no_duplicate(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"queue_name": f"cms-test:{uuid.uuid4().hex[:12]}"})
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Crashes"}}, role="editor"))[
        "createProgram"
    ]
    processes: list[Process] = []
    async with feed_server() as feeds:
        items = []
        for i in range(3):
            feeds.serve(f"/m/{i}.mp4", media.mp4_clip(seconds=1.0, seed=40 + i), "video/mp4")
            items.append({"guid": f"g{i}", "title": f"Item {i}", "enclosure": f"{feeds.url}/m/{i}.mp4"})
        url = feeds.serve("/feed.xml", podcast_feed("Crash", items))
        source = (
            await api.data(
                operation("CreateSource"),
                {"input": {"kind": "rss", "name": "c", "programId": program["id"], "config": {"url": url}}},
                role="editor",
            )
        )["createSource"]
        source_pk = int(from_global_id(source["id"])[1])
        await api.data(operation("RunSource"), {"id": source["id"]}, role="editor")
        pause_file = tmp_path / "paused"
        try:
            first = cms_module(
                "worker-1",
                "tests.support.paused_worker",
                log_dir=tmp_path,
                env=worker_env(
                    settings, db_target, CMS_TEST_PAUSE_AT="ingest_run", CMS_TEST_PAUSE_FILE=str(pause_file)
                ),
            )
            processes.append(first)

            async def paused() -> bool:
                assert first.alive(), first.tail()
                return pause_file.exists()

            await eventually(paused, what="the run to sort its first item", processes=(first,))
            assert await Job.filter(kind="ingest_item").count() == 1
            first.kill()  # SIGKILL mid-run: the run stays RUNNING, its job keeps its lease until it expires
            first.popen.wait(10)
            [run] = await SourceRun.filter(source_id=source_pk)
            assert run.status == RunStatus.RUNNING
            # Two minutes pass without a heartbeat: the run's worker is known to be gone.
            await SourceRun.filter(id=run.id).update(heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))

            second = cms("worker-2", "worker", env=worker_env(settings, db_target), log_dir=tmp_path)
            processes.append(second)

            async def all_ready() -> bool:
                ready = await Asset.filter(
                    status=AssetStatus.READY, episode__program_id=source_program(program)
                ).count()
                return ready == 3

            await eventually(all_ready, what="every item's media READY", processes=(second,), attempts=600)
        finally:
            for process in processes:
                process.stop()
            await forget_queue(settings)

    episodes = await Episode.filter(source=f"source:{source_pk}").values_list("external_id", flat=True)
    assert sorted(episodes) == ["g0", "g1", "g2"]
    assert await Asset.filter(episode__source=f"source:{source_pk}").count() == 3
    assert await Job.filter(kind="ingest_item").count() == 3
    runs = (
        await SourceRun.filter(source_id=source_pk).order_by("id").values_list("status", "error", "created", "skipped")
    )
    assert runs[0] == (RunStatus.FAILED, "the worker running it stopped", 0, 0), runs
    # The second run found all three: g0 queued by the first (or already in), the others new.
    assert runs[1][0] == RunStatus.SUCCEEDED and runs[1][2] + runs[1][3] >= 2 and len(runs) == 2, runs


def source_program(program: dict) -> int:
    return int(from_global_id(program["id"])[1])
