"""Write side of the content API: check, call a service, map the result or its typed error."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry

from cms.api.content.inputs import (
    AddCommentInput,
    CreateEpisodeInput,
    CreateProgramInput,
    UpdateEpisodeInput,
    UpdateProgramInput,
)
from cms.api.content.types import Comment, Episode, Program
from cms.api.context import Info
from cms.api.errors import ForbiddenError, NotFoundError, ValidationError, typed_errors
from cms.api.ids import from_global_id, pk_of
from cms.content import comments, episodes, programs
from cms.core.errors import Invalid


@strawberry.type
class Deleted:
    id: strawberry.ID


ProgramResult = Annotated[Program | ValidationError | NotFoundError | ForbiddenError, strawberry.union("ProgramResult")]
EpisodeResult = Annotated[Episode | ValidationError | NotFoundError | ForbiddenError, strawberry.union("EpisodeResult")]
CommentResult = Annotated[Comment | ValidationError | NotFoundError | ForbiddenError, strawberry.union("CommentResult")]
DeleteResult = Annotated[Deleted | ValidationError | NotFoundError | ForbiddenError, strawberry.union("DeleteResult")]


def _target(global_id: str) -> comments.Target:
    kind, pk = from_global_id(global_id, field="targetId")
    if kind not in ("Episode", "Asset"):
        raise Invalid({"targetId": "must be the id of an Episode or Asset"})
    return comments.Target(cast(comments.TargetKind, kind.lower()), pk)


@strawberry.type
class ContentMutation:
    @strawberry.mutation
    @typed_errors
    async def create_program(self, info: Info, input: CreateProgramInput) -> ProgramResult:
        actor = await info.context.actor()
        return Program.from_model(await programs.create_program(actor=actor, changes=input.changes()))

    @strawberry.mutation
    @typed_errors
    async def update_program(self, info: Info, id: strawberry.ID, input: UpdateProgramInput) -> ProgramResult:
        pk, changes = pk_of(id, "Program"), input.changes()
        actor = await info.context.actor()
        return Program.from_model(await programs.update_program(actor=actor, id=pk, changes=changes))

    @strawberry.mutation
    @typed_errors
    async def delete_program(self, info: Info, id: strawberry.ID) -> DeleteResult:
        pk = pk_of(id, "Program")
        await programs.delete_program(actor=await info.context.actor(), id=pk)
        return Deleted(id=id)

    @strawberry.mutation(description="Publish now, or at `at` (the item appears to the public once that time passes).")
    @typed_errors
    async def publish_program(self, info: Info, id: strawberry.ID, at: datetime | None = None) -> ProgramResult:
        pk = pk_of(id, "Program")
        return Program.from_model(await programs.publish_program(actor=await info.context.actor(), id=pk, at=at))

    @strawberry.mutation
    @typed_errors
    async def unpublish_program(self, info: Info, id: strawberry.ID) -> ProgramResult:
        pk = pk_of(id, "Program")
        return Program.from_model(await programs.unpublish_program(actor=await info.context.actor(), id=pk))

    @strawberry.mutation
    @typed_errors
    async def create_episode(self, info: Info, input: CreateEpisodeInput) -> EpisodeResult:
        program_pk, changes = pk_of(input.program_id, "Program", field="programId"), input.changes()
        actor = await info.context.actor()
        return Episode.from_model(await episodes.create_episode(actor=actor, program_id=program_pk, changes=changes))

    @strawberry.mutation
    @typed_errors
    async def update_episode(self, info: Info, id: strawberry.ID, input: UpdateEpisodeInput) -> EpisodeResult:
        pk, changes = pk_of(id, "Episode"), input.changes()
        actor = await info.context.actor()
        return Episode.from_model(await episodes.update_episode(actor=actor, id=pk, changes=changes))

    @strawberry.mutation
    @typed_errors
    async def delete_episode(self, info: Info, id: strawberry.ID) -> DeleteResult:
        pk = pk_of(id, "Episode")
        await episodes.delete_episode(actor=await info.context.actor(), id=pk)
        return Deleted(id=id)

    @strawberry.mutation
    @typed_errors
    async def publish_episode(self, info: Info, id: strawberry.ID, at: datetime | None = None) -> EpisodeResult:
        pk = pk_of(id, "Episode")
        return Episode.from_model(await episodes.publish_episode(actor=await info.context.actor(), id=pk, at=at))

    @strawberry.mutation
    @typed_errors
    async def unpublish_episode(self, info: Info, id: strawberry.ID) -> EpisodeResult:
        pk = pk_of(id, "Episode")
        return Episode.from_model(await episodes.unpublish_episode(actor=await info.context.actor(), id=pk))

    @strawberry.mutation(description="Post a time-coded comment on an episode or asset, optionally replying to one.")
    @typed_errors
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentResult:
        target = _target(input.target_id)
        parent = pk_of(input.parent_id, "Comment", field="parentId") if input.parent_id else None
        comment = await comments.add_comment(
            actor=await info.context.actor(),
            target=target,
            body=input.body,
            timecode=input.timecode,
            parent_id=parent,
        )
        return Comment.from_model(comment)

    @strawberry.mutation
    @typed_errors
    async def resolve_comment(self, info: Info, id: strawberry.ID) -> CommentResult:
        pk = pk_of(id, "Comment")
        return Comment.from_model(await comments.resolve_comment(actor=await info.context.actor(), id=pk))

    @strawberry.mutation
    @typed_errors
    async def delete_comment(self, info: Info, id: strawberry.ID) -> DeleteResult:
        pk = pk_of(id, "Comment")
        await comments.delete_comment(actor=await info.context.actor(), id=pk)
        return Deleted(id=id)
