"""Run media work in a child process: a decoder that crashes, hangs or balloons takes the child down, never
the worker. The child reads a JSON task on stdin and writes JSON lines: progress, then a result or an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cms.media.isolated")
CHILD_MODULE = "cms.media.transcode.child"


class IsolatedTaskFailed(Exception):
    """The task failed; the message is meant for people (it ends up on the asset)."""


def _limit_memory(limit_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return apply


async def run_isolated(
    task: dict[str, Any],
    *,
    timeout: float,
    memory_limit_bytes: int,
    on_progress: Callable[[float], Any] | None = None,
    reader: str = "media decoder",
) -> dict[str, Any]:
    """Run `task` in a child under `timeout` seconds and `memory_limit_bytes` of address space; its result, or
    IsolatedTaskFailed with a reason for people. `reader` names what crashed, if it does ("PDF reader")."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        CHILD_MODULE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limit_memory(memory_limit_bytes),
        limit=1024 * 1024,
    )
    try:
        return await asyncio.wait_for(_converse(child, task, on_progress, reader), timeout)
    except TimeoutError:
        raise IsolatedTaskFailed(f"processing took longer than {timeout:.0f} s and was stopped") from None
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


async def _converse(
    child: asyncio.subprocess.Process, task: dict[str, Any], on_progress: Callable[[float], Any] | None, reader: str
) -> dict[str, Any]:
    assert child.stdin and child.stdout and child.stderr
    child.stdin.write(json.dumps(task).encode() + b"\n")
    await child.stdin.drain()
    child.stdin.close()
    stderr = asyncio.create_task(child.stderr.read())
    outcome: dict[str, Any] | None = None
    async for line in child.stdout:
        message = json.loads(line)
        if "progress" in message and on_progress is not None:
            result = on_progress(float(message["progress"]))
            if asyncio.iscoroutine(result):
                await result
        elif "result" in message or "error" in message:
            outcome = message
    code = await child.wait()
    errors = (await stderr).decode(errors="replace").strip()
    if outcome is not None and "error" in outcome:
        raise IsolatedTaskFailed(outcome["error"])
    if outcome is None or code != 0:
        raise IsolatedTaskFailed(_crash_reason(code, errors, reader))
    returned: dict[str, Any] = outcome["result"]
    return returned


def _crash_reason(code: int | None, errors: str, reader: str = "media decoder") -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        if -code == signal.SIGABRT:  # how PDFium (and allocators in C libraries) stop when an allocation is refused
            return f"the {reader} stopped ({name}): the file is damaged, or needs more memory than allowed"
        return f"the {reader} crashed ({name}); the file is probably damaged"
    if "MemoryError" in errors or "Cannot allocate memory" in errors:
        return "processing needed more memory than allowed; the file may be damaged or too large"
    log.warning("media child exited with %s: %s", code, errors[-2000:])
    return f"processing failed unexpectedly (exit code {code})"
