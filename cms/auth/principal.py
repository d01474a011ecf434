"""Who is calling: the identity and CMS roles taken from a validated token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; anonymous callers have no Principal at all."""

    subject: str
    roles: frozenset[str]
    name: str | None = None
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_editor(self) -> bool:
        # Admins may do everything editors may.
        return self.is_admin or "editor" in self.roles

    @property
    def is_viewer(self) -> bool:
        # "viewer" means signed in with any CMS role.
        return bool(self.roles)
