"""Media work runs in a child process: a hang or a runaway allocation fails the task, the caller carries on."""

from __future__ import annotations

import pytest

from cms.media.models import AssetKind
from cms.media.probe import probe_file
from cms.media.transcode.isolated import IsolatedTaskFailed, run_isolated
from tests.support import media


def _task(tmp_path, data: bytes) -> dict:
    src = tmp_path / "source.mp4"
    src.write_bytes(data)
    probe = probe_file(src, AssetKind.VIDEO)
    return {
        "task": "video",
        "src": str(src),
        "out_dir": str(tmp_path / "out"),
        "timeout": 600,
        "input_format": probe["format"],
        "width": probe["width"],
        "height": probe["height"],
        "frame_rate": probe["frame_rate"],
        "rotation": probe["rotation"],
        "duration": probe["duration"],
        "video_encoder": "libx264",
        "hw_decode": False,
    }


async def test_a_task_past_its_time_limit_is_stopped(tmp_path):
    task = _task(tmp_path, media.mp4_clip(seconds=4.0, width=1280, height=720))
    with pytest.raises(IsolatedTaskFailed, match="longer than"):
        await run_isolated(task, timeout=0.5, memory_limit_bytes=8 * 1024**3)


async def test_a_task_over_its_memory_limit_fails_with_a_reason(tmp_path):
    task = _task(tmp_path, media.mp4_clip(seconds=2.0, width=640, height=360))
    with pytest.raises(IsolatedTaskFailed) as failure:
        await run_isolated(task, timeout=120, memory_limit_bytes=64 * 1024**2)
    assert "memory" in str(failure.value) or "unexpectedly" in str(failure.value)


async def test_progress_is_reported_and_the_result_comes_back(tmp_path):
    task = _task(tmp_path, media.mp4_clip(seconds=2.0, width=640, height=360))
    seen: list[float] = []
    result = await run_isolated(task, timeout=120, memory_limit_bytes=8 * 1024**3, on_progress=seen.append)
    assert result["video"]["master"] == "master.m3u8" and result["poster"]["width"] > 0
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
