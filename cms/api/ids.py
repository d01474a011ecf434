"""Relay global ids: base64url of `TypeName:number`, opaque to clients."""

from __future__ import annotations

import base64
import binascii

from cms.core.errors import Invalid

NODE_TYPES = ("Program", "Episode", "Asset", "Comment", "User", "AuditEntry", "Job", "Source", "SourceRun")


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, int]:
    """Split a global id into (type name, pk); anything malformed is a validation problem on `field`."""
    try:
        if len(global_id) > 128:
            raise ValueError
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        if type_name not in NODE_TYPES or not pk.isascii() or not pk.isdigit() or len(pk) > 18:
            raise ValueError
        return type_name, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid({field: "is not a valid id"}) from None


def pk_of(global_id: str, expected: str | tuple[str, ...], *, field: str = "id") -> int:
    type_name, pk = from_global_id(global_id, field=field)
    allowed = (expected,) if isinstance(expected, str) else expected
    if type_name not in allowed:
        raise Invalid({field: f"must be the id of a {' or '.join(allowed)}"})
    return pk
