"""GraphQL types of ingest sources and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from cms.api.context import Info
from cms.api.ids import to_global_id
from cms.api.node import Node
from cms.api.pagination import Connection, to_connection
from cms.ingest import models as m
from cms.ingest import registry, sources
from cms.plugins.hookspecs import ConfigField, ConfigFieldType

RunStatus = m.RunStatus
strawberry.enum(RunStatus, name="SourceRunStatus")
strawberry.enum(ConfigFieldType, name="SourceConfigFieldType", description="What a source's config field holds.")


@strawberry.type(description="A problem with one item of a run: it failed, or upstream no longer lists it.")
class SourceRunProblem:
    external_id: str
    reason: str


@strawberry.type(description="One run of a source: what it found and what it did with it.")
class SourceRun(Node):
    status: RunStatus
    trigger: str = strawberry.field(description="`schedule` or `manual` (runSource).")
    started_at: datetime
    finished_at: datetime | None
    found: int
    created: int = strawberry.field(description="New items: a draft episode each, its media on the way.")
    updated: int = strawberry.field(description="Items changed upstream: their episodes were updated.")
    skipped: int = strawberry.field(description="Items already here and unchanged, or still being brought in.")
    failed: int
    gone: int = strawberry.field(description="Episodes from this source whose items upstream no longer lists (kept).")
    problems: list[SourceRunProblem]
    error: str | None = strawberry.field(description="Why the run as a whole failed.")

    @classmethod
    def from_model(cls, r: m.SourceRun) -> SourceRun:
        return cls(
            id=strawberry.ID(to_global_id("SourceRun", r.id)),
            status=r.status,
            trigger=r.trigger,
            started_at=r.started_at,
            finished_at=r.finished_at,
            found=r.found,
            created=r.created,
            updated=r.updated,
            skipped=r.skipped,
            failed=r.failed,
            gone=r.gone,
            problems=[SourceRunProblem(external_id=p["external_id"], reason=p["reason"]) for p in r.problems],
            error=r.error,
        )


@strawberry.type(description="Where episodes come from: a feed, a channel... run by the worker on its schedule.")
class Source(Node):
    kind: str = strawberry.field(description="The ingest source plugin, e.g. `rss`.")
    name: str
    program_id: strawberry.ID
    config: JSON = strawberry.field(description="As the plugin checked it; secret fields are never shown.")
    secrets_set: list[str] = strawberry.field(description="The secret config fields that have a value.")
    schedule_minutes: int | None = strawberry.field(description="Minutes between runs; null: only when asked.")
    enabled: bool
    auto_publish: bool = strawberry.field(description="Publish each new episode once its media is ready.")
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, s: m.Source) -> Source:
        return cls(
            id=strawberry.ID(to_global_id("Source", s.id)),
            kind=s.kind,
            name=s.name,
            program_id=strawberry.ID(to_global_id("Program", s.program_id)),
            config=cast(JSON, s.config),
            secrets_set=sorted(s.secrets),
            schedule_minutes=s.schedule_minutes,
            enabled=s.enabled,
            auto_publish=s.auto_publish,
            next_run_at=s.next_run_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
            _pk=s.id,
        )

    @strawberry.field(description="The latest run, if any.")
    async def last_run(self, info: Info) -> SourceRun | None:
        run = await info.context.loaders.last_source_run.load(self._pk)
        return SourceRun.from_model(run) if run is not None else None

    @strawberry.field(description="Runs, newest first.")
    async def runs(self, first: int | None = None, after: str | None = None) -> Connection[SourceRun]:
        page = await sources.list_runs(source_id=self._pk, first=first, after=after)
        return to_connection(page, SourceRun.from_model)


@strawberry.type(description="One config field of a source kind, as its plugin describes it: a form's field.")
class SourceConfigField:
    name: str = strawberry.field(description="The config key.")
    label: str
    type: ConfigFieldType
    required: bool = strawberry.field(
        description="The plugin refuses a config without it (on update, a secret already set counts as given)."
    )
    help: str = strawberry.field(description="What to give, for editors; may be empty.")
    choices: list[str] = strawberry.field(description="The values a CHOICE field takes; empty for other types.")
    default: JSON | None = strawberry.field(description="What the plugin uses when the field is left out; null: none.")
    min: int | None = strawberry.field(description="The least value of an INTEGER field, if bounded.")
    max: int | None = strawberry.field(description="The greatest value of an INTEGER field, if bounded.")
    secret: bool = strawberry.field(description="Write-only: never shown back (see `Source.secretsSet`).")

    @classmethod
    def from_field(cls, f: ConfigField) -> SourceConfigField:
        return cls(
            name=f.name,
            label=f.label,
            type=f.type,
            required=f.required,
            help=f.help,
            choices=list(f.choices),
            default=cast(JSON, f.default),
            min=f.min,
            max=f.max,
            secret=f.secret,
        )


@strawberry.type(description="An ingest source plugin installed in this CMS.")
class SourceKind:
    kind: str
    label: str = strawberry.field(description="The kind's name for editors (the kind itself when the plugin has none).")
    description: str = strawberry.field(description="A note about the kind's config for editors; may be empty.")
    config_fields: list[SourceConfigField] = strawberry.field(
        description="The config described field by field, in the plugin's order; empty when the plugin does not "
        "describe it (then `config` is a JSON object only the plugin's documentation describes)."
    )
    secret_fields: list[str] = strawberry.field(description="Config fields that are write-only.")


def source_kinds(installed: dict[str, object]) -> list[SourceKind]:
    return [
        SourceKind(
            kind=kind,
            label=registry.label(kind, source),
            description=registry.description(source),
            config_fields=[SourceConfigField.from_field(f) for f in registry.config_fields(source)],
            secret_fields=sorted(registry.secret_fields(source)),
        )
        for kind, source in sorted(installed.items())
    ]
