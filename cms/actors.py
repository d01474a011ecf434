"""Who is acting: the validated principal, their user row, and the request they act in."""

from __future__ import annotations

from dataclasses import dataclass

from cms.auth.principal import Principal
from cms.errors import Forbidden
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


def can_edit(principal: Principal | None) -> bool:
    return principal is not None and principal.is_editor


def require_signed_in(actor: Actor | None) -> Actor:
    """A signed-in caller holding at least one CMS role (a token with none grants reading only)."""
    if actor is None:
        raise Forbidden("sign in required")
    if not actor.principal.is_viewer:
        raise Forbidden("your account has no CMS role")
    return actor


def require_editor(actor: Actor | None) -> Actor:
    actor = require_signed_in(actor)
    if not actor.is_editor:
        raise Forbidden("editor role required")
    return actor


def require_admin(principal: Principal | None) -> None:
    if principal is None or not principal.is_admin:
        raise Forbidden("admin role required")
