"""Who ingest and imports act as: editor identities of their own, so the audit trail says where episodes came from."""

from __future__ import annotations

from cms.auth.principal import Principal
from cms.users.actors import Actor
from cms.users.service import ensure_user


async def system_actor(subject: str, name: str) -> Actor:
    principal = Principal(subject=subject, roles=frozenset({"editor"}), name=name)
    return Actor(principal=principal, user=await ensure_user(principal=principal))


async def source_actor(kind: str) -> Actor:
    """An ingest source's identity (`system:ingest:<kind>`)."""
    return await system_actor(f"system:ingest:{kind}", f"Ingest ({kind})")


async def import_actor() -> Actor:
    """The folder and S3 imports' identity (also the publisher of their `--publish` episodes)."""
    return await system_actor("system:import:folder", "Folder import")
