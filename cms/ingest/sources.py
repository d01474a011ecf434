"""Sources editors manage: create, change, delete, list, and ask for a run now (the worker runs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from cms.audit.service import record_change, snapshot
from cms.auth.permissions import Role, allowed, require
from cms.auth.principal import Principal
from cms.content.models import Program
from cms.content.visibility import now
from cms.core.errors import Conflict, Invalid, NotFound
from cms.core.outbox import Event
from cms.core.pagination import Ordering, Page, paginate
from cms.ingest import registry
from cms.ingest.models import RunStatus, Source, SourceRun
from cms.users.actors import Actor, require_actor

NAME_MAX = 200
SCHEDULE_MINUTES = (5, 7 * 24 * 60)  # at most every 5 minutes, at least once a week
CONFIG_MAX_BYTES = 16 * 1024
HEARTBEAT_STALE = timedelta(minutes=2)  # a RUNNING run whose worker stopped beating this long ago is lost
_ORDER = Ordering("created", "created_at", descending=True)
_RUNS = Ordering("started", "started_at", descending=True)


@dataclass(frozen=True)
class SourceChanges:
    """What createSource/updateSource carry; None: not given (on update, keep it)."""

    name: str | None = None
    program_id: int | None = None
    config: Mapping[str, Any] | None = None
    schedule_minutes: int | None = None
    clear_schedule: bool = False  # scheduleMinutes: null on update: run only when asked
    enabled: bool | None = None
    auto_publish: bool | None = None


async def list_sources(*, principal: Principal | None, first: int | None, after: str | None) -> Page[Source]:
    require(principal, Role.EDITOR)
    return await paginate(Source.all(), ordering=_ORDER, first=first, after=after)


async def get_source(*, principal: Principal | None, id: int) -> Source | None:
    if not allowed(principal, Role.EDITOR):
        return None
    return await Source.get_or_none(id=id)


async def get_run(*, principal: Principal | None, id: int) -> SourceRun | None:
    if not allowed(principal, Role.EDITOR):
        return None
    return await SourceRun.get_or_none(id=id)


async def list_runs(*, source_id: int, first: int | None, after: str | None) -> Page[SourceRun]:
    """A source's runs, newest first (the caller has the source, so may see them)."""
    return await paginate(SourceRun.filter(source_id=source_id), ordering=_RUNS, first=first, after=after)


async def last_runs(*, source_ids: list[int]) -> dict[int, SourceRun]:
    """Each source's latest run, for a page of sources in one query."""
    rows = await SourceRun.filter(source_id__in=source_ids).order_by("source_id", "-started_at", "-id")
    latest: dict[int, SourceRun] = {}
    for run in rows:
        latest.setdefault(run.source_id, run)
    return latest


async def create_source(
    *, actor: Actor | None, kind: str, changes: SourceChanges, installed: Mapping[str, Any]
) -> Source:
    actor = require_actor(actor, Role.EDITOR)
    plugin = installed.get(kind)
    if plugin is None:
        names = ", ".join(sorted(installed)) or "none"
        raise Invalid({"kind": f"no ingest source named {kind!r} is installed (installed: {names})"})
    problems: dict[str, str] = {}
    name = _name(problems, changes.name, required=True)
    schedule = _schedule(problems, changes.schedule_minutes)
    if changes.program_id is None:
        problems["programId"] = "is required"
    if problems:
        raise Invalid(problems)
    program = await _program(changes.program_id)
    config, secrets = _split(plugin, changes.config or {}, {})
    source = Source(
        kind=kind,
        name=name,
        program=program,
        config=config,
        secrets=secrets,
        schedule_minutes=schedule,
        enabled=True if changes.enabled is None else changes.enabled,
        auto_publish=bool(changes.auto_publish),
    )
    source.next_run_at = _first_run(source)
    async with in_transaction():
        await source.save()
        await record_change(actor=actor, event=Event.SOURCE_CREATE, entity=source, before=None, after=_shown(source))
    return source


