"""Runs a plan (cms/api/compiled/plan.py) the way graphql-core's Executor runs the document, without re-walking it.

The semantics are graphql-core's, step for step (execute_fields, execute_field, complete_value and its list,
leaf, abstract and object cases, handle_field_error, CollectedErrors), with the same messages and the same order
of concurrent work, so answers and errors come out identical (tests/integration/test_executor_differential.py).
What is saved per request: collecting fields and merging fragments (done once per plan), a resolve info and a
Strawberry wrapper per attribute read (attributes are read directly), argument coercion per row (once per field
per request), and the extension hooks around it all (cms/api/compiled/operations.py does their work directly).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Iterable
from typing import Any, cast

from graphql.execution.collect_fields import FieldDetails
from graphql.execution.executor import CollectedErrors, invalid_return_type_error
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.execution import optimized_is_awaitable as is_awaitable
from strawberry.schema import Schema as StrawberrySchema
from strawberry.schema.schema_converter import get_arguments
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info
from strawberry.types.nodes import SelectedField, Selection, convert_arguments, convert_directives, convert_selections

from cms.api.compiled.plan import AS_IS, INT32, FieldPlan, Kind, Plan, Resolve, Shape
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    default_type_resolver,
    located_error,
)


@functools.cache
def _generated_is_type_of(function: Any) -> bool:
    """Strawberry's own is_type_of ignores the resolve info: no need to build one per object."""
    return "_get_is_type_of.<locals>.is_type_of" in getattr(function, "__qualname__", "")


