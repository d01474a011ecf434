"""Ingest from plugin sources (cms_ingest_sources): poll a source, then bring each item in as a draft episode.

`ingest_poll` {source, program_id, config}: asks the source to `discover(config)` and queues one `ingest_item`
job per item, deduplicated on `ingest:<source>:<external_id>`: discovering an item again adds nothing.
`ingest_item` {source, program_id, item}: finds or creates the DRAFT episode for (source, external_id) (unique in
the database), then, unless its media was handed over already, `fetch`es the file into a scratch folder and hands
it to the media intake (`asset.uploaded`, then persist and process as for an upload). A failed fetch is retried
by the job machinery and finds the same episode.

`fetch` may return a list of files (an album: one episode, several assets), one asset each, in order. Such an item
says how many with `media_count`: an attempt that handed over only some of them is finished by the retry, which
skips the files handed over already by name (so a source names them the same way on every attempt). A `fetch` with
a `config` parameter gets its managed source's config, secrets included (a bot token is never put in an item).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import tempfile
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from cms.content import episodes
from cms.content.models import Program
from cms.core.errors import DomainError
from cms.core.settings import Settings
from cms.ingest import registry
from cms.ingest.actors import source_actor
from cms.ingest.models import Source
from cms.media.imports import create_asset_from_file
from cms.media.models import Asset
from cms.plugins.host import PluginHost
from jobs import metrics
from jobs.runner import JobDeps, JobKind, PermanentJobError
from jobs.store import service as jobstore

log = logging.getLogger("cms.jobs.ingest")

POLL, ITEM = "ingest_poll", "ingest_item"
EXTERNAL_ID_MAX = registry.EXTERNAL_ID_MAX


def sources(host: PluginHost | None, settings: Settings) -> dict[str, Any]:
    """The plugins' ingest sources by kind (cms.ingest.registry.installed_sources)."""
    return registry.installed_sources(host, settings)


def sources_of(deps: JobDeps) -> Mapping[str, Any]:
    """The worker built them once (cms/worker.py); deps made without them (tests) ask their plugins."""
    return deps.ingest_sources if deps.ingest_sources is not None else sources(deps.plugins, deps.settings)


def _source(deps: JobDeps, kind: Any) -> Any:
    found = sources_of(deps)
    if kind not in found:
        installed = ", ".join(sorted(found)) or "none"
        raise PermanentJobError(f"no ingest source named {kind!r} is installed (installed: {installed})")
    return found[kind]


def item_key(source: str, external_id: str) -> str:
    """The dedupe key of an item's job (hashed when the id is too long for the key column)."""
    key = f"ingest:{source}:{external_id}"
    if len(key) <= jobstore.DEDUPE_KEY_MAX:
        return key
    return f"ingest:{source}:sha256:{hashlib.sha256(external_id.encode()).hexdigest()}"


