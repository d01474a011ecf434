"""One Python function per selection set of a plan: Run.execute_fields with its loop unrolled.

For each field of the selection set the generated function does what `Run.execute_fields` does with it, in the same
order, with what the plan knows written in as constants: the response key, the attribute a field without resolver
reads, and for a scalar the types its value is returned unchanged as (a str for String and ID, a bool for Boolean).
Such an attribute is read and, when its value is of those types, stored with no call at all; any other value goes
on through `Run.read_leaf` (nulls, coercion, awaitables, errors), and every other field through `Run.execute_field`.
Errors and concurrent fields are handled as in execute_fields (`Run.settle`, `Run.gather_results`).

The source is made only from the plan (keys and attribute names are written with repr() or checked to be
identifiers, nothing from a request is), compiled once per selection set and kept with the plan.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from graphql.pyutils import Path
from strawberry.execution import optimized_is_awaitable as is_awaitable

from cms.api.compiled.plan import AS_IS, INT32, FieldPlan, Kind, Resolve

FieldsFunction = Callable[[Any, Any, Path | None], Any]

PLAIN = frozenset({type(None), str, int, float, bool, dict, list})  # what completing a value gives, never awaitable


def compile_fields(fields: tuple[FieldPlan, ...]) -> FieldsFunction:
    constants: dict[str, Any] = {"Path": Path, "PLAIN": PLAIN, "is_awaitable": is_awaitable}
    lines = [
        "def execute_fields(run, source, path):",
        "    results = {}",
        "    pending = None",
        "    try:",
        "        pass",
    ]
    for index, field in enumerate(fields):
        name = f"F{index}"
        constants[name] = field
        key = repr(field.key)
        if field.resolve is Resolve.TYPENAME:
            lines.append(f"        results[{key}] = {field.parent.name!r}")
            continue
        if field.resolve is Resolve.ATTRIBUTE and field.shape.kind is Kind.LEAF and field.shape.converters:
            attribute = field.attribute
            plain = attribute.isidentifier() and not keyword.iskeyword(attribute)
            read = f"source.{attribute}" if plain else f"getattr(source, {attribute!r})"
            lines += [
                "        try:",
                f"            value = {read}",
                "        except Exception as error:",
                f"            run.handle_field_error(error, {field.shape.non_null}, {name},"
                f" Path(path, {key}, {field.parent.name!r}))",
                f"            results[{key}] = None",
            ]
            lines.append("        else:")
            for number, (type_, converter) in enumerate(field.shape.converters.items()):
                constants[f"{name}_T{number}"] = type_
                test = f"type(value) is {name}_T{number}"
                value = "value"
                if converter is INT32:
                    test += " and -2147483648 <= value <= 2147483647"
                elif converter is not AS_IS:
                    constants[f"{name}_C{number}"] = converter
                    value = f"{name}_C{number}(value)"
                lines.append(f"            {'elif' if number else 'if'} {test}:")
                lines.append(f"                results[{key}] = {value}")
            lines += [
                "            else:",
                f"                results[{key}] = result = run.read_leaf({name}, value, path)",
                "                if type(result) not in PLAIN and is_awaitable(result):",
                f"                    (pending := pending or []).append({key})",
            ]
            continue
        lines += [
            f"        results[{key}] = result = run.execute_field({name}, source, path)",
            "        if type(result) not in PLAIN and is_awaitable(result):",
            f"            (pending := pending or []).append({key})",
        ]
    lines += [
        "    except Exception:",
        "        if pending:",
        "            run.settle([results[key] for key in pending])",
        "        raise",
        "    if not pending:",
        "        return results",
        "    return run.gather_results(results, pending)",
    ]
    namespace: dict[str, Any] = {}
    exec(
        compile("\n".join(lines), f"<compiled fields of {fields[0].parent.name if fields else '?'}>", "exec"),
        constants,
        namespace,
    )  # noqa: S102 - source made from the plan only
    function: FieldsFunction = namespace["execute_fields"]
    return function