class Run:
    """One execution of a plan: the request's context, variables and collected errors."""

    def __init__(
        self,
        schema: StrawberrySchema,
        plan: Plan,
        *,
        context: Any,
        root_value: Any,
        variables: VariableValues,
    ) -> None:
        self.schema, self.plan = schema, plan
        self.context, self.root_value, self.variables = context, root_value, variables
        self.errors = CollectedErrors()
        self._arguments: dict[int, dict[str, Any]] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._helpers = GraphQLResolveInfoHelpers(gather=self._gather, track=self._track)

    # --- the operation -------------------------------------------------------------------------------------

    async def execute(self) -> ExecutionResult:
        plan = self.plan
        try:
            data = self.execute_fields(plan.root_type, plan.root_fields, self.root_value, None)
            if is_awaitable(data):
                data = await data
        except GraphQLError as error:
            self.errors.add(error, None)
            return ExecutionResult(None, self.errors.errors or None)
        return ExecutionResult(data, self.errors.errors or None)

    def execute_fields(
        self, parent_type: GraphQLObjectType, fields: tuple[FieldPlan, ...], source: Any, path: Path | None
    ) -> Any:
        """graphql-core's execute_fields, as the selection set's compiled function (cms/api/compiled/codegen.py)."""
        return self.plan.function_of(fields)(self, source, path)

    async def gather_results(self, results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
        """The awaitable fields of an object, awaited together (one alone without a gather)."""
        if len(pending) == 1:
            key = pending[0]
            results[key] = await results[key]
        else:
            awaited = await gather_with_cancel(*(results[key] for key in pending))
            results.update(zip(pending, awaited, strict=True))
        return results

    def read_leaf(self, field: FieldPlan, value: Any, path: Path | None) -> Any:
        """A scalar or enum attribute's value, once read, completed as execute_field would."""
        if not isinstance(value, Exception) and not is_awaitable(value):
            try:
                return self.complete_leaf(field, field.shape, value)
            except Exception as raw_error:
                self.handle_field_error(
                    raw_error, field.shape.non_null, field, Path(path, field.key, field.parent.name)
                )
                return None
        return self._complete_field(field, Path(path, field.key, field.parent.name), value)

    # --- one field -----------------------------------------------------------------------------------------

    def execute_field(self, field: FieldPlan, source: Any, path: Path | None) -> Any:
        resolve = field.resolve
        if resolve is Resolve.TYPENAME:
            return field.parent.name
        shape = field.shape
        if resolve is Resolve.ATTRIBUTE:
            try:
                value = getattr(source, field.attribute)
            except Exception as raw_error:
                self.handle_field_error(raw_error, shape.non_null, field, Path(path, field.key, field.parent.name))
                return None
            if shape.kind is Kind.LEAF:
                return self.read_leaf(field, value, path)
            return self._complete_field(field, Path(path, field.key, field.parent.name), value)
        field_path = Path(path, field.key, field.parent.name)
        try:
            result = self._call_resolver(field, source, field_path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, shape.non_null, field, field_path)
            return None
        return self._complete_field(field, field_path, result)

    def _complete_field(self, field: FieldPlan, path: Path, result: Any) -> Any:
        """The part of graphql-core's execute_field after the resolver returned `result`."""
        shape = field.shape
        try:
            if is_awaitable(result):
                return self.complete_awaitable_value(field, shape, path, result)
            completed = self.complete_value(field, shape, path, result)
            if is_awaitable(completed):

                async def await_completed() -> Any:
                    try:
                        return await completed
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, shape.non_null, field, path)
                        return None

                return await_completed()
        except Exception as raw_error:
            self.handle_field_error(raw_error, shape.non_null, field, path)
            return None
        return completed

    def _call_resolver(self, field: FieldPlan, source: Any, path: Path) -> Any:
        """What Strawberry's resolver wrapper does for a field without extensions: convert the arguments, pass
        self / info as the resolver asks, call it. An async resolver's work, errors included, happens when awaited,
        as behind Strawberry's async wrapper."""
        strawberry_field = field.strawberry
        assert strawberry_field is not None  # RESOLVER plans are Strawberry fields
        direct = field.direct
        # graphql-core coerces the arguments before calling the resolver, outside any coroutine.
        arguments = self._argument_values(field) if field.has_arguments else {}
        info: Info[Any, Any] | None
        if direct is not None and direct.info_name is None:
            info = None
        else:
            info_class = self.schema.config.info_class
            if info_class is Info:
                info = _PlannedInfo(self, field, path)
            else:  # a schema's own Info class: built as Strawberry builds it
                info = info_class(_raw_info=self.resolve_info(field, path), _field=strawberry_field)

        if strawberry_field.is_async:
            return self._invoke_async(field, source, info, arguments)
        return self._invoke(field, source, info, arguments)

    def _invoke(self, field: FieldPlan, source: Any, info: Info[Any, Any] | None, arguments: dict[str, Any]) -> Any:
        direct = field.direct
        if direct is not None:  # no arguments to convert: get_arguments' injections, worked out once
            kwargs: dict[str, Any] = dict.fromkeys(direct.source_names, source)
            if direct.info_name is not None:
                kwargs[direct.info_name] = info
            return direct.function(source, **kwargs) if direct.pass_self else direct.function(**kwargs)
        strawberry_field = cast("StrawberryField", field.strawberry)
        args, kwargs = get_arguments(
            field=strawberry_field,
            source=source,
            info=info,  # type: ignore[arg-type]  # always built when the arguments are converted
            kwargs=arguments,
            config=self.schema.config,
            scalar_registry=self.schema.schema_converter.scalar_registry,
        )
        return strawberry_field.get_result(source, info=info, args=args, kwargs=kwargs)

    async def _invoke_async(
        self, field: FieldPlan, source: Any, info: Info[Any, Any] | None, arguments: dict[str, Any]
    ) -> Any:
        result = self._invoke(field, source, info, arguments)
        return await result if is_awaitable(result) else result

    @staticmethod
    def selected_fields(field: FieldPlan, raw_info: GraphQLResolveInfo[Any]) -> list[Selection]:
        """Strawberry's info.selected_fields with the sub-selections converted once per plan when they read no
        variable: then only the field's own arguments and directives differ per request."""
        if not field.variable_free:
            return convert_selections(raw_info, raw_info.field_nodes)
        if field.selected is None:
            field.selected = [
                # Strawberry's own call passes the selection nodes as they are (fields, fragments), typed as fields
                convert_selections(raw_info, cast("list[FieldNode]", node.selection_set.selections))
                if node.selection_set
                else []
                for node in field.nodes
            ]
        return [
            SelectedField(
                name=node.name.value,
                directives=convert_directives(raw_info, node.directives),
                alias=node.alias.value if node.alias else None,
                arguments=convert_arguments(raw_info, node.arguments),
                selections=list(children),
            )
            for node, children in zip(field.nodes, field.selected, strict=True)
        ]

    def _argument_values(self, field: FieldPlan) -> dict[str, Any]:
        """Coerced once per field and request: the variables do not change between the rows. A copy per call,
        as graphql-core hands each resolver call a dict of its own."""
        found = self._arguments.get(id(field))
        if found is None:
            found = self._arguments[id(field)] = get_argument_values(
                field.definition, field.nodes[0], self.variables, None
            )
        return dict(found)

    def resolve_info(self, field: FieldPlan, path: Path) -> GraphQLResolveInfo[Any]:
        plan = self.plan
        return GraphQLResolveInfo(
            field.name,
            field.nodes,
            field.definition.type,
            field.parent,
            path,
            plan.schema,
            plan.fragment_definitions,
            self.root_value,
            plan.operation,
            self.variables,
            self.context,
            is_awaitable,  # type: ignore[arg-type]  # Strawberry's, which it hands graphql-core too
            None,
            self._helpers,
        )

    def handle_field_error(self, raw_error: Exception, non_null: bool, field: FieldPlan, path: Path) -> None:
        error = located_error(raw_error, field.nodes, path.as_list())
        if non_null:
            raise error
        self.errors.add(error, path)

    # --- completing values ---------------------------------------------------------------------------------

    async def complete_awaitable_value(self, field: FieldPlan, shape: Shape, path: Path, result: Awaitable[Any]) -> Any:
        try:
            resolved = await result
            completed = self.complete_value(field, shape, path, resolved)
            if is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, shape.non_null, field, path)
            completed = None
        return completed

    def complete_value(self, field: FieldPlan, shape: Shape, path: Path, result: Any) -> Any:
        """graphql-core's complete_value with the type's wrappers unwrapped ahead (`shape`): a null is refused
        where the type is non-null, otherwise the leaf, list, object or abstract case."""
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            if shape.non_null:
                raise TypeError(f"Cannot return null for non-nullable field {field.parent.name}.{field.name}.")
            return None
        kind = shape.kind
        if kind is Kind.LEAF:
            return self.complete_leaf(field, shape, result)
        if kind is Kind.OBJECT:
            return self.complete_object_value(field, shape.named, path, result)
        if kind is Kind.LIST:
            assert shape.item is not None  # a list's shape has its items'
            return self.complete_list_value(field, shape.item, path, result)
        return self.complete_abstract_value(field, shape.named, path, result)

    @staticmethod
    def complete_leaf(field: FieldPlan, shape: Shape, result: Any) -> Any:
        if result is None or result is Undefined:
            if shape.non_null:
                raise TypeError(f"Cannot return null for non-nullable field {field.parent.name}.{field.name}.")
            return None
        converter = shape.converters.get(type(result))
        if converter is AS_IS or (converter is INT32 and -(2**31) <= result < 2**31):
            return result
        if converter is not None and converter is not INT32:
            return converter(result)
        coerced = shape.named.coerce_output_value(result)
        if coerced is Undefined or coerced is None:
            raise TypeError(_coercion_message(shape.named, result, coerced))
        return coerced

    def complete_list_value(self, field: FieldPlan, item: Shape, path: Path, result: Any) -> Any:
        if not is_iterable(result):
            raise GraphQLError(f"Expected Iterable, but did not find one for field '{field.parent.name}.{field.name}'.")
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        iterator = iter(result)
        index = 0
        try:
            for value in iterator:
                item_path = path.add_key(index, None)
                if is_awaitable(value):
                    completed.append(self._complete_awaitable_item(field, item, item_path, value))
                    awaitable_indices.append(index)
                elif self._complete_item(field, item, item_path, value, completed):
                    awaitable_indices.append(index)
                index += 1
        except Exception:
            pending = [completed[i] for i in awaitable_indices]
            pending.extend(value for value in iterator if is_awaitable(value))
            if pending:
                self.settle(pending)
            raise
        if not awaitable_indices:
            return completed

        async def get_completed() -> list[Any]:
            if len(awaitable_indices) == 1:
                i = awaitable_indices[0]
                completed[i] = await completed[i]
            else:
                awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
                for i, value in zip(awaitable_indices, awaited, strict=True):
                    completed[i] = value
            return completed

        return get_completed()

    def _complete_item(self, field: FieldPlan, item: Shape, path: Path, value: Any, completed: list[Any]) -> bool:
        try:
            done = self.complete_value(field, item, path, value)
            if is_awaitable(done):

                async def await_completed() -> Any:
                    try:
                        return await done
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item.non_null, field, path)
                        return None

                completed.append(await_completed())
                return True
            completed.append(done)
        except Exception as raw_error:
            self.handle_field_error(raw_error, item.non_null, field, path)
            completed.append(None)
        return False

    async def _complete_awaitable_item(self, field: FieldPlan, item: Shape, path: Path, value: Awaitable[Any]) -> Any:
        try:
            resolved = await value
            completed = self.complete_value(field, item, path, resolved)
            if is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, item.non_null, field, path)
            return None
        return completed

    def complete_abstract_value(
        self, field: FieldPlan, return_type: GraphQLAbstractType, path: Path, result: Any
    ) -> Any:
        info = self.resolve_info(field, path)
        resolve_type = return_type.resolve_type or default_type_resolver
        runtime_type = resolve_type(result, info, return_type)
        if is_awaitable(runtime_type):

            async def await_complete_object_value() -> Any:
                value = self.complete_object_value(
                    field,
                    self._runtime_type(await cast("Awaitable[Any]", runtime_type), return_type, field, result),
                    path,
                    result,
                )
                return await value if is_awaitable(value) else value

            return await_complete_object_value()
        return self.complete_object_value(
            field, self._runtime_type(runtime_type, return_type, field, result), path, result
        )

    def _runtime_type(
        self, name: Any, return_type: GraphQLAbstractType, field: FieldPlan, result: Any
    ) -> GraphQLObjectType:
        """graphql-core's ensure_valid_runtime_type, with its messages."""
        where = f"{field.parent.name}.{field.name}"
        if name is None:
            raise GraphQLError(
                f"Abstract type '{return_type}' must resolve to an Object type at runtime for field '{where}'."
                f" Either the '{return_type}' type should provide a 'resolve_type' function"
                " or each possible type should provide an 'is_type_of' function.",
                field.nodes,
            )
        if not isinstance(name, str):
            raise GraphQLError(
                f"Abstract type '{return_type}' must resolve to an Object type at runtime for field '{where}' with"
                f" value {inspect(result)}, received '{inspect(name)}', which is not a valid Object type name.",
                field.nodes,
            )
        runtime_type = self.plan.schema.get_type(name)
        if runtime_type is None:
            raise GraphQLError(
                f"Abstract type '{return_type}' was resolved to a type '{name}' that does not exist inside the schema.",
                field.nodes,
            )
        if not isinstance(runtime_type, GraphQLObjectType):
            raise GraphQLError(
                f"Abstract type '{return_type}' was resolved to a non-object type '{name}'.", field.nodes
            )
        if not self.plan.schema.is_sub_type(return_type, runtime_type):
            raise GraphQLError(
                f"Runtime Object type '{runtime_type}' is not a possible type for '{return_type}'.", field.nodes
            )
        return runtime_type

    def complete_object_value(self, field: FieldPlan, return_type: GraphQLObjectType, path: Path, result: Any) -> Any:
        is_type_of = return_type.is_type_of
        if is_type_of is not None:
            info = None if _generated_is_type_of(is_type_of) else self.resolve_info(field, path)
            matches = is_type_of(result, info)  # type: ignore[arg-type]  # Strawberry's own ignores the info
            if is_awaitable(matches):

                async def execute_subfields_async() -> Any:
                    if not await cast("Awaitable[bool]", matches):
                        raise invalid_return_type_error(return_type, result, _details(field))
                    value = self.execute_fields(return_type, self.plan.fields_of(field, return_type), result, path)
                    return await value if is_awaitable(value) else value

                return execute_subfields_async()
            if not matches:
                raise invalid_return_type_error(return_type, result, _details(field))
        return self.execute_fields(return_type, self.plan.fields_of(field, return_type), result, path)

    # --- background work, as graphql-core settles it --------------------------------------------------------

    def settle(self, awaitables: Iterable[Awaitable[Any]]) -> None:
        future = asyncio.gather(*awaitables, return_exceptions=True)
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    def _track(self, values: Any) -> None:
        awaitables = [value for value in values if is_awaitable(value)]
        if awaitables:
            self.settle(awaitables)

    def _gather(self, values: Any) -> Awaitable[list[Any]]:
        return gather_with_cancel(*values)


class _PlannedInfo(Info[Any, Any]):
    """Strawberry's Info, built per resolver call and so cheap to make: the graphql-core resolve info behind it is
    made only if the resolver reads it (most row resolvers return what was preloaded without looking), and
    selected_fields comes from the plan."""

    def __init__(self, run: Run, field: FieldPlan, path: Path) -> None:
        self._cms_run, self._cms_field, self._cms_path = run, field, path
        self._field = cast("StrawberryField", field.strawberry)

    @functools.cached_property
    def _raw_info(self) -> GraphQLResolveInfo[Any]:  # type: ignore[override]  # the dataclass field, made lazily
        return self._cms_run.resolve_info(self._cms_field, self._cms_path)

    @functools.cached_property
    def selected_fields(self) -> list[Selection]:
        return Run.selected_fields(self._cms_field, self._raw_info)


def _details(field: FieldPlan) -> list[FieldDetails]:
    return field.details


def _coercion_message(return_type: Any, result: Any, coerced: Any) -> str:
    return (
        f"Expected `{inspect(return_type)}.coerce_output_value({inspect(result)})` to return non-nullable value,"
        f" returned: {inspect(coerced)}"
    )
