"""The /graphql endpoint: Strawberry's ASGI view with our context (principal, loaders, correlation id), speaking
GraphQL over HTTP as the spec says (media types, request errors, 405 for a mutation over GET)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from cms.api.compiled.operations import CompiledOperations
from cms.api.context import Context, ContextParts
from cms.api.errors_masking import SERVICE_UNAVAILABLE
from cms.api.schema import build_schema
from cms.auth.tokens import TokenValidator
from cms.core.errors import Unauthenticated
from cms.core.unavailable import RETRY_AFTER_SECONDS
from cms.http import graphiql
from cms.http.auth import principal_of
from cms.http.body import PARAMS_KEY, BufferedBody
from cms.http.graphql_media import GRAPHQL_RESPONSE, JSON, content_type, error_response, media_type_of
from cms.http.urls import public_base_url

SUBSCRIPTION_OVER_HTTP = (
    "Subscriptions run over a WebSocket on /graphql (graphql-transport-ws), not as an HTTP request."
)
NOT_AN_OBJECT = 'The request body must be a JSON object such as {"query": "{ __typename }"}.'


class _MethodNotAllowed(HTTPException):
    def __init__(self, reason: str, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


class GraphQLEndpoint(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        validator: TokenValidator,
        parts: ContextParts,
        compiled: CompiledOperations | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self.validator = validator
        self.parts = parts
        self.compiled = compiled

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.render(request)  # GraphiQL from this server's own files (cms/http/graphiql.py)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Browsers cannot set headers on a WebSocket: a token may come in connection_init's payload instead,
        as {"authorization": "Bearer ..."}; a bad one closes the socket (4403)."""
        raw = (context.connection_params or {}).get("authorization") or (context.connection_params or {}).get(
            "Authorization"
        )
        if raw is None:
            return cast(UnsetType, UNSET)  # strawberry types UNSET as Any
        scheme, _, token = str(raw).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError()
        try:
            context.principal = await self.validator.validate(token.strip())
        except Unauthenticated:
            raise ConnectionRejectionError() from None
        return cast(UnsetType, UNSET)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        parts = self.parts
        return Context(
            principal=principal_of(request),
            request_id=request.scope["state"]["request_id"],
            settings=parts.settings,
            storage=parts.storage,
            base_url_of=partial(public_base_url, parts.settings, request),
            plugins=parts.plugins,
            search=parts.search,
            ingest_sources=parts.ingest_sources,
        )

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except TypeError:  # what orjson refuses (an integer past 64 bits in JSON metadata): the standard encoder
            return json.dumps(data).encode()

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError as exc:
            # Nested past the interpreter's limit: the client's bad JSON (400), not a server error (500).
            raise json.JSONDecodeError("JSON nested too deeply", "", 0) from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry's, with the answer in the media type the client accepts and request errors as JSON."""
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope=scope, receive=receive)
        media = media_type_of(scope)
        request.state.graphql_media_type, request.state.graphql_status = media, None
        try:
            response = await self._compiled_response(request) or await self.run(request)
        except HTTPException as exc:
            allow = {"Allow": getattr(exc, "allow", "GET, POST")} if exc.status_code == 405 else None
            response = error_response(exc.status_code, exc.reason, media_type=media, headers=allow)
        else:
            if response.media_type == JSON:  # not GraphiQL's page
                response.headers["content-type"] = content_type(media)
                response.status_code = request.state.graphql_status or response.status_code
                if response.status_code == 503:  # a part was unreachable (process_result): come back shortly
                    response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
                    response.headers["cache-control"] = "no-store"
        await response(scope, receive, send)

    async def _compiled_response(self, request: Request) -> Response | None:
        """The answer to a plain query the compiled path covers, without Strawberry's view around it (its request
        adapters, content-type parsing and sub-response cost about a tenth of a small query's CPU); None for
        anything else (a request Strawberry must answer or refuse, or an operation the plan does not cover),
        which then runs through `run` exactly as before."""
        if self.compiled is None:
            return None
        params = _plain_params(request.scope)
        if params is None:
            return None
        query, operation_name, variables = params
        context = await self.get_context(request, response=None)
        result = await self.compiled.execute(
            query=query, operation_name=operation_name, variables=variables, context=context, root_value=None
        )
        if result is None:
            return None
        data = await self.process_result(request, result)
        return Response(self.encode_json(data), media_type=JSON)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A JSON POST body must be one object (no batching) with well-typed parameters; 400 otherwise."""
        media, _ = parse_content_type(request.content_type or "")
        if request.method != "POST" or "application/json" not in media:
            return await super().parse_http_body(request)
        data = self.parse_json(await request.get_body())
        if not isinstance(data, dict):
            raise HTTPException(400, NOT_AN_OBJECT)
        for name, kind, what in (
            ("query", str, "a string"),
            ("operationName", str, "a string"),
            ("variables", dict, "an object"),
            ("extensions", dict, "an object"),
        ):
            if data.get(name) is not None and not isinstance(data[name], kind):
                raise HTTPException(400, f"The GraphQL request's `{name}` must be {what} or null, if provided.")
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """What the compiled path did not answer (`_compiled_response`) runs through Strawberry's schema, as its
        view would run it, but with a subscription refused (400) and a mutation over GET refused with 405 and
        `Allow: POST` (the spec; Strawberry says 400)."""
        method = request_adapter.method
        # A subscription runs over a WebSocket (or a multipart stream, which does not come here): as a plain HTTP
        # request it would run as a query and fail inside with a masked 500-like error.
        allowed = OperationType.from_http(method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, SUBSCRIPTION_OVER_HTTP) from exc
            if method == "GET":  # a mutation: 405 with `Allow: POST`, as the spec says (Strawberry says 400)
                raise _MethodNotAllowed(exc.as_http_error_reason(method), allow="POST") from exc
            raise HTTPException(400, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """With graphql-response+json, a request error (nothing executed) is a 4xx without `data`."""
        response = await super().process_result(request, result)
        if request.state.graphql_media_type == GRAPHQL_RESPONSE and _is_request_error(result):
            response.pop("data", None)
            request.state.graphql_status = 400
        elif _is_outage(result):
            # PostgreSQL (or storage) unreachable: 503 in either media type, never a 200 the client would trust
            # as an answer; the same request works once the part is back.
            request.state.graphql_status = 503
        return response


def graphql_endpoint(
    *,
    graphiql: bool,
    validator: TokenValidator,
    parts: ContextParts,
    schema: BaseSchema | None = None,
    compiled: CompiledOperations | None = None,
) -> GraphQLEndpoint:
    # Queries may use GET (cacheable); Strawberry refuses mutations over GET. Subscriptions: graphql-transport-ws.
    return GraphQLEndpoint(
        schema or build_schema(),
        validator=validator,
        parts=parts,
        compiled=compiled,
        graphql_ide="graphiql" if graphiql else None,
        allow_queries_via_get=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )


def graphql_body_reader(app: ASGIApp, *, limit: int) -> BufferedBody:
    """`app` (the endpoint, or the cache in front of it) behind the one body reader; refusals as GraphQL errors."""

    def reject(scope: Scope, status: int, message: str) -> ASGIApp:
        return error_response(status, message, media_type=media_type_of(scope))

    return BufferedBody(app, limit=limit, reject=reject)


def _plain_params(scope: Scope) -> tuple[str, str | None, dict[str, Any] | None] | None:
    """(query, operationName, variables) of a request that is a plain query by the rules of `parse_http_body`
    and Strawberry's GET parsing: a JSON object POSTed, or a GET query string with each GraphQL parameter once and
    not asking for a stream. None for anything else, malformed included: the standard
    path answers those with its own errors."""
    method, headers = scope["method"], scope["headers"]
    if method == "POST":
        kind = next((value for name, value in headers if name == b"content-type"), b"")
        if kind.split(b";", 1)[0].strip().lower() != b"application/json":
            return None
    elif method != "GET" or any(name == b"accept" and b"multipart" in value for name, value in headers):
        return None
    # As the persisted-operations layer in front (cms/app.py) parsed them; absent when they did not parse.
    data = scope.get(PARAMS_KEY)
    if not isinstance(data, dict):
        return None
    query, operation_name, variables = data.get("query"), data.get("operationName"), data.get("variables")
    if (
        not isinstance(query, str)
        or not isinstance(operation_name, str | None)
        or not isinstance(variables, dict | None)
        or not isinstance(data.get("extensions"), dict | None)
    ):
        return None
    return query, operation_name, variables


def _is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation and variable-coercion errors: no data, and no error belongs to a field (a `path`)."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())


def _is_outage(result: ExecutionResult) -> bool:
    """Some error is SERVICE_UNAVAILABLE (cms/api/errors_masking.py: a part the operation needed was unreachable)."""
    return any((error.extensions or {}).get("code") == SERVICE_UNAVAILABLE for error in result.errors or ())
