"""Random but reproducible GraphQL queries over a live schema, for differential tests.

`QueryGenerator(schema, values, seed)` walks the graphql-core schema: root query fields with arguments taken from
`Values` (ids of seeded rows, cursors, slugs...) as literals or variables, selections nested a few levels, aliases,
repeated fields, __typename, named and inline fragments (on interfaces and unions too), @include/@skip on Boolean
variables, nulls and lists. `valid()` gives queries that pass validation (checked here), `invalid()` ones that do
not (an unknown field, an argument of the wrong type, a missing required argument, a variable of the wrong type).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSyntaxError,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    parse,
    validate,
)

# Fields the generator leaves out: they run the same code whoever asks (or cost far more than they tell).
SKIP_ROOT_FIELDS = frozenset({"__schema", "__type"})
# An argument given as a literal (not a variable), for `_wrong_argument_type`.
_LITERAL_ARGUMENT = re.compile(r"(?<=[(, ])(first|id|slug|status): (?!\$)([^,)]+)(?=[,)])")


@dataclass
class Values:
    """What arguments may hold: ids by node type ("missing" and "malformed" ones included), page cursors, etc."""

    ids: dict[str, list[str]]  # type name -> global ids; "*" -> any id (missing, malformed, of another type)
    cursors: list[str]
    strings: dict[str, list[str]] = field(default_factory=dict)  # argument or field name -> plausible strings
    datetimes: list[str] = field(default_factory=lambda: ["2000-01-01T00:00:00+00:00", "2999-01-01T00:00:00Z"])

    def id_for(self, name: str, rng: random.Random) -> str:
        hint = {
            "programId": "Program",
            "programIds": "Program",
            "episodeId": "Episode",
            "entityId": "*",
            "actorId": "User",
            "targetId": "Episode",
            "parentId": "Comment",
        }.get(name, "*")
        pool = self.ids.get(hint) or self.ids["*"]
        if rng.random() < 0.2:
            pool = self.ids["*"]
        return rng.choice(pool)


@dataclass
class Case:
    label: str
    query: str
    variables: dict[str, Any]


class _Document:
    """One query being built: its variables and named fragments."""

    def __init__(self) -> None:
        self.variables: dict[str, tuple[str, Any]] = {}  # name -> (type as written, value)
        self.fragments: dict[str, str] = {}

    def variable(self, type_text: str, value: Any) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = (type_text, value)
        return f"${name}"

    def text(self, selection: str) -> str:
        header = ""
        if self.variables:
            header = "(" + ", ".join(f"${n}: {t}" for n, (t, _) in self.variables.items()) + ")"
        fragments = "".join(f"\n{f}" for f in self.fragments.values())
        return f"query Generated{header} {selection}{fragments}"


class QueryGenerator:
    def __init__(self, schema: GraphQLSchema, values: Values, *, seed: int = 16, max_depth: int = 4) -> None:
        self.schema = schema
        self.values = values
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        query = schema.query_type
        assert query is not None
        self.query_type = query

    # -- values -------------------------------------------------------------------------------------------------

    def _literal(self, value: Any) -> str:
        """A Python value as a GraphQL literal (enums are passed as `_Enum` markers)."""
        if isinstance(value, _Enum):
            return value.name
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return json.dumps(value)
        if isinstance(value, str):
            return json.dumps(value)
        if isinstance(value, list):
            return "[" + ", ".join(self._literal(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {self._literal(v)}" for k, v in value.items()) + "}"
        raise TypeError(value)

    def _value(self, name: str, type_: GraphQLInputType, depth: int = 0) -> Any:
        """A value for an argument or input field `name` of `type_` (None allowed where the type is nullable)."""
        rng = self.rng
        if not isinstance(type_, GraphQLNonNull) and rng.random() < 0.1:
            return None
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if isinstance(inner, GraphQLList):
            return [self._value(name, inner.of_type, depth + 1) for _ in range(rng.choice((0, 1, 1, 2)))]
        if isinstance(inner, GraphQLEnumType):
            return _Enum(rng.choice(list(inner.values)))
        if isinstance(inner, GraphQLInputObjectType):
            fields = list(inner.fields.items())
            return {
                k: self._value(k, f.type, depth + 1)
                for k, f in fields
                if (isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined) or rng.random() < 0.4
            }
        assert isinstance(inner, GraphQLScalarType), inner
        return self._scalar(name, inner.name)

    def _scalar(self, name: str, scalar: str) -> Any:
        rng = self.rng
        if scalar == "ID":
            return self.values.id_for(name, rng)
        if scalar == "Int":
            if name in ("first", "runs", "last"):
                return rng.choice((0, 1, 2, 3, 5))
            return rng.choice((0, 1, 2, 7, -1))
        if scalar == "Float":
            return rng.choice((0.0, 1.5, 12.25))
        if scalar == "Boolean":
            return rng.random() < 0.5
        if scalar == "DateTime":
            return rng.choice(self.values.datetimes)
        if scalar == "String":
            if name == "after":
                return rng.choice(self.values.cursors)
            return rng.choice(self.values.strings.get(name) or self.values.strings.get("*") or ["x"])
        if scalar == "BigInt":
            return rng.choice((0, 1024, "4294967296"))
        if scalar == "JSON":
            return rng.choice(({}, {"a": 1}, [1, "x"], "text"))
        return None  # an unknown scalar: null

    def _arguments(self, doc: _Document, args: dict[str, GraphQLArgument]) -> str:
        parts = []
        for name, arg in args.items():
            required = isinstance(arg.type, GraphQLNonNull)
            if not required and self.rng.random() < 0.5:
                continue
            value = self._value(name, arg.type)
            if self.rng.random() < 0.5:
                parts.append(f"{name}: {doc.variable(str(arg.type), _json(value))}")
            else:
                parts.append(f"{name}: {self._literal(value)}")
        return f"({', '.join(parts)})" if parts else ""

    # -- selections ---------------------------------------------------------------------------------------------

    def _directive(self, doc: _Document) -> str:
        roll = self.rng.random()
        if roll < 0.08:
            return f" @include(if: {doc.variable('Boolean!', self.rng.random() < 0.5)})"
        if roll < 0.14:
            return f" @skip(if: {doc.variable('Boolean!', self.rng.random() < 0.5)})"
        if roll < 0.17:
            return f" @include(if: {self._literal(self.rng.random() < 0.5)})"
        return ""

    def _field(self, doc: _Document, name: str, definition: GraphQLField, depth: int, alias: str | None) -> str:
        head = f"{alias}: {name}" if alias else name
        text = head + self._arguments(doc, definition.args) + self._directive(doc)
        named = get_named_type(definition.type)
        if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return text + " " + self._selection(doc, named, depth + 1)
        return text

    def _selection(self, doc: _Document, type_: GraphQLOutputType, depth: int) -> str:
        rng = self.rng
        items: list[str] = []
        if isinstance(type_, GraphQLUnionType):
            items.append("__typename")
            for member in rng.sample(type_.types, k=min(len(type_.types), rng.choice((1, 2)))):
                items.append(self._spread(doc, member, depth))
            return "{ " + " ".join(items) + " }"
        assert isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType))
        fields = list(type_.fields.items())
        leaves = [(n, f) for n, f in fields if not _composite(f)]
        nested = [(n, f) for n, f in fields if _composite(f)]
        if depth >= self.max_depth:
            nested = []
        count = rng.choice((1, 2, 3, 4))
        chosen = rng.sample(leaves, k=min(len(leaves), count))
        if nested and rng.random() < 0.8:
            chosen += rng.sample(nested, k=min(len(nested), rng.choice((1, 1, 2))))
        if not chosen:  # a type of composite fields only, at the depth limit
            chosen = [rng.choice(fields)] if depth < self.max_depth + 2 else []
        aliases = 0
        for name, definition in chosen:
            alias = None
            if rng.random() < 0.15:
                alias, aliases = f"a{aliases}_{name}", aliases + 1
            text = self._field(doc, name, definition, depth, alias)
            items.append(text)
            if rng.random() < 0.08 and "$" not in text:
                items.append(text)  # the very same field again: merged by the executor
        if rng.random() < 0.3:
            items.append("__typename")
        if isinstance(type_, GraphQLInterfaceType):
            for impl in rng.sample(
                list(self.schema.get_possible_types(type_)), k=rng.choice((1, 2, 3))
            ):  # inline fragments or named fragments on what the interface may be
                items.append(self._spread(doc, impl, depth))
        elif rng.random() < 0.1:
            items.append(self._spread(doc, type_, depth))  # a fragment on the type itself
        if not items:
            items.append("__typename")
        return "{ " + " ".join(items) + " }"

    def _spread(self, doc: _Document, type_: GraphQLObjectType, depth: int) -> str:
        inner = self._selection(doc, type_, depth)
        if self.rng.random() < 0.3:
            name = f"F{len(doc.fragments)}_{type_.name}"
            doc.fragments[name] = f"fragment {name} on {type_.name} {inner}"
            return f"...{name}"
        return f"... on {type_.name} {inner}"

    # -- documents ----------------------------------------------------------------------------------------------

    def _query(self) -> tuple[str, dict[str, Any]]:
        doc = _Document()
        roots = [(n, f) for n, f in self.query_type.fields.items() if n not in SKIP_ROOT_FIELDS]
        items = []
        for i, (name, definition) in enumerate(self.rng.sample(roots, k=self.rng.choice((1, 1, 2, 3)))):
            alias = f"r{i}" if self.rng.random() < 0.3 else None
            items.append(self._field(doc, name, definition, 1, alias))
        if self.rng.random() < 0.2:
            items.append("__typename")
        query = doc.text("{ " + " ".join(items) + " }")
        return query, {n: v for n, (_, v) in doc.variables.items()}

    def valid(self, count: int) -> list[Case]:
        """`count` queries that pass validation (generated ones that would not are dropped and replaced)."""
        cases: list[Case] = []
        while len(cases) < count:
            query, variables = self._query()
            if not validate(self.schema, parse(query)):
                cases.append(Case(f"generated #{len(cases)}", query, variables))
        return cases

    def invalid(self, count: int) -> list[Case]:
        """`count` queries each broken one way: validation, or variable coercion, must refuse them."""
        breakers = (_unknown_field, _wrong_argument_type, _missing_argument, _wrong_variable, _unknown_type)
        cases: list[Case] = []
        for attempt in range(count * 50):
            if len(cases) == count:
                break
            query, variables = self._query()
            broken = breakers[attempt % len(breakers)](query, variables, self.rng)
            if broken is None:
                continue
            query, variables = broken
            try:
                errors = validate(self.schema, parse(query))
            except GraphQLSyntaxError:
                errors = []
            if errors or variables.get("__wrong__"):
                variables.pop("__wrong__", None)
                cases.append(Case(f"invalid #{len(cases)}", query, variables))
        return cases


class _Enum:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Enum) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _composite(definition: GraphQLField) -> bool:
    return isinstance(get_named_type(definition.type), (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType))


def _json(value: Any) -> Any:
    """A value as a variable carries it (enums by name)."""
    if isinstance(value, _Enum):
        return value.name
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _unknown_field(query: str, variables: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    at = query.rfind("{ ")
    return query[: at + 2] + "noSuchField " + query[at + 2 :], variables


def _wrong_argument_type(
    query: str, variables: dict[str, Any], rng: random.Random
) -> tuple[str, dict[str, Any]] | None:
    wrong = {"first": '"ten"', "id": "12.5", "slug": "[1]", "status": '"DRAFT"'}
    if match := _LITERAL_ARGUMENT.search(query):
        return query[: match.start(2)] + wrong[match.group(1)] + query[match.end(2) :], variables
    return None


def _missing_argument(query: str, variables: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    for field_name in ("episode", "node", "source", "search"):
        marker = f"{{ {field_name}("
        if (at := query.find(marker)) >= 0:
            close = query.find(")", at)
            return query[: at + len(marker) - 1] + query[close + 1 :], variables
    return None


def _wrong_variable(query: str, variables: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    if not variables:
        return None
    name = rng.choice(sorted(variables))
    wrong = dict(variables)
    current = variables[name]
    wrong[name] = {"not": "this"} if not isinstance(current, dict) else "not an object"
    wrong["__wrong__"] = True
    return query, wrong


def _unknown_type(query: str, variables: dict[str, Any], rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    at = query.rfind("{ ")
    return query[: at + 2] + "... on NoSuchType { id } " + query[at + 2 :], variables
