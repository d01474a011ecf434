"""Users are created or refreshed from their OIDC identity when they first act."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from cms.auth.principal import Principal
from cms.users.models import User


async def ensure_user(*, principal: Principal) -> User:
    """Return the user row for this subject, creating it or refreshing name, email and roles."""
    roles = sorted(principal.roles)
    user = await User.get_or_none(subject=principal.subject)
    if user is None:
        try:
            return await User.create(
                subject=principal.subject, display_name=principal.name, email=principal.email, roles=roles
            )
        except IntegrityError:  # a concurrent first request created it
            user = await User.get(subject=principal.subject)
    if (user.display_name, user.email, list(user.roles)) != (principal.name, principal.email, roles):
        user.display_name, user.email, user.roles = principal.name, principal.email, roles
        await user.save(update_fields=["display_name", "email", "roles", "last_seen_at"])
    return user


async def users_by_ids(*, ids: list[int]) -> dict[int, User]:
    return {u.id: u for u in await User.filter(id__in=ids)}


async def get_user(*, principal: Principal | None, id: int) -> User | None:
    """Signed-in callers may look people up (comment authors); the public may not."""
    return await User.get_or_none(id=id) if principal is not None else None
