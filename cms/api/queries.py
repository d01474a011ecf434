"""Root fields that cross domains: node lookup and the signed-in viewer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from cms.api.audit.types import AuditEntry
from cms.api.content.types import Comment, Episode, Program
from cms.api.context import Info
from cms.api.ids import NODE_TYPES, from_global_id
from cms.api.ingest.types import Source, SourceRun
from cms.api.media.jobs import Job
from cms.api.media.types import Asset
from cms.api.node import Node
from cms.api.users.types import User
from cms.audit import service as audit
from cms.content import comments, episodes, programs
from cms.ingest import sources as ingest_sources
from cms.media import service as media
from cms.users import service as users
from jobs.store import service as jobstore

# Node type -> (the service call that returns the row when the caller may see it, the GraphQL type that shows it).
_NODES: dict[str, tuple[Callable[..., Awaitable[Any]], Any]] = {
    "Program": (programs.get_program, Program),
    "Episode": (episodes.get_episode, Episode),
    "Asset": (media.get_asset, Asset),
    "Comment": (comments.get_comment, Comment),
    "User": (users.get_user, User),
    "Job": (jobstore.get_job, Job),
    "AuditEntry": (audit.get_entry, AuditEntry),
    "Source": (ingest_sources.get_source, Source),
    "SourceRun": (ingest_sources.get_run, SourceRun),
}
assert set(_NODES) == set(NODE_TYPES), "every node type needs a lookup"


async def _lookup(info: Info, type_name: str, pk: int) -> Node | None:
    get, node_type = _NODES[type_name]
    found = await get(principal=info.context.principal, id=pk)
    return node_type.from_model(found) if found else None


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
