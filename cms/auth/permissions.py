"""Who may do what: the one way services check a caller's role (viewer < editor < admin)."""

from __future__ import annotations

from enum import StrEnum

from cms.auth.principal import Principal
from cms.core.errors import Forbidden


class Role(StrEnum):
    VIEWER = "viewer"  # signed in with any CMS role: reads what the public cannot, comments
    EDITOR = "editor"  # content, media, uploads, jobs
    ADMIN = "admin"  # everything: audit log, search status, dead-letter retries


def allowed(principal: Principal | None, role: Role) -> bool:
    """Whether the caller holds `role` or a higher one (for reads that show nothing rather than refuse)."""
    if principal is None:
        return False
    if role is Role.ADMIN:
        return principal.is_admin
    if role is Role.EDITOR:
        return principal.is_editor
    return principal.is_viewer


def require(principal: Principal | None, role: Role) -> Principal:
    """The caller, when they hold `role` or a higher one; Forbidden saying what is missing otherwise."""
    if principal is None:
        raise Forbidden("sign in required" if role is Role.VIEWER else f"{role.value} role required: sign in")
    if not principal.is_viewer:
        raise Forbidden("your account has no CMS role")
    if not allowed(principal, role):
        raise Forbidden(f"{role.value} role required")
    return principal
