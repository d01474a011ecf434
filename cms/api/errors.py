"""Typed errors returned inside mutation result unions, and the mapping from domain errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import strawberry

from cms.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

T = TypeVar("T")
P = ParamSpec("P")


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
    # A dotted problem names a field inside a field: "config.url" is ["input", "config", "url"].
    # Problems on arguments outside the input object (id, at) keep their own name.
    inside = field.split(".")
    if input_arg is None or field in ("id", "at"):
        return inside
    return [input_arg, *inside]


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


def typed_errors(resolver: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T | Error]]:
    """Decorate a mutation resolver (under `@strawberry.mutation`): the domain errors it raises become the typed
    errors of its result union (paths into its `input` argument); anything else propagates (and is masked)."""

    @functools.wraps(resolver)
    async def resolve(*args: P.args, **kwargs: P.kwargs) -> T | Error:
        try:
            return await resolver(*args, **kwargs)
        except (Invalid, Conflict, NotFound, Forbidden) as exc:
            return as_error(exc, input_arg="input")

    return resolve
