"""Plugins for the worker-hook tests: job kinds, cron jobs, an ingest source, and plugins that get them wrong.

Each is an object, so a test makes a fresh one and reads what it recorded. They import only the public API.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from arq.cron import cron

from cms.core.settings import Settings
from cms.plugins.hookspecs import hookimpl
from cms.plugins.host import PluginHost
from jobs.store.service import PermanentFailure, enqueue

EVERY_SECOND = set(range(60))


def host_with(*unnamed: object, **named: object) -> PluginHost:
    """A plugin host holding only these plugins (no entry points): `unnamed` ones as p0, p1, ..., `named` ones under
    their keyword."""
    host = PluginHost(entry_points=False)
    for n, plugin in enumerate(unnamed):
        host.register(plugin, f"p{n}")
    for name, plugin in named.items():
        host.register(plugin, name)
    return host


class JobKinds:
    """`testplug.*` job kinds: one that records, one that fails its first attempts, one that fails until fixed,
    one that refuses its input."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (ctx, payload)
        self.attempts: Counter[str] = Counter()
        self.fixed = False  # testplug.broken succeeds once a test "deploys the fix"

    @hookimpl
    def cms_job_kinds(self) -> dict[str, Any]:
        return {
            "testplug.echo": self.echo,
            "testplug.flaky": self.flaky,
            "testplug.broken": self.broken,
            "testplug.refuse": self.refuse,
        }

    async def echo(self, ctx: dict[str, Any], **payload: Any) -> None:
        self.calls.append((ctx, payload))

    async def flaky(self, ctx: dict[str, Any], *, token: str, fail_times: int) -> None:
        self.attempts[token] += 1
        if self.attempts[token] <= fail_times:
            raise ConnectionError(f"remote service down (attempt {self.attempts[token]})")
        self.calls.append((ctx, {"token": token}))

    async def broken(self, ctx: dict[str, Any], *, token: str) -> None:
        self.attempts[token] += 1
        if not self.fixed:
            raise RuntimeError("this job always fails")
        self.calls.append((ctx, {"token": token}))

    async def refuse(self, ctx: dict[str, Any], *, url: str) -> None:
        raise PermanentFailure(f"{url} is not a feed")


class ClashingKinds:
    """Gets cms_job_kinds wrong every way: a core kind, a kind another plugin has, a non-callable, a non-name."""

    @hookimpl
    def cms_job_kinds(self) -> dict[Any, Any]:
        async def imposter(ctx: dict[str, Any], **payload: Any) -> None:
            raise AssertionError("a clashing kind must never run")

        return {
            "persist_asset": imposter,
            "testplug.echo": imposter,
            "clash.number": 42,
            7: imposter,
            "clash.fine": imposter,
        }


class NotADict:
    @hookimpl
    def cms_job_kinds(self) -> list[str]:
        return ["not", "a", "dict"]

    @hookimpl
    def cms_cron_jobs(self) -> list[Any]:
        return ["every minute please", None]

    @hookimpl
    def cms_ingest_sources(self) -> dict[str, Any]:
        return {"junk": object()}


class Crons:
    """Every-second cron jobs: one records its ticks and triggers an ingest poll through the public enqueue,
    one always raises."""

    def __init__(self, *, program_id: int | None = None) -> None:
        self.program_id = program_id
        self.ticks: list[str] = []  # arq job ids: "<cron name>:<tick time in ms>"
        self.ctx_keys: set[str] = set()
        self.booms = 0

    @hookimpl
    def cms_cron_jobs(self) -> list[Any]:
        return [
            cron(self.tick, name="testplug.tick", second=EVERY_SECOND),
            cron(self.boom, name="testplug.boom", second=EVERY_SECOND),
        ]

    async def tick(self, ctx: dict[str, Any]) -> None:
        self.ticks.append(ctx["job_id"])
        self.ctx_keys |= set(ctx)
        if self.program_id is not None:
            settings: Settings = ctx["settings"]
            await enqueue(
                "ingest_poll",
                {"source": "emptyfeed", "program_id": self.program_id, "config": {}},
                dedupe_key=f"testplug:poll:{ctx['job_id']}",
                max_attempts=settings.job_max_attempts,
            )

    async def boom(self, ctx: dict[str, Any]) -> None:
        self.booms += 1
        raise RuntimeError("cron function failed on purpose")


class EmptyFeed:
    kind = "emptyfeed"

    async def discover(self, config: dict) -> list[dict]:
        return []

    async def fetch(self, item: dict, dest: Path) -> Path:  # pragma: no cover - nothing is ever discovered
        raise AssertionError("nothing to fetch")


class ClipFeed:
    """An ingest source over a fixed list of items; `fetch` writes a real MP4 clip, failing first when told."""

    kind = "clipfeed"

    def __init__(self, clips: dict[str, bytes], *, fetch_failures: dict[str, int] | None = None) -> None:
        self.clips = clips
        self.fetch_failures = Counter(fetch_failures or {})
        self.discovered = 0
        self.fetched: Counter[str] = Counter()

    async def discover(self, config: dict) -> list[dict]:
        self.discovered += 1
        return [
            {
                "external_id": key,
                "title": f"Clip {key}",
                "url": f"https://feeds.example/{key}.mp4",
                "description": "from the feed",
            }
            for key in self.clips
        ]

    async def fetch(self, item: dict, dest: Path) -> Path:
        key = item["external_id"]
        self.fetched[key] += 1
        if self.fetch_failures[key] > 0:
            self.fetch_failures[key] -= 1
            raise ConnectionError(f"{item['url']}: connection reset")
        path = dest / f"{key}.mp4"
        path.write_bytes(self.clips[key])
        return path


class Sources:
    def __init__(self, *sources: Any) -> None:
        self.sources = {source.kind: source for source in sources}

    @hookimpl
    def cms_ingest_sources(self) -> dict[str, Any]:
        return self.sources


class WithClient:
    """A plugin whose job uses a client it opens in cms_startup and closes in cms_shutdown."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.client: dict[str, Any] | None = None

    @hookimpl
    async def cms_startup(self, settings: Any) -> None:
        self.client = {"open": True}
        self.events.append("startup")

    @hookimpl
    async def cms_shutdown(self) -> None:
        assert self.client is not None
        self.client["open"] = False
        self.events.append("shutdown")

    @hookimpl
    def cms_job_kinds(self) -> dict[str, Any]:
        return {"client.use": self.use}

    async def use(self, ctx: dict[str, Any], **payload: Any) -> None:
        if self.client is None or not self.client["open"]:
            raise RuntimeError("the client was not opened")
        self.events.append("job")
