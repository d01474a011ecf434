"""Typed errors returned inside mutation result unions, and the mapping from domain errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry

from cms.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

T = TypeVar("T")


@strawberry.interface(description="A problem the client can act on.")
class Error:
    message: str


@strawberry.type(description="One invalid input field; `path` starts at the mutation's arguments.")
class FieldError:
    path: list[str]
    message: str


@strawberry.type
class ValidationError(Error):
    fields: list[FieldError]


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type
class ForbiddenError(Error):
    pass


def _path(field: str, input_arg: str | None) -> list[str]:
    # Problems on arguments outside the input object (id, at) keep their own name.
    if input_arg is None or field in ("id", "at"):
        return [field]
    return [input_arg, field]


def as_error(exc: DomainError, *, input_arg: str | None = "input") -> Error:
    if isinstance(exc, Invalid):
        fields = [FieldError(path=_path(f, input_arg), message=m) for f, m in exc.problems.items()]
        return ValidationError(message="invalid input", fields=fields)
    if isinstance(exc, Conflict):
        field = exc.field or "input"
        return ValidationError(
            message=exc.message, fields=[FieldError(path=_path(field, input_arg), message=exc.message)]
        )
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message)
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.message)
    raise exc


async def result_or_error(call: Awaitable[T], *, input_arg: str | None = "input") -> T | Error:
    """Await a service call; domain errors become typed errors, anything else propagates (and is masked)."""
    try:
        return await call
    except (Invalid, Conflict, NotFound, Forbidden) as exc:
        return as_error(exc, input_arg=input_arg)
