"""The audit trail, readable by admins."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from cms.api.context import Info
from cms.api.ids import from_global_id, pk_of, to_global_id
from cms.api.node import Node
from cms.api.pagination import Connection, to_connection
from cms.api.users.types import User
from cms.audit import models as m
from cms.audit import service as audit


@strawberry.type
class AuditEntry(Node):
    action: str
    entity_type: str
    entity_id: strawberry.ID
    actor_subject: str | None
    before: JSON | None
    after: JSON | None
    request_id: str | None
    at: datetime
    actor_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, a: m.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(to_global_id("AuditEntry", a.id)),
            action=a.action,
            entity_type=a.entity_type,
            entity_id=strawberry.ID(to_global_id(a.entity_type, a.entity_id)),
            actor_subject=a.actor_subject,
            before=cast("JSON | None", a.before),
            after=cast("JSON | None", a.after),
            request_id=a.request_id,
            at=a.at,
            actor_pk=a.actor_id,
        )

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        found = await info.context.loaders.user_by_id.load(self.actor_pk) if self.actor_pk else None
        return User.from_model(found) if found else None


@strawberry.input
class AuditFilter:
    entity_id: strawberry.ID | None = strawberry.field(default=None, description="Any node's id.")
    actor_id: strawberry.ID | None = None
    action: str | None = strawberry.field(default=None, description="For example `program.publish`.")

    def to_domain(self) -> audit.AuditFilter:
        entity_type = entity_pk = None
        if self.entity_id:
            entity_type, entity_pk = from_global_id(self.entity_id, field="filter.entityId")
        actor_pk = pk_of(self.actor_id, "User", field="filter.actorId") if self.actor_id else None
        return audit.AuditFilter(entity_type=entity_type, entity_id=entity_pk, actor_id=actor_pk, action=self.action)


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Admins only: every mutation with who, what, when, before and after.")
    async def audit_entries(
        self, info: Info, first: int | None = None, after: str | None = None, filter: AuditFilter | None = None
    ) -> Connection[AuditEntry]:
        page = await audit.list_entries(
            principal=info.context.principal, first=first, after=after, filter=(filter or AuditFilter()).to_domain()
        )
        return to_connection(page, AuditEntry.from_model)
