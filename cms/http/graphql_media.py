"""GraphQL over HTTP media types: which one a client gets, and request errors in it.

Why: the spec's `application/graphql-response+json` lets a client tell a request error (4xx, no `data`) from a
partial result; clients that ask for `application/json` (or name no type) keep the legacy 200-with-errors answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Scope

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_LEGACY = (JSON, "application/*", "*/*")
_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def response_media_type(accept: str | None) -> str:
    """The media type to answer in: graphql-response+json only when the client names it and prefers it (by q,
    then by order) to application/json, application/* and */*; application/json otherwise (the spec's legacy
    default, also when nothing listed is acceptable)."""
    best: tuple[float, int, str] | None = None
    for index, item in enumerate((accept or "").split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        if media != GRAPHQL_RESPONSE and media not in _LEGACY:
            continue
        quality = _quality(params)
        if quality <= 0:
            continue
        if best is None or (quality, -index) > (best[0], best[1]):
            best = (quality, -index, GRAPHQL_RESPONSE if media == GRAPHQL_RESPONSE else JSON)
    return best[2] if best else JSON


def media_type_of(scope: Scope) -> str:
    """`response_media_type` for a request's Accept header (several are joined, as HTTP allows)."""
    accepts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"accept"]
    return response_media_type(", ".join(accepts) or None)


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE else media_type


def error_response(status: int, message: str, *, media_type: str, headers: Mapping[str, str] | None = None) -> Response:
    """A request error as the spec shapes it: `errors` only, never `data` (nothing was executed)."""
    error = {"message": message, "extensions": {"code": _CODES.get(status, "BAD_REQUEST")}}
    body = json.dumps({"errors": [error]}, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status, headers=dict(headers or {}), media_type=content_type(media_type))


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
