"""sources, source, sourceKinds; createSource, updateSource, deleteSource, runSource (editors)."""

from __future__ import annotations

from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from cms.api.content.mutations import Deleted, DeleteResult
from cms.api.context import Info
from cms.api.errors import ForbiddenError, NotFoundError, ValidationError, typed_errors
from cms.api.ids import pk_of
from cms.api.ingest.types import Source, SourceKind, source_kinds
from cms.api.pagination import Connection, to_connection
from cms.auth.permissions import Role, require
from cms.ingest import sources
from cms.ingest.sources import SourceChanges

SourceResult = Annotated[Source | ValidationError | NotFoundError | ForbiddenError, strawberry.union("SourceResult")]


@strawberry.input
class CreateSourceInput:
    kind: str = strawberry.field(description="An installed ingest source plugin (see `sourceKinds`).")
    name: str
    program_id: strawberry.ID = strawberry.field(description="New episodes go into this program.")
    config: JSON = strawberry.field(description="Checked by the plugin; its secret fields are stored write-only.")
    schedule_minutes: int | None = strawberry.field(default=None, description="5 to 10080; null: only when asked.")
    enabled: bool = True
    auto_publish: bool = False


@strawberry.input
class UpdateSourceInput:
    name: str | None = strawberry.UNSET
    program_id: strawberry.ID | None = strawberry.UNSET
    config: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the config; a secret field left out keeps its value, one set to null removes it.",
    )
    schedule_minutes: int | None = strawberry.field(default=strawberry.UNSET, description="null: only when asked.")
    enabled: bool | None = strawberry.UNSET
    auto_publish: bool | None = strawberry.UNSET


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET and value is not None


def _config(value: Any) -> dict[str, Any] | None:
    return cast(dict[str, Any], value) if _given(value) else None


@strawberry.type
class SourceQuery:
    @strawberry.field(description="Editors: ingest sources, newest first.")
    async def sources(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Source]:
        page = await sources.list_sources(principal=info.context.principal, first=first, after=after)
        return to_connection(page, Source.from_model)

    @strawberry.field(description="Editors: one ingest source; null when missing or not visible to the caller.")
    async def source(self, info: Info, id: strawberry.ID) -> Source | None:
        found = await sources.get_source(principal=info.context.principal, id=pk_of(id, "Source"))
        return Source.from_model(found) if found else None

    @strawberry.field(description="Editors: the ingest source plugins installed, for `createSource`.")
    async def source_kinds(self, info: Info) -> list[SourceKind]:
        require(info.context.principal, Role.EDITOR)
        return source_kinds(dict(info.context.ingest_sources))


@strawberry.type
class SourceMutation:
    @strawberry.mutation(description="Add an ingest source; a scheduled one first runs within a minute.")
    @typed_errors
    async def create_source(self, info: Info, input: CreateSourceInput) -> SourceResult:
        changes = SourceChanges(
            name=input.name,
            program_id=pk_of(input.program_id, "Program", field="programId"),
            config=cast(dict[str, Any], input.config),  # the service refuses what is not a JSON object
            schedule_minutes=input.schedule_minutes,
            enabled=input.enabled,
            auto_publish=input.auto_publish,
        )
        created = await sources.create_source(
            actor=await info.context.actor(), kind=input.kind, changes=changes, installed=info.context.ingest_sources
        )
        return Source.from_model(created)

    @strawberry.mutation
    @typed_errors
    async def update_source(self, info: Info, id: strawberry.ID, input: UpdateSourceInput) -> SourceResult:
        changes = SourceChanges(
            name=input.name if _given(input.name) else None,
            program_id=pk_of(str(input.program_id), "Program", field="programId") if _given(input.program_id) else None,
            config=_config(input.config),
            schedule_minutes=input.schedule_minutes if _given(input.schedule_minutes) else None,
            clear_schedule=input.schedule_minutes is None,
            enabled=input.enabled if _given(input.enabled) else None,
            auto_publish=input.auto_publish if _given(input.auto_publish) else None,
        )
        updated = await sources.update_source(
            actor=await info.context.actor(),
            id=pk_of(id, "Source"),
            changes=changes,
            installed=info.context.ingest_sources,
        )
        return Source.from_model(updated)

    @strawberry.mutation(description="Delete a source and its runs; the episodes it brought in stay.")
    @typed_errors
    async def delete_source(self, info: Info, id: strawberry.ID) -> DeleteResult:
        await sources.delete_source(actor=await info.context.actor(), id=pk_of(id, "Source"))
        return Deleted(id=id)

    @strawberry.mutation(description="Run the source now (refused while one of its runs is in progress).")
    @typed_errors
    async def run_source(self, info: Info, id: strawberry.ID) -> SourceResult:
        source = await sources.request_run(actor=await info.context.actor(), id=pk_of(id, "Source"))
        return Source.from_model(source)
