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
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql.execution.values import VariableValues, get_variable_values
from graphql.validation import specified_rules
from opentelemetry import trace
from strawberry.schema import Schema as StrawberrySchema
from strawberry.types import ExecutionResult

from cms.api import cost, instrumentation
from cms.api.compiled.executor import Run
from cms.api.compiled.plan import NotCovered, Plan, build_plan, condition_variables, operation_of
from cms.api.errors_masking import mask
from cms.core import replica, tracing
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType, parse, validate

log = logging.getLogger("cms.api.compiled")

_DISABLE_ERROR_PROPAGATION = "experimental_disableErrorPropagation"


@dataclass(eq=False)
class _Document:
    document: DocumentNode
    operation: OperationDefinitionNode
    conditions: tuple[str, ...]  # variables @skip / @include read: one plan per set of their values
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
        compiled = self._document(query, operation_name, variables or {})
        if compiled is None:
            return None
        coerced = get_variable_values(
            self.schema._schema, compiled.operation.variable_definitions or (), dict(variables or {}), max_errors=50
        )
        if not isinstance(coerced, VariableValues):
            return None  # the standard path reports the variables' errors
        plan = self._plan(compiled, coerced)
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

    def _document(self, query: str, operation_name: str | None, variables: Mapping[str, Any]) -> _Document | None:
        key = (query, operation_name)
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
        return _Document(document, operation, condition_variables(document))

    def _plan(self, compiled: _Document, coerced: VariableValues) -> Plan | None:
        signature = tuple(coerced.coerced.get(name) for name in compiled.conditions)
        plan = compiled.plans.get(signature)
        if plan is None:
            try:
                plan = build_plan(self.schema._schema, compiled.document, compiled.operation, coerced)
            except NotCovered as reason:
                log.debug("not compiled: %s", reason)
                key = next((k for k, v in self._documents.items() if v is compiled), None)
                if key is not None:
                    self._documents[key] = None  # never covered: straight to the standard path next time
                return None
            compiled.plans[signature] = plan
        return plan
