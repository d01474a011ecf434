"""A static cost estimate of a GraphQL operation, and the extension that refuses or charges it before it runs.

The estimate is a count of the fields the operation may resolve:
- every field costs 1 (`__typename` costs nothing);
- a field that pages (`first` / `last`) multiplies what its list children cost by the page size: the argument's
  literal or variable value, the default page size when absent, never more than the API's maximum;
  `episodes(first: 50) { totalCount edges { node { id } } }` costs 1 + 1 + 50 x (1 + 1 + 1);
- nested pages multiply (depth multiplies), lists without paging arguments count once;
- fragments are expanded, each computed once per page size (memoised), so fan-out through fragments is cheap
  to estimate however large the total it adds up to.

`QueryCost` runs before validation: a document costing more than the limit is refused with a pre-execution
error (not validated, nothing resolved, no SQL), and otherwise `charge` (the rate limiter, when one is
configured) is told the operation's kind and cost and may refuse it the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension

from cms.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

_PAGING_ARGS = ("first", "last")
_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
_CACHE_ENTRIES = 1024


@dataclass(frozen=True)
class Estimate:
    cost: int
    root_fields: tuple[str, ...]  # the operation's top-level field names (fragments expanded), e.g. mutations


# (kind: "query" | "mutation" | "subscription", estimate) -> None to go ahead, or the refusal's message
Charge = Callable[[str, Estimate], Awaitable[str | None]]


def estimate(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Estimate:
    """The cost of the operation `operation_name` (or the document's only one); 0 when there is none."""
    operation = _operation(document, operation_name)
    if operation is None:
        return Estimate(0, ())
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    values = _variable_values(operation, variables or {})
    walker = _Walker(schema, fragments, values)
    root = schema.get_root_type(operation.operation)
    return Estimate(walker.selection_set(operation.selection_set, root, None), tuple(walker.root_fields(operation)))


class QueryCost(SchemaExtension):
    """Refuses an operation whose estimate is over `limit`; charges the rest through `charge` (if given).

    Runs before validation: validating a crafted document (fragments fanned out over many levels) costs far more
    than estimating it, so a document over the limit is never validated. The schema's validation step skips a
    document this refused (see cms/api/schema.py). The estimate copes with invalid documents (unknown fields
    count 1, fragment cycles nothing); validation still refuses those afterwards."""

    def __init__(self, *, limit: int, charge: Charge | None = None) -> None:
        super().__init__()
        self.limit, self.charge = limit, charge

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            refused = await refusal(
                context.schema._schema,
                context.graphql_document,
                query=context.query,
                operation_name=context.operation_name,
                variables=context.variables or {},
                kind=context.operation_type.value,
                limit=self.limit,
                charge=self.charge,
            )
            if refused is not None:
                context.pre_execution_errors = [refused]
        yield


async def refusal(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    query: str | None,
    operation_name: str | None,
    variables: Mapping[str, Any],
    kind: str,
    limit: int,
    charge: Charge | None,
) -> GraphQLError | None:
    """The error refusing the operation (too costly, or refused by `charge`), or None once it is charged."""
    found = _estimate_cached(schema, document, query, operation_name, variables)
    if found.cost > limit:
        return too_costly(found.cost, limit)
    if charge is not None:
        refused = await charge(kind, found)
        if refused:
            return GraphQLError(refused, extensions={"code": "RATE_LIMITED"})
    return None


_estimates: dict[tuple[GraphQLSchema, str, str | None, tuple[tuple[str, int], ...]], Estimate] = {}


def _estimate_cached(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str | None,
    name: str | None,
    variables: Mapping[str, Any],
) -> Estimate:
    """`estimate`, remembered per (schema, query text, operation, integer variables): only integers can be page
    sizes, so the other variables (ids, filters) share an entry."""
    if query is None:
        return estimate(schema, document, name, variables)
    ints = tuple(sorted((k, v) for k, v in variables.items() if isinstance(v, int) and not isinstance(v, bool)))
    key = (schema, query, name, ints)
    found = _estimates.get(key)
    if found is None:
        if len(_estimates) >= _CACHE_ENTRIES:
            _estimates.clear()
        found = _estimates[key] = estimate(schema, document, name, variables)
    return found


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"query cost {cost} is over the limit of {limit}: ask for fewer items (first/last) or fewer nested lists",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def _variable_values(operation: OperationDefinitionNode, given: Mapping[str, Any]) -> dict[str, int]:
    """The integer variables (the only ones a page size can come from), defaults filled in."""
    values: dict[str, int] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = given.get(name) if name in given else _literal(definition.default_value)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = value
    return values


def _literal(node: object) -> int | None:
    return int(node.value) if isinstance(node, IntValueNode) else None


def _is_list(type_: object) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList)


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], values: dict[str, int]):
        self.schema, self.fragments, self.values = schema, fragments, values
        self._memo: dict[tuple[str, int | None], int] = {}

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None, page: int | None) -> int:
        """What the selections cost; `page`: the page size of the paging field they belong to (lists multiply)."""
        if node is None:
            return 0
        total = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(selection.selection_set, on, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page)
        return total

    def fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key not in self._memo:
            self._memo[key] = 0  # a cycle (validation refuses those) adds nothing
            definition = self.fragments.get(name)
            if definition is not None:
                on = self.schema.get_type(definition.type_condition.name.value)
                self._memo[key] = self.selection_set(definition.selection_set, on, page)
        return self._memo[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        definition = _META_FIELDS.get(name) or (
            parent.fields.get(name) if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) else None
        )
        child = get_named_type(definition.type) if definition is not None else None
        is_list = definition is not None and _is_list(definition.type)
        size = self.page_size(node, definition)
        if size is not None and is_list:  # a paged list itself: its items multiply
            below = size * self.selection_set(node.selection_set, child, None)
        else:  # a connection passes its page size on to its list children (edges, nodes)
            below = self.selection_set(node.selection_set, child, size)
        return (1 + below) * (page if is_list and page is not None else 1)

    def page_size(self, node: FieldNode, definition: object) -> int | None:
        """None for a field that does not page; else the size asked for, clamped to 1..MAX_PAGE_SIZE."""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        accepted = getattr(definition, "args", None) or {}
        if not any(arg in arguments or arg in accepted for arg in _PAGING_ARGS):
            return None
        sizes = [size for arg in _PAGING_ARGS if (size := self._int(arguments.get(arg))) is not None]
        return min(max(max(sizes) if sizes else DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)

    def _int(self, value: object) -> int | None:
        if isinstance(value, VariableNode):
            return self.values.get(value.name.value)
        return _literal(value)

    def root_fields(self, operation: OperationDefinitionNode) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()

        def collect(node: SelectionSetNode) -> None:
            for selection in node.selections:
                if isinstance(selection, FieldNode):
                    if selection.name.value != "__typename":
                        names.append(selection.name.value)
                elif isinstance(selection, InlineFragmentNode):
                    collect(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                    seen.add(selection.name.value)
                    if (definition := self.fragments.get(selection.name.value)) is not None:
                        collect(definition.selection_set)

        collect(operation.selection_set)
        return names
