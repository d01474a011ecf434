"""Who is acting: the validated principal, their user row, and the request they act in."""

from __future__ import annotations

from dataclasses import dataclass

from cms.auth.permissions import Role, require
from cms.auth.principal import Principal
from cms.users.models import User


@dataclass(frozen=True)
class Actor:
    principal: Principal
    user: User
    request_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def is_editor(self) -> bool:
        return self.principal.is_editor


def require_actor(actor: Actor | None, role: Role) -> Actor:
    """The acting caller, when they hold `role` or a higher one (cms.auth.permissions.require)."""
    require(actor.principal if actor is not None else None, role)
    assert actor is not None  # require() refuses anonymous callers
    return actor
