"""The /graphql endpoint: Strawberry's ASGI view with our context (principal, loaders, correlation id)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from cms.api.context import Context
from cms.api.schema import build_schema
from cms.http.auth import principal_of


class GraphQLEndpoint(GraphQL):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context(principal=principal_of(request), request_id=request.scope["state"]["request_id"])


def graphql_endpoint(*, graphiql: bool) -> GraphQLEndpoint:
    # Queries may use GET (cacheable); Strawberry refuses mutations over GET.
    return GraphQLEndpoint(build_schema(), graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True)