def external_id_of(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("external_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > EXTERNAL_ID_MAX:
        return None
    return value


async def run_poll(deps: JobDeps, payload: dict[str, Any]) -> None:
    kind, program_id = payload.get("source"), payload.get("program_id")
    config = payload.get("config") or {}
    source = _source(deps, kind)
    assert isinstance(kind, str)  # _source found it among the installed sources' names
    if not isinstance(program_id, int) or not await Program.exists(id=program_id):
        raise PermanentJobError(f"program {program_id!r} does not exist")
    items = await _call_source(lambda: source.discover(config))
    queued = invalid = 0
    for item in items or []:
        external_id = external_id_of(item)
        if external_id is None:
            log.warning("ingest source %s: item without a usable external_id skipped: %.200r", kind, item)
            invalid += 1
            continue
        try:
            await jobstore.enqueue(
                ITEM,
                {"source": kind, "program_id": program_id, "item": dict(item)},
                dedupe_key=item_key(kind, external_id),
                max_attempts=deps.settings.job_max_attempts,
            )
        except DomainError as exc:  # an item that is not JSON
            log.warning("ingest source %s: item %s skipped: %s", kind, external_id, exc)
            invalid += 1
            continue
        queued += 1
    # A poll cannot tell new items from known ones (the dedupe key does): all of them count as new.
    metrics.ingest_items(kind, {"new": queued, "failed": invalid})
    log.info("ingest source %s discovered %d items for program %s", kind, queued, program_id)


async def run_item(deps: JobDeps, payload: dict[str, Any]) -> None:
    """`source` is the episodes' provenance: the plugin's kind for polls, "source:<id>" for a managed source, whose
    item jobs also name the plugin (`kind`) and keep the item's fingerprint to notice upstream changes."""
    kind = payload.get("kind", payload["source"])
    if await _bring_in(deps, payload, kind):
        metrics.ingest_items(str(kind), {"imported": 1})  # by the plugin's kind, never the source's id


async def _bring_in(deps: JobDeps, payload: dict[str, Any], kind: Any) -> bool:
    """The item's episode and media; False when an earlier attempt had brought them in already."""
    provenance, program_id, item = payload["source"], payload["program_id"], payload["item"]
    source = _source(deps, kind)
    external_id = external_id_of(item)
    if external_id is None:
        raise PermanentJobError("the item has no usable external_id")
    actor = await source_actor(kind)
    try:
        episode = await episodes.episode_from_source(
            actor=actor,
            program_id=program_id,
            source=provenance,
            external_id=external_id,
            item=item,
            keep_fingerprint="kind" in payload,
        )
    except DomainError as exc:  # the program is gone, or the item's text is unusable: retrying cannot help
        raise PermanentJobError(f"item {external_id!r}: {exc}") from exc
    handed_over = set(
        await Asset.filter(episode_id=episode.id, created_by_id=actor.user.id).values_list("filename", flat=True)
    )
    expected = item.get("media_count")
    if handed_over and not (isinstance(expected, int) and len(handed_over) < expected):
        return False  # its media was handed over by an earlier run
    config = await _config_for(source, provenance)
    scratch = Path(deps.settings.data_dir) / "tmp" / "ingest"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{kind}-", dir=scratch) as folder:
        fetched = await _call_source(lambda: _fetch(source, item, Path(folder), config))
        paths = _fetched_paths(fetched)
        if not paths:
            return True  # an item without media: the episode alone
        if not all(path.is_file() for path in paths):
            raise PermanentJobError(f"ingest source {kind!r} fetched no file for item {external_id!r}")
        single = not isinstance(fetched, list | tuple)
        # None: the file's own name; an item's "filename" names its one file only
        filename = item.get("filename") if single and isinstance(item.get("filename"), str) else None
        for path in paths:
            if (filename or path.name).strip() in handed_over:
                continue  # an earlier attempt handed this one over
            try:
                await create_asset_from_file(
                    actor=actor,
                    storage=deps.storage,
                    path=path,
                    episode_id=episode.id,
                    filename=filename,
                    max_size=deps.settings.upload_max_bytes,
                )
            except DomainError as exc:  # too large, a bad file name: the same file would be refused again
                raise PermanentJobError(str(exc)) from exc
    return True


def _fetch(source: Any, item: dict[str, Any], dest: Path, config: dict[str, Any] | None) -> Any:
    return source.fetch(item, dest) if config is None else source.fetch(item, dest, config=config)


def _fetched_paths(fetched: Any) -> list[Path]:
    """What `fetch` returned as a list of paths: None (no media), one path, or a list (tuple) of them."""
    if fetched is None:
        return []
    if isinstance(fetched, list | tuple):
        return [Path(path) for path in fetched]
    return [Path(fetched)]


async def _config_for(source: Any, provenance: str) -> dict[str, Any] | None:
    """The managed source's config with its secrets, for a `fetch` that takes `config`; None for one that does not.
    An `ingest_poll` item has no managed source: its fetch gets an empty config."""
    try:
        wanted = "config" in inspect.signature(source.fetch).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        wanted = False
    if not wanted:
        return None
    if not provenance.startswith("source:"):
        return {}
    row = await Source.get_or_none(id=int(provenance.removeprefix("source:")))
    if row is None:
        raise PermanentJobError(f"{provenance} was deleted: its item cannot be fetched without its config")
    return {**row.config, **row.secrets}


async def _call_source(call: Callable[[], Any]) -> Any:
    """Call a source method, sync or async. Its `PermanentFailure` (the runner's PermanentJobError) dead-letters
    the job; other errors are retried."""
    return await registry.call(call)


POLL_KIND = JobKind(name=POLL, run=run_poll, timeout=timedelta(minutes=10))
ITEM_KIND = JobKind(name=ITEM, run=run_item, timeout=timedelta(hours=2))
