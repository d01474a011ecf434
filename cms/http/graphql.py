"""The /graphql endpoint: Strawberry's ASGI view with our context (principal, loaders, correlation id)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from cms.api.context import Context
from cms.api.schema import build_schema
from cms.http.auth import principal_of
from cms.http.urls import public_base_url


class GraphQLEndpoint(GraphQL):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = request.app.state
        return Context(
            principal=principal_of(request), request_id=request.scope["state"]["request_id"],
            settings=state.settings, storage=state.storage, base_url=public_base_url(state.settings, request),
        )

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            # Nested past the interpreter's limit: the client's bad JSON (400), not a server error (500).
            raise json.JSONDecodeError("JSON nested too deeply", "", 0) from exc


def graphql_endpoint(*, graphiql: bool) -> GraphQLEndpoint:
    # Queries may use GET (cacheable); Strawberry refuses mutations over GET.
    return GraphQLEndpoint(build_schema(), graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True)
