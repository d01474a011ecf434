"""The /graphql endpoint: Strawberry's ASGI view with our context (principal, loaders, correlation id)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from cms.api.context import Context
from cms.api.schema import build_schema
from cms.auth.tokens import TokenValidator
from cms.errors import Unauthenticated
from cms.http.auth import principal_of
from cms.http.urls import public_base_url


class GraphQLEndpoint(GraphQL):
    def __init__(self, schema, *, validator: TokenValidator, **options) -> None:
        super().__init__(schema, **options)
        self.validator = validator

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: a token may come in connection_init's payload instead,
        as {"authorization": "Bearer ..."}; a bad one closes the socket (4403)."""
        raw = (context.connection_params or {}).get("authorization") or (context.connection_params or {}).get(
            "Authorization"
        )
        if raw is None:
            return UNSET
        scheme, _, token = str(raw).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError()
        try:
            context.principal = await self.validator.validate(token.strip())
        except Unauthenticated:
            raise ConnectionRejectionError() from None
        return UNSET

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = request.app.state
        return Context(
            principal=principal_of(request), request_id=request.scope["state"]["request_id"],
            settings=state.settings, storage=state.storage, base_url=public_base_url(state.settings, request),
            plugins=getattr(state, "plugins", None), search=getattr(state, "search", None),
        )

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            # Nested past the interpreter's limit: the client's bad JSON (400), not a server error (500).
            raise json.JSONDecodeError("JSON nested too deeply", "", 0) from exc


def graphql_endpoint(*, graphiql: bool, validator: TokenValidator, schema=None) -> GraphQLEndpoint:
    # Queries may use GET (cacheable); Strawberry refuses mutations over GET. Subscriptions: graphql-transport-ws.
    return GraphQLEndpoint(
        schema or build_schema(), validator=validator, graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=True, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
