"""Turn an identity provider's role claims into CMS roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cms.core.settings import CMS_ROLES

# Tried in order when OIDC_ROLES_CLAIM is unset: Keycloak realm roles, a flat
# `roles` claim (Authentik, Azure AD, the dev issuer), then `groups`.
DEFAULT_ROLE_CLAIMS = ("realm_access.roles", "roles", "groups")

_MISSING = object()


def roles_from_claims(
    claims: Mapping[str, Any], *, roles_claim: str | None, role_map: Mapping[str, str]
) -> frozenset[str]:
    """CMS roles granted by `claims`; unknown roles are dropped, never an error."""
    paths = (roles_claim,) if roles_claim else DEFAULT_ROLE_CLAIMS
    for path in paths:
        value = _lookup(claims, path)
        if value is not _MISSING:
            return _map_roles(_as_names(value), role_map)
    return frozenset()


def _lookup(claims: Mapping[str, Any], path: str) -> Any:
    """Follow a dot path through nested objects; _MISSING when any step is absent."""
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return _MISSING if node is None else node


def _as_names(value: Any) -> list[str]:
    # IdPs send either a JSON list or one space/comma separated string (like `scope`).
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, (list, tuple)):
        return [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return []


def _map_roles(names: Iterable[str], role_map: Mapping[str, str]) -> frozenset[str]:
    roles: set[str] = set()
    for name in names:
        # Keycloak group paths look like "/editors": match the map on either spelling.
        bare = name.lstrip("/")
        role = (role_map.get(name) or role_map.get(bare)) if role_map else bare
        if role in CMS_ROLES:
            roles.add(role)
    return frozenset(roles)
