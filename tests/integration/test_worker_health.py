"""A real `cms worker`: `cms worker-health` passes while it runs and fails once it is killed; its metrics are served on
its own port; its JSON log lines for a job carry the request id of the mutation that caused the job."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx

from cms.core.db import PgTarget
from cms.core.settings import Settings
from jobs.store.models import Job, JobStatus
from tests.support.api import Api, operation
from tests.support.jobs import database_url
from tests.support.processes import CMS, ROOT, Process, child_env, cms, eventually, free_port


def worker_env(settings: Settings, target: PgTarget, queue: str, metrics_port: int) -> dict[str, str]:
    return child_env(
        {
            "DATABASE_URL": database_url(target),
            "REDIS_URL": str(settings.redis_url),
            "CMS_DATA_DIR": str(settings.data_dir),
            "CMS_QUEUE_NAME": queue,
            "CMS_JOB_POLL_SECONDS": "0.2",
            "CMS_WORKER_HEALTH_SECONDS": "1",
            "CMS_METRICS_PORT": str(metrics_port),
            "CMS_LOG_FORMAT": "json",
        }
    )


def worker_health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CMS), "worker-health", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def json_lines(process: Process) -> list[dict[str, Any]]:
    lines = []
    for line in process.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_worker_health_metrics_and_request_id_in_its_logs(
    api: Api, settings: Settings, db_target: PgTarget, tmp_path: Path
) -> None:
    queue = f"cms-test-health:{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = worker_env(settings, db_target, queue, port)
    missing = worker_health(env)
    assert missing.returncode == 1 and "no worker of queue" in missing.stderr, missing

    worker = cms("worker", "worker", env=env, log_dir=tmp_path)
    try:
        healthy = await eventually(
            lambda: worker_health(env).returncode == 0, what="worker-health to pass", processes=(worker,)
        )
        assert healthy
        assert worker_health(env, "--any").returncode == 0

        # A mutation with a request id: the job it causes logs (JSON lines) with that id.
        request_id = f"health-{uuid.uuid4().hex[:12]}"
        headers = {"authorization": f"Bearer {api.token('editor')}", "x-request-id": request_id}
        body = {"query": operation("CreateProgram"), "variables": {"input": {"title": "Logged show"}}}
        response = await api.client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text

        async def indexed() -> bool:
            return await Job.exists(kind="index_content", status=JobStatus.SUCCEEDED)

        await eventually(indexed, what="the index job to run in the worker", processes=(worker,))
        [job] = await Job.filter(kind="index_content")

        def job_lines() -> list[dict[str, Any]]:
            return [line for line in json_lines(worker) if line.get("job_id") == job.id]

        lines = await eventually(job_lines, what="the job's log lines", processes=(worker,))
        for line in lines:
            assert (line["job_kind"], line["request_id"]) == ("index_content", request_id), line

        # The worker serves its own metrics: the job's outcome and the queue gauges.
        async def scraped() -> str | None:
            async with httpx.AsyncClient(timeout=5) as client:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            wanted = 'cms_jobs_total{kind="index_content",outcome="succeeded"} 1.0'
            return text if wanted in text and f'cms_queue_depth{{queue="{queue}"}} 0.0' in text else None

        text = await eventually(scraped, what="the worker's metrics", processes=(worker,))
        assert "cms_outbox_lag_seconds 0.0" in text and "cms_job_duration_seconds_bucket" in text

        # Killed (no chance to say goodbye): the health record expires and the check fails.
        worker.kill()
        worker.popen.wait(10)
        await eventually(
            lambda: worker_health(env).returncode == 1, what="worker-health to fail after the kill", processes=(worker,)
        )
        failed = worker_health(env)
        assert f"no worker of queue {queue!r} on this host" in failed.stderr, failed
    finally:
        worker.stop()
