"""Root fields that cross domains: node lookup and the signed-in viewer."""

from __future__ import annotations

import strawberry

from cms.api.audit.types import AuditEntry
from cms.api.content.types import Comment, Episode, Program
from cms.api.context import Info
from cms.api.ids import from_global_id
from cms.api.media.jobs import Job
from cms.api.media.types import Asset
from cms.api.node import Node
from cms.api.users.types import User
from cms.audit import service as audit
from cms.content import comments, episodes, programs
from cms.jobstore import service as jobstore
from cms.media import service as media
from cms.users import service as users


async def _lookup(info: Info, type_name: str, pk: int) -> Node | None:
    principal = info.context.principal
    if type_name == "Program":
        found = await programs.get_program(principal=principal, id=pk)
        return Program.from_model(found) if found else None
    if type_name == "Episode":
        found = await episodes.get_episode(principal=principal, id=pk)
        return Episode.from_model(found) if found else None
    if type_name == "Asset":
        found = await media.get_asset(principal=principal, id=pk)
        return Asset.from_model(found) if found else None
    if type_name == "Comment":
        found = await comments.get_comment(principal=principal, id=pk)
        return Comment.from_model(found) if found else None
    if type_name == "User":
        found = await users.get_user(principal=principal, id=pk)
        return User.from_model(found) if found else None
    if type_name == "Job":
        found = await jobstore.get_job(principal=principal, id=pk)
        return Job.from_model(found) if found else None
    found = await audit.get_entry(principal=principal, id=pk)
    return AuditEntry.from_model(found) if found else None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null when missing or not visible to the caller.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(id)
        return await _lookup(info, type_name, pk)

    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        actor = await info.context.actor()
        return User.from_model(actor.user) if actor else None
