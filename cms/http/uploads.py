"""PUT /uploads/{id}: the direct upload path, streamed to staging with flat memory."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from cms.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, UnsupportedMedia
from cms.core.settings import Settings
from cms.http.auth import principal_of
from cms.media import uploads
from cms.media.storage import Storage

_STATUS = {TooLarge: 413, UnsupportedMedia: 415, NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 400}


def _status(exc: DomainError, signed_in: bool) -> int:
    if isinstance(exc, Forbidden) and not signed_in:
        return 401
    return next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)


def upload_receiver(settings: Settings, storage: Storage) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The `PUT /uploads/{upload_id}` endpoint, writing to `storage`."""

    async def receive_upload(request: Request) -> JSONResponse:
        return await _receive(request, settings, storage)

    return receive_upload


async def _receive(request: Request, settings: Settings, storage: Storage) -> JSONResponse:
    principal = principal_of(request)
    try:
        upload_id = uuid.UUID(request.path_params["upload_id"])
        length = request.headers.get("content-length")
        upload = await uploads.receive_direct(
            principal=principal,
            storage=storage,
            settings=settings,
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


def _fields(exc: DomainError) -> dict[str, Any]:
    return {"fields": exc.problems} if isinstance(exc, Invalid) else {}
