"""The example plugin from docs/plugins.md: a `GET /hello` route and a log line when content is published."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cms.plugins.hookspecs import hookimpl

log = logging.getLogger("cms_hello")


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.query_params.get("name", "world")})


@hookimpl
def cms_routes(settings):
    return [Route("/hello", hello, methods=["GET"])]


@hookimpl
async def cms_content_published(kind, id):
    log.info("published %s %s", kind, id)
