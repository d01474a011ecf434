"""Execution plans for known operations: what graphql-core works out per request, worked out once per document.

A plan is one operation of a parsed, validated document, with its fields collected (fragments expanded, @skip and
@include applied for one set of their variables' values) into `FieldPlan`s: for each response key, the field's
definition, its Strawberry field, how it resolves (an attribute read, or the resolver with the arguments Strawberry
converts) and how its value completes. Sub-selections are collected on first use per runtime type and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MethodDescriptorType
from typing import Any

from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues
from graphql.language import DirectiveNode, Visitor
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.types.field import StrawberryField

from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
    visit,
)

# graphql-core's own meta fields need its resolve info and resolvers: documents using them run the standard way.
_UNSUPPORTED_FIELDS = frozenset({"__schema", "__type"})
_CONDITIONS = frozenset({"skip", "include"})


class Resolve(Enum):
    TYPENAME = 0  # __typename: the parent's type name
    ATTRIBUTE = 1  # a field without resolver: getattr(source, python name), as Strawberry's basic fields do
    RESOLVER = 2  # a resolver: Strawberry's argument conversion, then the resolver itself


class Kind(Enum):
    LEAF = 0
    OBJECT = 1
    LIST = 2
    ABSTRACT = 3


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """A field's return type unwrapped once: what complete_value would find out with isinstance at each level."""

    non_null: bool
    kind: Kind
    named: Any  # the leaf, object or abstract type (None for a list)
    item: Shape | None  # a list's items
    # For a leaf: what its coercion does to a value of exactly these types, worked out from the type once: AS_IS
    # (graphql-core's String and ID return a str unchanged, Boolean a bool), INT32 (Int: unchanged within 32 bits),
    # or a function (the DateTime scalar's datetime.isoformat, an enum's member -> name as Strawberry maps it).
    converters: dict[type, Any]


AS_IS = "as is"
INT32 = "int32"
_CONVERTERS: dict[Any, dict[type, Any]] = {
    GraphQLString: {str: AS_IS},
    GraphQLID: {str: AS_IS},
    GraphQLBoolean: {bool: AS_IS},
    GraphQLInt: {int: INT32},
}


def _converters(leaf: Any) -> dict[type, Any]:
    if leaf in _CONVERTERS:
        return _CONVERTERS[leaf]
    coerce = leaf.coerce_output_value
    owner = getattr(coerce, "__objclass__", None)
    if isinstance(coerce, MethodDescriptorType) and isinstance(owner, type):  # e.g. datetime.isoformat
        return {owner: coerce}
    if isinstance(leaf, CustomGraphQLEnumType):
        # Strawberry's coerce_output_value: the first name whose value equals the member's value.
        names: dict[Any, str] = {}
        member: Any
        for member in leaf.wrapped_cls:
            name = next((n for n, v in leaf.values.items() if member.value == v.value), None)
            if name is None:
                return {}
            names[member] = name
        return {leaf.wrapped_cls: names.__getitem__}
    return {}


def shape_of(type_: GraphQLOutputType) -> Shape:
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        return Shape(non_null, Kind.LIST, None, shape_of(inner.of_type), {})
    if is_leaf_type(inner):
        return Shape(non_null, Kind.LEAF, inner, None, _converters(inner))
    if is_abstract_type(inner):
        return Shape(non_null, Kind.ABSTRACT, inner, None, {})
    if is_object_type(inner):
        return Shape(non_null, Kind.OBJECT, inner, None, {})
    raise NotCovered(f"unexpected output type {inner}")


class NotCovered(Exception):
    """The document uses something the plan does not cover; the standard executor runs it."""


@dataclass(eq=False, slots=True)
class FieldPlan:
    key: str
    name: str
    parent: GraphQLObjectType
    definition: GraphQLField
    details: list[FieldDetails]
    nodes: list[FieldNode]
    resolve: Resolve
    attribute: str
    strawberry: StrawberryField | None
    has_arguments: bool
    shape: Shape  # the return type, unwrapped
    # A resolver without arguments is called directly, with self / parent / root / info as it asks for them
    # (what Strawberry's get_arguments works out per call); None: through get_arguments.
    direct: _DirectCall | None = None
    # Whether the field's sub-selections (fragments included) read no variable: then what Strawberry's
    # info.selected_fields makes of them is the same for every request, and made once (`selected`, per node).
    variable_free: bool = False
    selected: list[list[Any]] | None = None
    # Sub-selections by runtime object type name, collected on first use.
    subfields: dict[str, tuple[FieldPlan, ...]] = field(default_factory=dict)

    @property
    def return_type(self) -> GraphQLOutputType:
        return self.definition.type


@dataclass(frozen=True, slots=True)
class _DirectCall:
    function: Any
    pass_self: bool
    source_names: tuple[str, ...]  # keyword parameters taking the source (parent / root)
    info_name: str | None


def _direct_call(strawberry_field: StrawberryField) -> _DirectCall | None:
    resolver = strawberry_field.base_resolver
    if resolver is None or not callable(resolver.wrapped_func) or strawberry_field.arguments:
        return None
    sources = tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None)
    info = resolver.info_parameter
    return _DirectCall(resolver.wrapped_func, resolver.self_parameter is not None, sources, info.name if info else None)


