"""Unexpected errors reach clients as a correlation id only; domain errors keep their message and a code."""

from __future__ import annotations

import logging

import asyncpg
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from cms.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from cms.core.unavailable import RETRY_AFTER_SECONDS, message, unavailable_part

log = logging.getLogger("cms.api")

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
_CODES = {Invalid: "BAD_USER_INPUT", Conflict: "CONFLICT", NotFound: "NOT_FOUND", Forbidden: "FORBIDDEN"}


def _unstorable_text(exc: BaseException | None) -> bool:
    """NUL or unpaired surrogates in a string argument: PostgreSQL (or its driver) cannot take them."""
    while exc is not None:
        if isinstance(exc, (UnicodeEncodeError, asyncpg.exceptions.CharacterNotInRepertoireError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, (DomainError, GraphQLError))


class CorrelatedMaskErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: True)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return mask(error, getattr(self.execution_context.context, "request_id", None))


def mask(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """What the client may see of `error`: domain errors with their code, outages said plainly, anything
    unexpected as a correlation id (logged here with its traceback)."""
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, object] = {"code": _CODES.get(type(original), "BAD_REQUEST")}
        if isinstance(original, Invalid):
            extensions["fields"] = original.problems
        return GraphQLError(
            original.message, error.nodes, error.source, error.positions, error.path, extensions=extensions
        )
    part = unavailable_part(original)
    if part is not None:
        # An outage, not a bug: said plainly (cms/http/graphql.py answers 503 with Retry-After), logged briefly.
        log.warning("%s unavailable in %s [request %s]: %r", part, error.path, request_id, original)
        return GraphQLError(
            message(part),
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={"code": SERVICE_UNAVAILABLE, "service": part, "retryAfter": RETRY_AFTER_SECONDS},
        )
    if _unstorable_text(original):
        return GraphQLError(
            "text arguments must not contain NUL characters or unpaired surrogates",
            error.nodes,
            error.source,
            error.positions,
            error.path,
            extensions={"code": "BAD_USER_INPUT"},
        )
    if not _is_unexpected(error):
        return error
    log.error("unexpected error in %s [request %s]", error.path, request_id, exc_info=original)
    return GraphQLError(
        f"Unexpected error; quote correlation id {request_id} when reporting it.",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": request_id},
    )
