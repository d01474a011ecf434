"""The graphql-http server audit (npm, pinned by tests/audit/package-lock.json) against the live server: every
MUST and every SHOULD of the GraphQL over HTTP spec passes, and so does every MAY we chose to follow."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.support.uncached import uncached_url  # noqa: F401 - a fixture

AUDIT = Path(__file__).resolve().parents[1] / "audit"
SCRIPT = AUDIT / "audit.js"
TIMEOUT = 180


async def _run_audit(url: str) -> list[dict]:
    """Runs the node script beside this loop's server (the server must keep answering while we wait)."""
    node = shutil.which("node")
    if node is None or not (AUDIT / "node_modules" / "graphql-http").is_dir():
        pytest.fail("node or tests/audit/node_modules is missing: run `make audit-deps` (npm ci); `make test` does")
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), url, cwd=AUDIT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the graphql-http audit did not finish in {TIMEOUT}s")
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def _report(results: list[dict]) -> str:
    return "\n".join(
        f"[{r['status']}] {r['id']} {r['name']}: {r.get('reason')} (HTTP {r.get('httpStatus')}, "
        f"{r.get('contentType')}) {(r.get('body') or '')[:300]}"
        for r in results
    )


@pytest.fixture(params=["cache-on", "cache-off"])
def url(request, live_server) -> str:
    return live_server.url if request.param == "cache-on" else request.getfixturevalue("uncached_url")


async def test_graphql_over_http_audit(url):
    results = await _run_audit(f"{url}/graphql")
    counts = {level: sum(r["name"].startswith(level) for r in results) for level in ("MUST", "SHOULD", "MAY")}
    failed = [r for r in results if r["status"] != "ok"]
    print(f"graphql-http audit: {len(results)} audits {counts}, {len(failed)} not ok")
    print(_report(failed))
    assert counts["MUST"] > 0 and counts["SHOULD"] > 0
    assert not [r for r in failed if r["name"].startswith(("MUST", "SHOULD"))], _report(failed)
    # The MAYs we follow (400 for bad parameters and an empty body, GET queries, no mutations over GET).
    assert not failed, _report(failed)