@dataclass(eq=False)
class Plan:
    schema: GraphQLSchema
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDetails]
    fragment_definitions: dict[str, FragmentDefinitionNode]
    root_type: GraphQLObjectType
    # The values @skip / @include were collected with (only their variables matter; the plan is keyed on them).
    directive_values: VariableValues
    root_fields: tuple[FieldPlan, ...] = ()
    # Selection sets compiled to functions (cms/api/compiled/codegen.py), by the identity of their field tuple.
    functions: dict[int, tuple[tuple[FieldPlan, ...], Any]] = field(default_factory=dict)

    def function_of(self, fields: tuple[FieldPlan, ...]) -> Any:
        found = self.functions.get(id(fields))
        if found is None:
            from cms.api.compiled.codegen import compile_fields  # codegen reads FieldPlan from here

            found = self.functions[id(fields)] = (fields, compile_fields(fields))  # the tuple kept: ids stay unique
        return found[1]

    def fields_of(self, parent: FieldPlan, runtime_type: GraphQLObjectType) -> tuple[FieldPlan, ...]:
        found = parent.subfields.get(runtime_type.name)
        if found is None:
            collected = collect_subfields(
                self.schema,
                self.fragments,
                self.directive_values,
                self.operation,
                runtime_type,
                parent.details,
            )
            found = parent.subfields[runtime_type.name] = self._plans(runtime_type, collected.grouped_field_set)
        return found

    def collect_root(self) -> None:
        collected = collect_fields(self.schema, self.fragments, self.directive_values, self.root_type, self.operation)
        self.root_fields = self._plans(self.root_type, collected.grouped_field_set)

    def _plans(self, parent: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> tuple[FieldPlan, ...]:
        plans = []
        for key, details in grouped.items():
            if any(d.fragment_variable_values is not None or d.defer_usage is not None for d in details):
                raise NotCovered("fragment arguments or @defer")
            node = details[0].node
            name = node.name.value
            if name in _UNSUPPORTED_FIELDS:
                raise NotCovered(name)
            definition = self.schema.get_field(parent, name)
            if definition is None:  # validation refuses unknown fields; graphql-core skips them the same way
                continue
            plan = _field_plan(key, name, parent, definition, details)
            plan.variable_free = not _reads_variables(plan.nodes, self.fragment_definitions)
            plans.append(plan)
        return tuple(plans)


def _field_plan(
    key: str, name: str, parent: GraphQLObjectType, definition: GraphQLField, details: list[FieldDetails]
) -> FieldPlan:
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    if name == "__typename":
        resolve, attribute = Resolve.TYPENAME, ""
    elif not isinstance(strawberry_field, StrawberryField):
        raise NotCovered(f"{parent.name}.{name} is not a Strawberry field")
    elif strawberry_field.is_basic_field and getattr(definition.resolve, "_is_default", False):
        resolve, attribute = Resolve.ATTRIBUTE, strawberry_field.python_name
    elif strawberry_field.extensions:
        raise NotCovered(f"{parent.name}.{name} has field extensions")
    else:
        resolve, attribute = Resolve.RESOLVER, strawberry_field.python_name
    has_arguments = bool(definition.args or details[0].node.arguments)
    direct = (
        _direct_call(strawberry_field)
        if resolve is Resolve.RESOLVER and isinstance(strawberry_field, StrawberryField) and not has_arguments
        else None
    )
    return FieldPlan(
        key=key,
        name=name,
        parent=parent,
        definition=definition,
        details=details,
        nodes=[d.node for d in details],
        resolve=resolve,
        attribute=attribute,
        strawberry=strawberry_field if isinstance(strawberry_field, StrawberryField) else None,
        has_arguments=has_arguments,
        shape=shape_of(definition.type),
        direct=direct,
    )


def _reads_variables(nodes: list[FieldNode], fragments: dict[str, FragmentDefinitionNode]) -> bool:
    """Whether the selections below `nodes` (not their own arguments) read a variable."""
    found = False
    seen: set[str] = set()

    class _Variables(Visitor):
        def enter_variable(self, *_: Any) -> Any:
            nonlocal found
            found = True
            return BREAK

        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            name = node.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                visit(fragments[name], self)

    for node in nodes:
        if node.selection_set is not None:
            visit(node.selection_set, _Variables())
        if found:
            return True
    return found


def operation_of(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core would run: the named one, or the only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == operation_name), None)


def condition_variables(document: DocumentNode) -> tuple[str, ...]:
    """Names of the variables @skip / @include read: a plan holds for one set of their values."""
    names: set[str] = set()

    class _Conditions(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in _CONDITIONS:
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        names.add(argument.value.name.value)

    visit(document, _Conditions())
    return tuple(sorted(names))


def build_plan(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, values: VariableValues
) -> Plan:
    """A plan for `operation` (a query; validated by the caller), collected with `values` for @skip / @include."""
    if operation.operation is not OperationType.QUERY:
        raise NotCovered(f"{operation.operation.value} operations run serially or as streams")
    root_type = schema.query_type
    assert root_type is not None  # a schema always has a query type
    fragments: dict[str, FragmentDetails] = {}
    definitions: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            if definition.variable_definitions:
                raise NotCovered("fragment variables")
            definitions[definition.name.value] = definition
            fragments[definition.name.value] = FragmentDetails(definition, None)
    plan = Plan(schema, document, operation, fragments, definitions, root_type, values)
    plan.collect_root()
    return plan