async def update_source(
    *, actor: Actor | None, id: int, changes: SourceChanges, installed: Mapping[str, Any]
) -> Source:
    actor = require_actor(actor, Role.EDITOR)
    async with in_transaction():
        source = await Source.select_for_update().get_or_none(id=id)
        if source is None:
            raise NotFound("source not found")
        before = _shown(source)
        problems: dict[str, str] = {}
        if changes.name is not None:
            source.name = _name(problems, changes.name, required=True)
        if changes.clear_schedule:
            source.schedule_minutes = None
        elif changes.schedule_minutes is not None:
            source.schedule_minutes = _schedule(problems, changes.schedule_minutes)
        if problems:
            raise Invalid(problems)
        if changes.program_id is not None:
            source.program = await _program(changes.program_id)
        if changes.config is not None:
            plugin = installed.get(source.kind)
            if plugin is None:
                raise Invalid({"config": f"the {source.kind!r} ingest source is not installed: it cannot check this"})
            source.config, source.secrets = _split(plugin, changes.config, source.secrets)
        if changes.enabled is not None:
            source.enabled = changes.enabled
        if changes.auto_publish is not None:
            source.auto_publish = changes.auto_publish
        source.next_run_at = _first_run(source) if source.next_run_at is None else source.next_run_at
        if not source.enabled or source.schedule_minutes is None:
            source.next_run_at = None
        await source.save()
        await record_change(actor=actor, event=Event.SOURCE_UPDATE, entity=source, before=before, after=_shown(source))
    return source


async def delete_source(*, actor: Actor | None, id: int) -> None:
    """The source and its runs go; the episodes it brought in stay (with their provenance)."""
    actor = require_actor(actor, Role.EDITOR)
    async with in_transaction():
        source = await Source.get_or_none(id=id)
        if source is None:
            raise NotFound("source not found")
        await record_change(actor=actor, event=Event.SOURCE_DELETE, entity=source, before=_shown(source), after=None)
        await source.delete()


async def request_run(*, actor: Actor | None, id: int) -> Source:
    """Run now: the worker's `ingest_run` job picks the request up; refused while a run is in progress."""
    actor = require_actor(actor, Role.EDITOR)
    async with in_transaction():
        source = await Source.select_for_update().get_or_none(id=id)
        if source is None:
            raise NotFound("source not found")
        if await running(source.id) is not None:
            raise Conflict("a run of this source is in progress")
        await record_change(actor=actor, event=Event.SOURCE_RUN, entity=source, before=None, after=None)
    return source


async def running(source_id: int) -> SourceRun | None:
    """The source's run in progress, if its worker is still alive."""
    return await SourceRun.filter(
        source_id=source_id, status=RunStatus.RUNNING, heartbeat_at__gte=now() - HEARTBEAT_STALE
    ).first()


def _shown(source: Source) -> dict[str, Any]:
    """The audit trail's view: everything but the secrets' values."""
    shown = snapshot(source) or {}
    shown.pop("secrets", None)
    shown.pop("state", None)
    shown["secrets_set"] = sorted(source.secrets)
    return shown


def _split(plugin: Any, given: Mapping[str, Any], secrets: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Secret fields go apart (null removes one, absent keeps it); the rest is checked by the plugin, with the
    secrets it needs to check it."""
    if not isinstance(given, Mapping):
        raise Invalid({"config": "must be a JSON object"})
    names = registry.secret_fields(plugin)
    kept = dict(secrets)
    for name in names & set(given):
        if given[name] is None:
            kept.pop(name, None)
        else:
            kept[name] = given[name]
    plain = {key: value for key, value in given.items() if key not in names}
    checked = registry.validate_config(plugin, {**plain, **kept})
    config = {key: value for key, value in checked.items() if key not in names}
    if len(repr(config)) > CONFIG_MAX_BYTES:
        raise Invalid({"config": f"is larger than {CONFIG_MAX_BYTES // 1024} KiB"})
    return config, {key: value for key, value in checked.items() if key in names}


def _name(problems: dict[str, str], name: str | None, *, required: bool) -> str:
    text = (name or "").strip()
    if required and not text:
        problems["name"] = "is required"
    elif len(text) > NAME_MAX:
        problems["name"] = f"must be at most {NAME_MAX} characters"
    return text


def _schedule(problems: dict[str, str], minutes: int | None) -> int | None:
    low, high = SCHEDULE_MINUTES
    if minutes is not None and not low <= minutes <= high:
        problems["scheduleMinutes"] = f"must be between {low} and {high} (or null: run only when asked)"
    return minutes


async def _program(program_id: int | None) -> Program:
    program = await Program.get_or_none(id=program_id) if program_id is not None else None
    if program is None:
        raise Invalid({"programId": "is not the id of a program"})
    return program


def _first_run(source: Source) -> datetime | None:
    """A scheduled source runs soon after it is created or enabled, then every `schedule_minutes`."""
    return now() if source.enabled and source.schedule_minutes is not None else None
