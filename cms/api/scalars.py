"""Custom scalars, registered on the schema through `SCALAR_MAP`.

Parse errors say what was expected, with an example, and echo the value as JSON: never a Python message
(`invalid literal for int() ...`). They raise GraphQLError, so they are client errors, not masked as internal ones.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NewType

import dateutil.parser
import strawberry
from strawberry.types.scalar import ScalarDefinition

from graphql import GraphQLError

BigInt = NewType("BigInt", int)

_DATETIME_EXAMPLE = "2026-01-31T12:00:00Z"


def _shown(value: object, limit: int = 60) -> str:
    """The value as the client wrote it (JSON), cut short when long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _parse_big_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
        raise GraphQLError(
            f"Expected a whole number (a JSON number or a decimal string) such as 1073741824, got {_shown(value)}"
        )
    return int(value)


def _parse_datetime(value: object) -> datetime:
    if isinstance(value, str):
        try:
            parsed: datetime = dateutil.parser.isoparse(value)
            return parsed
        except (ValueError, OverflowError):
            pass
    raise GraphQLError(f"Expected an ISO 8601 date-time such as {_DATETIME_EXAMPLE}, got {_shown(value)}")


SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number that may exceed 32 bits (byte sizes); a JSON number or a decimal string.",
        serialize=int,
        parse_value=_parse_big_int,
    ),
    # Strawberry's own DateTime (same name, description and format), with a message for people on bad input.
    datetime: strawberry.scalar(
        name="DateTime",
        description="Date with time (isoformat)",
        serialize=datetime.isoformat,
        parse_value=_parse_datetime,
    ),
}
