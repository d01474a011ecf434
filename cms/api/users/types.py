"""The User type: people are visible by name; email only to themselves and admins."""

from __future__ import annotations

import strawberry

from cms.api.context import Info
from cms.api.ids import to_global_id
from cms.api.node import Node
from cms.auth.permissions import Role, allowed
from cms.users import models as m


@strawberry.type
class User(Node):
    display_name: str | None
    roles: list[str]
    subject_: strawberry.Private[str]
    email_: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, u: m.User) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", u.id)),
            display_name=u.display_name,
            roles=list(u.roles),
            subject_=u.subject,
            email_=u.email,
        )

    @strawberry.field(description="Shown to the user themselves and to admins.")
    def email(self, info: Info) -> str | None:
        principal = info.context.principal
        if allowed(principal, Role.ADMIN) or (principal is not None and principal.subject == self.subject_):
            return self.email_
        return None
