"""Hot reads as SQL compiled once per query shape, run as plain rows.

A read built with Tortoise pays for it on every call: filters resolved, the SQL rendered by pypika, and each row
turned into a model (field by field). For the few reads every page view makes, `compile_query` builds the Tortoise
query once per shape (which filters are present, the ordering, who asks) with placeholder arguments and keeps its SQL
text; `CompiledQuery.fetch` then sends that text with the call's arguments and returns asyncpg's records as they
are. The SQL is Tortoise's own, from the same querysets and visibility rules (cms/content/visibility.py) the models
use, so the two cannot drift apart. It goes through Tortoise's client (`connections.get("default")`), so the read
replica routing (cms/core/replica.py), transactions in progress and statement logging apply as to any other query.

Arguments are told apart from constants by value: each argument is compiled with a placeholder no caller would pass
(`sentinels`). A datetime parameter that is not one of them is the moment of the read (the visibility rules compare
publish times to now()); `fetch` sends the caller's `at` there. Any other parameter is a constant of the shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tortoise import connections

_ARG, _NOW, _CONST = 0, 1, 2
_NOW_SLACK = timedelta(minutes=5)  # a now() taken while compiling is this close to the compile time


class _Compilable(Protocol):
    query: Any

    def sql(self, params_inline: bool = False) -> str: ...


def sentinels(kinds: Mapping[str, type]) -> dict[str, Any]:
    """A placeholder per argument, by its Python type: values no caller passes and no shape contains."""
    made: dict[str, Any] = {}
    for n, (name, kind) in enumerate(kinds.items()):
        if kind is int:
            made[name] = 7_340_000_000_000 + n  # positive: LIMIT refuses negatives
        elif kind is str:
            made[name] = f"\x00sql-shape-argument-{n}"
        elif kind is datetime:
            made[name] = datetime(1001, 1, 1, tzinfo=UTC) + timedelta(microseconds=n)
        elif kind is list:
            made[name] = [f"\x00sql-shape-argument-{n}"]
        else:
            raise TypeError(f"no placeholder for {name}: {kind!r}")
    return made


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str
    slots: tuple[tuple[int, Any], ...]  # per parameter: (_ARG, name) | (_NOW, None) | (_CONST, value)

    def params(self, args: Mapping[str, Any], at: datetime) -> list[Any]:
        return [args[v] if kind == _ARG else at if kind == _NOW else v for kind, v in self.slots]

    async def fetch(self, args: Mapping[str, Any], at: datetime) -> Sequence[Any]:
        """The rows (asyncpg records: by column name or position) for these arguments, read at `at`."""
        rows: Sequence[Any] = (await connections.get("default").execute_query(self.sql, self.params(args, at)))[1]
        return rows


def compile_query(build: Callable[[Mapping[str, Any]], _Compilable], kinds: Mapping[str, type]) -> CompiledQuery:
    """Compile `build(args)` (a Tortoise queryset, usually ending in .values(...)) for arguments of these types."""
    placeholders = sentinels(kinds)
    started = datetime.now(UTC)
    query = build(placeholders)
    sql = query.sql()
    _, params = query.query.get_parameterized_sql()
    slots: list[tuple[int, Any]] = []
    used: set[str] = set()
    for value in params:
        name = next((n for n, p in placeholders.items() if type(p) is type(value) and p == value), None)
        if name is not None:
            slots.append((_ARG, name))
            used.add(name)
        elif isinstance(value, datetime):
            if abs(value - started) > _NOW_SLACK:
                raise ValueError(f"a datetime constant in a compiled query is not the moment of the read: {value!r}")
            slots.append((_NOW, None))
        else:
            slots.append((_CONST, value))
    if missing := set(placeholders) - used:
        raise ValueError(f"arguments not in the compiled query: {sorted(missing)}")
    return CompiledQuery(sql, tuple(slots))
