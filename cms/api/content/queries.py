"""Read side of the content API."""

from __future__ import annotations

import strawberry

from cms.api.content.inputs import (
    EpisodeFilter,
    EpisodeOrder,
    ProgramFilter,
    ProgramOrder,
    episode_ordering,
    program_ordering,
)
from cms.api.content.preload import EpisodeRelations, selected_fields
from cms.api.content.types import Episode, Program, episode_connection
from cms.api.context import Info
from cms.api.ids import pk_of
from cms.api.pagination import Connection, to_connection
from cms.content import episodes, programs


@strawberry.type
class ContentQuery:
    @strawberry.field(
        description="Programs visible to the caller (the public sees published ones whose time has come)."
    )
    async def programs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ProgramFilter | None = None,
        order_by: ProgramOrder | None = None,
    ) -> Connection[Program]:
        page = await programs.list_programs(
            principal=info.context.principal,
            first=first,
            after=after,
            filter=(filter or ProgramFilter()).to_domain(),
            order=program_ordering(order_by),
        )
        return to_connection(page, Program.from_model)

    @strawberry.field(description="One program by id or slug; null when missing or not visible.")
    async def program(self, info: Info, id: strawberry.ID | None = None, slug: str | None = None) -> Program | None:
        pk = pk_of(id, "Program") if id is not None else None
        found = await programs.get_program(principal=info.context.principal, id=pk, slug=slug)
        return Program.from_model(found) if found else None

    @strawberry.field
    async def episodes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: EpisodeFilter | None = None,
        order_by: EpisodeOrder | None = None,
    ) -> Connection[Episode]:
        page = await episodes.list_episodes(
            principal=info.context.principal,
            first=first,
            after=after,
            filter=(filter or EpisodeFilter()).to_domain(),
            order=episode_ordering(order_by),
        )
        return await episode_connection(info, page)

    @strawberry.field
    async def episode(self, info: Info, id: strawberry.ID) -> Episode | None:
        with_program = "program" in selected_fields(info)
        found = await episodes.get_episode(
            principal=info.context.principal, id=pk_of(id, "Episode"), with_program=with_program
        )
        if found is None:
            return None
        return Episode.from_model(found, EpisodeRelations(program=found.program) if with_program else None)
