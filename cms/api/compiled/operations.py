"""The compiled path for query operations: parse, validate and plan once per document, then per request only
coerce the variables, price and charge the operation, run the plan, mask the errors and record the metrics.

`CompiledOperations.execute` answers None for anything it does not cover (mutations, subscriptions, invalid
documents, variables that do not coerce, introspection, fragment arguments): the endpoint then runs the request
through Strawberry's standard pipeline, which answers those (errors included) exactly as before. What the
schema's extensions do on the standard path is done here by the same functions: the cost limit and the rate
limiter's charge (cms/api/cost.py refusal), error masking (cms/api/errors_masking.py mask), replica routing for
anonymous reads (cms/core/replica.py) and the operation's metrics and span (cms/api/instrumentation.py record).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, get_variable_values
from graphql.validation import specified_rules
from opentelemetry import trace
from strawberry.schema import Schema as StrawberrySchema
from strawberry.types import ExecutionResult

from cms.api import cost, instrumentation
from cms.api.compiled.executor import Run
from cms.api.compiled.plan import NotCovered, Plan, build_plan, condition_variables, operation_of
from cms.api.errors_masking import mask
from cms.core import replica, tracing
from graphql import (
    DocumentNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_nullable_type,
    is_non_null_type,
    parse,
    validate,
)

log = logging.getLogger("cms.api.compiled")

_DISABLE_ERROR_PROPAGATION = "experimental_disableErrorPropagation"


@dataclass(eq=False)
class _Document:
    document: DocumentNode
    operation: OperationDefinitionNode
    conditions: tuple[str, ...]  # variables @skip / @include read: one plan per set of their values
    signatures: tuple[GraphQLVariableSignature, ...] | None  # None: some variable is not a plain scalar
    plans: dict[tuple[Any, ...], Plan] = field(default_factory=dict)


class CompiledOperations:
    """Plans per (document text, operation name), most recently used kept up to `max_documents`."""

    def __init__(
        self,
        schema: StrawberrySchema,
        *,
        max_tokens: int,
        validation_rules: tuple[Any, ...],
        cost_limit: int,
        charge: cost.Charge | None,
        max_documents: int = 256,
    ) -> None:
        self.schema, self.max_tokens, self.cost_limit, self.charge = schema, max_tokens, cost_limit, charge
        self.rules = (*specified_rules, *validation_rules)
        self.max_documents = max_documents
        self._documents: OrderedDict[tuple[str, str | None], _Document | None] = OrderedDict()

    async def execute(
        self,
        *,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        context: Any,
        root_value: Any,
    ) -> ExecutionResult | None:
        """The operation's result, or None: not covered, the standard executor must run it."""
        key = (query, operation_name)
        compiled = self._document(key, variables or {})
        if compiled is None:
            return None
        coerced: VariableValues | list[GraphQLError] | None = _plain_variables(compiled.signatures, variables or {})
        if coerced is None:
            coerced = get_variable_values(
                self.schema._schema, compiled.operation.variable_definitions or (), dict(variables or {}), max_errors=50
            )
        if not isinstance(coerced, VariableValues):
            return None  # the standard path reports the variables' errors
        plan = self._plan(key, compiled, coerced)
        if plan is None:
            return None
        started = time.perf_counter()
        span = tracing.tracer().start_span("graphql") if tracing.tracing_enabled() else None
        try:
            if span is not None:
                with trace.use_span(span, end_on_exit=False):
                    result = await self._run(plan, query, operation_name, variables or {}, coerced, context, root_value)
            else:
                result = await self._run(plan, query, operation_name, variables or {}, coerced, context, root_value)
        except BaseException:  # cancelled (the client went away): no outcome to count, but the span ends
            if span is not None:
                span.end()
            raise
        seconds = time.perf_counter() - started
        errors = result.errors or []
        name = plan.operation.name.value if plan.operation.name else None  # as Strawberry reads it from the document
        instrumentation.record(name, "query", True, result.data, errors, seconds, span)
        return result

    async def _run(
        self,
        plan: Plan,
        query: str,
        operation_name: str | None,
        variables: Mapping[str, Any],
        coerced: VariableValues,
        context: Any,
        root_value: Any,
    ) -> ExecutionResult:
        refused = await cost.refusal(
            self.schema._schema,
            plan.document,
            query=query,
            operation_name=operation_name,
            variables=variables,
            kind="query",
            limit=self.cost_limit,
            charge=self.charge,
        )
        request_id = getattr(context, "request_id", None)
        if refused is not None:
            return ExecutionResult(data=None, errors=[mask(refused, request_id)])
        try:
            with replica.anonymous_reads(getattr(context, "principal", True) is None):
                executed = await Run(
                    self.schema, plan, context=context, root_value=root_value, variables=coerced
                ).execute()
        except Exception as exc:  # noqa: BLE001 - as Strawberry's execute turns an escaped exception into an error
            error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            return ExecutionResult(data=None, errors=[mask(error, request_id)])
        errors = [mask(error, request_id) for error in executed.errors or ()]
        return ExecutionResult(data=executed.data, errors=errors or None)

    def _document(self, key: tuple[str, str | None], variables: Mapping[str, Any]) -> _Document | None:
        query, operation_name = key
        if key in self._documents:
            self._documents.move_to_end(key)
            return self._documents[key]
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        # As on the standard path, a document costing more than the limit is never validated (that is what a
        # crafted one would make expensive): the standard path refuses it, and nothing is kept for it here.
        found = cost.estimate(self.schema._schema, document, operation_name, variables)
        if found.cost > self.cost_limit:
            return None
        compiled = self._compile(document, operation_name)
        self._documents[key] = compiled
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)
        return compiled

    def _compile(self, document: DocumentNode, operation_name: str | None) -> _Document | None:
        """None unless the document validates (the standard path reports why) and selects a query."""
        try:
            if validate(self.schema._schema, document, self.rules):
                return None
        except Exception:  # noqa: BLE001 - e.g. validation aborted after too many errors: the standard path says so
            return None
        operation = operation_of(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        if any(d.name.value == _DISABLE_ERROR_PROPAGATION for d in operation.directives or ()):
            return None
        return _Document(document, operation, condition_variables(document), self._signatures(operation))

    def _signatures(self, operation: OperationDefinitionNode) -> tuple[GraphQLVariableSignature, ...] | None:
        """The variables' signatures when each is a built-in scalar (nullable or not) without a default."""
        signatures = []
        for definition in operation.variable_definitions or ():
            signature = get_variable_signature(self.schema._schema, definition)
            if isinstance(signature, GraphQLError) or definition.default_value is not None:
                return None
            if get_nullable_type(signature.type) not in _PLAIN_SCALARS:
                return None
            signatures.append(signature)
        return tuple(signatures)

    def _plan(self, key: tuple[str, str | None], compiled: _Document, coerced: VariableValues) -> Plan | None:
        signature = tuple(coerced.coerced.get(name) for name in compiled.conditions)
        plan = compiled.plans.get(signature)
        if plan is None:
            try:
                plan = build_plan(self.schema._schema, compiled.document, compiled.operation, coerced)
            except NotCovered as reason:
                log.debug("not compiled: %s", reason)
                if key in self._documents:
                    self._documents[key] = None  # never covered: straight to the standard path next time
                return None
            compiled.plans[signature] = plan
        return plan


# Built-in scalars and the values each takes as they are (what its parse_value returns unchanged); anything else,
# such as an ID given as a number or an Int past 32 bits, is coerced (or refused) by graphql-core.
_PLAIN_SCALARS: dict[Any, Callable[[Any], bool]] = {
    GraphQLID: lambda value: type(value) is str,
    GraphQLString: lambda value: type(value) is str,
    GraphQLBoolean: lambda value: type(value) is bool,
    GraphQLInt: lambda value: type(value) is int and -(2**31) <= value < 2**31,
    GraphQLFloat: lambda value: type(value) is float and math.isfinite(value),
}


def _plain_variables(
    signatures: tuple[GraphQLVariableSignature, ...] | None, inputs: Mapping[str, Any]
) -> VariableValues | None:
    """graphql-core's coercion, done in a few steps for variables of built-in scalar types whose values need
    nothing done (graphql-core's walk costs a tenth of a small query); None sends the values through
    `get_variable_values` (a value to convert or refuse, a missing non-null variable)."""
    if signatures is None:
        return None
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for signature in signatures:
        value = inputs.get(signature.name, Undefined)
        if value is Undefined:
            if is_non_null_type(signature.type):
                return None
            sources[signature.name] = VariableValueSource(signature)  # omitted, as graphql-core leaves it
            continue
        if value is None:
            if is_non_null_type(signature.type):
                return None
        elif not _PLAIN_SCALARS[get_nullable_type(signature.type)](value):
            return None
        sources[signature.name] = VariableValueSource(signature, value)
        coerced[signature.name] = value
    return VariableValues(sources, coerced)
