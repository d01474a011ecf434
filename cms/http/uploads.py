"""PUT /uploads/{id}: the direct upload path, streamed to staging with flat memory."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from cms.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, UnsupportedMedia
from cms.http.auth import principal_of
from cms.media import uploads

_STATUS = {TooLarge: 413, UnsupportedMedia: 415, NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 400}


def _status(exc: DomainError, signed_in: bool) -> int:
    if isinstance(exc, Forbidden) and not signed_in:
        return 401
    return next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)


async def receive_upload(request: Request) -> JSONResponse:
    principal = principal_of(request)
    try:
        upload_id = uuid.UUID(request.path_params["upload_id"])
        length = request.headers.get("content-length")
        upload = await uploads.receive_direct(
            principal=principal,
            storage=request.app.state.storage,
            settings=request.app.state.settings,
            upload_id=upload_id,
            chunks=request.stream(),
            content_length=int(length) if length else None,
        )
    except ValueError:
        return JSONResponse({"error": "malformed upload id or Content-Length"}, 400)
    except DomainError as exc:
        # Close the connection: the rest of the body is not read.
        headers = {"Connection": "close"} if isinstance(exc, (TooLarge, UnsupportedMedia)) else None
        return JSONResponse({"error": exc.message, **_fields(exc)}, _status(exc, principal is not None), headers)
    return JSONResponse({"id": str(upload.id), "status": upload.status.value, "sha256": upload.received_sha256})


def _fields(exc: DomainError) -> dict:
    return {"fields": exc.problems} if isinstance(exc, Invalid) else {}
