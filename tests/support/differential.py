"""Differential testing of two GraphQL servers: the same request to both, the answers compared as raw JSON.

Answers are parsed with `object_pairs_hook=list`, so key order and duplicate keys count; the few values that
legitimately differ between two runs are rewritten to placeholders by `Normaliser`, each rule narrow and named:
signed edge URLs (their expiry and signature), the playback and upload expiry, masked errors' correlation ids,
the search index's lag (an age measured when asked), and, between two databases driven in lockstep, timestamps both sides set to now(), request ids and upload UUIDs.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from cms.core.db import PgTarget

# /edge/{kid}/{expires}/{scope}/{signature}/{key}: the expiry is now + CMS_EDGE_URL_SECONDS, so it and the signature
# change from one second to the next; the kid, scope and key must match.
_EDGE_URL = re.compile(r"/edge/([^/\s]+)/(\d+)/([^/\s]+)/([^/\s]+)/")
_CORRELATION = re.compile(r"correlation id \S+ when")
_ALIAS = re.compile(r"^a\d+_")  # query_gen's aliases: a<n>_<field>
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Keys whose values are minted per request whatever the data: the playback URLs' and uploads' expiry.
_PER_REQUEST_TIMES = frozenset({"expiresAt"})
NOW_WINDOW = timedelta(hours=3)


def pairs(text: str) -> Any:
    """JSON with every object as a list of [key, value] pairs: key order and duplicates survive a comparison."""
    return json.loads(text, object_pairs_hook=lambda items: [list(item) for item in items])


@dataclass
class Normaliser:
    """`now_after`: set for two databases driven in lockstep; a timestamp both sides give that is later than this
    (set to now() by the request) is compared as `<now>`, and request ids and upload UUIDs are renamed in order
    of appearance. Unset (one database), only what each request mints (edge URLs, expiries, correlation ids)."""

    now_after: datetime | None = None
    uuids: dict[str, str] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)

    def _now(self, at: datetime) -> bool:
        # Set during the run: after it began, and not far ahead (a schedule's next run, at most an hour or two).
        assert self.now_after is not None
        return self.now_after < at < self.now_after + NOW_WINDOW

    def _count(self, rule: str) -> None:
        self.applied[rule] = self.applied.get(rule, 0) + 1

    def string(self, key: str | None, value: str) -> str:
        if _EDGE_URL.search(value):
            self._count("edge-url")
            value = _EDGE_URL.sub(r"/edge/\1/<expires>/\3/<signature>/", value)
        if key == "message" and _CORRELATION.search(value):
            self._count("correlation-id")
            value = _CORRELATION.sub("correlation id <request> when", value)
        if key == "correlationId":
            self._count("correlation-id")
            return "<request>"
        if key in _PER_REQUEST_TIMES and _timestamp(value) is not None:
            self._count("expiry")
            return "<expires>"
        if self.now_after is None:
            return value
        if key == "requestId":
            self._count("request-id")
            return "<request>"
        if (at := _timestamp(value)) is not None and self._now(at):
            self._count("now")
            return "<now>"
        if key in ("cursor", "endCursor") and (decoded := _cursor(value)) is not None:
            name, sort_value, row_id = decoded
            if isinstance(sort_value, str) and (at := _timestamp(sort_value)) is not None and self._now(at):
                self._count("cursor-now")
                return f"<cursor {name} <now> {row_id}>"
        if _UUID.search(value):
            self._count("uuid")
            return _UUID.sub(lambda m: self.uuids.setdefault(m.group(0), f"<uuid {len(self.uuids) + 1}>"), value)
        return value

    def __call__(self, value: Any, key: str | None = None) -> Any:
        """`value` as `pairs` gives it, with the rules applied (a new structure). Rules go by field name: an alias
        as tests/support/query_gen.py writes them (`a3_lagSeconds`) counts as its field."""
        key = _ALIAS.sub("", key) if key else key
        if key == "lagSeconds" and isinstance(value, float) and value > 0:
            # searchStatus: the age of the oldest pending change, measured when asked (0 stays 0).
            self._count("lag")
            return "<lag>"
        if isinstance(value, str):
            return self.string(key, value)
        if isinstance(value, list):
            if _is_object(value):
                return [[k, self(v, k)] for k, v in value]  # the key itself as given: aliases are compared too
            return [self(item, key) for item in value]
        return value


def _is_object(value: list[Any]) -> bool:
    # pairs() turns every object into a list of [str, value] lists; an empty list stays ambiguous (and equal).
    return bool(value) and all(isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) for item in value)


def _timestamp(value: str) -> datetime | None:
    if len(value) < 19 or value[4] != "-" or value[10] != "T":
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _cursor(value: str) -> tuple[str, Any, int] | None:
    try:
        name, sort_value, row_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError, binascii.Error):
        return None
    return name, sort_value, row_id


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # pairs() of the JSON body (the text itself when it is not JSON)

    def comparable(self, normalise: Normaliser) -> tuple[int, str, Any]:
        return self.status, self.content_type, normalise(self.body)


async def ask(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, token: str | None) -> Answer:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await client.post("/graphql", json=payload, headers=headers)
    try:
        body = pairs(response.text)
    except ValueError:
        body = response.text
    return Answer(response.status_code, response.headers.get("content-type", ""), body)


@dataclass
class Difference:
    label: str
    query: str
    variables: Any
    role: str | None
    left: Any
    right: Any

    def __str__(self) -> str:
        return (
            f"{self.label} as {self.role or 'anonymous'}\nquery: {self.query}\nvariables: {json.dumps(self.variables)}"
            f"\nstandard: {json.dumps(self.left)[:3000]}\ncompiled: {json.dumps(self.right)[:3000]}"
        )


@dataclass
class Pair:
    """Two clients (`left`: the standard executor, `right`: the compiled one) asked the same thing; `compared`
    counts the requests each answered, `differences` what did not match."""

    left: httpx.AsyncClient
    right: httpx.AsyncClient
    normalise: Normaliser = field(default_factory=Normaliser)
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each side numbers the UUIDs it gives out on its own: the n-th new one is `<uuid n>` on both.
        self.normalise_right = replace(self.normalise, uuids={}, applied={})

    @property
    def applied(self) -> dict[str, int]:
        """How often each normalising rule fired, both sides together."""
        rules = self.normalise.applied
        return {
            k: rules.get(k, 0) + self.normalise_right.applied.get(k, 0) for k in {*rules, *self.normalise_right.applied}
        }

    async def both(
        self,
        label: str,
        query: str,
        variables: dict[str, Any] | None,
        *,
        role: str | None,
        token: str | None,
        right_variables: dict[str, Any] | None = None,
    ) -> tuple[Answer, Answer]:
        """`right_variables`: what the right side gets instead, where a value is each side's own (an upload id)."""
        right_vars = variables if right_variables is None else right_variables
        # Alternate who goes first, so a side effect of the first request (a user row made on first sight, a
        # loader's warm cache) cannot always favour the same side.
        if self.compared % 2:
            right = await ask(self.right, query, right_vars, token)
            left = await ask(self.left, query, variables, token)
        else:
            left = await ask(self.left, query, variables, token)
            right = await ask(self.right, query, right_vars, token)
        self.compared += 1
        a, b = left.comparable(self.normalise), right.comparable(self.normalise_right)
        if a != b:
            self.differences.append(Difference(label, query, variables, role, a, b))
        return left, right

    def report(self, limit: int = 5) -> str:
        shown = "\n\n".join(str(d) for d in self.differences[:limit])
        return f"{len(self.differences)} of {self.compared} answers differ; the first {limit}:\n\n{shown}"


def data_of(answer: Answer) -> Any:
    """The answer's `data` as plain JSON (dicts), for a test to pick ids from."""
    return json.loads(json.dumps(_plain(answer.body)))["data"]


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        if _is_object(value):
            return {k: _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    return value


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) inside a plain JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


async def copy_database(source: PgTarget, target: PgTarget, *, skip: Sequence[str] = ("aerich",)) -> None:
    """Copy every row of `source`'s public tables into `target` (same schema, already migrated), sequences too.

    For a database that stays open elsewhere (CREATE DATABASE ... TEMPLATE needs it idle): the copy becomes the
    template. Triggers and foreign keys are off while it loads (session_replication_role), as in a restore."""
    src, dst = await source.connect(), await target.connect()
    try:
        tables = [
            r["table_name"]
            for r in await src.fetch(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
            if r["table_name"] not in skip
        ]
        async with dst.transaction():
            await dst.execute("SET LOCAL session_replication_role = replica")
            quoted = ", ".join(f'"{t}"' for t in tables)
            await dst.execute(f"TRUNCATE {quoted} CASCADE")
            async with src.transaction(isolation="repeatable_read", readonly=True):
                for table in tables:
                    # PostgreSQL's own binary COPY format: every type as stored (tsvector too), no codecs here.
                    columns = [
                        r["column_name"]
                        for r in await src.fetch(
                            "SELECT column_name FROM information_schema.columns"
                            " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                            table,
                        )
                    ]
                    buffer = io.BytesIO()
                    await src.copy_from_table(table, columns=columns, output=buffer, format="binary")
                    buffer.seek(0)
                    await dst.copy_to_table(table, columns=columns, source=buffer, format="binary")
                for row in await src.fetch(
                    "SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
                ):
                    if row["last_value"] is not None:
                        await dst.execute("SELECT setval($1, $2)", f'public."{row["sequencename"]}"', row["last_value"])
    finally:
        await src.close()
        await dst.close()


async def clone_database(server: PgTarget, template: PgTarget, name: str) -> PgTarget:
    """CREATE DATABASE `name` TEMPLATE `template` (which must be idle)."""
    admin = await server.with_database("postgres").connect()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
    finally:
        await admin.close()
    return server.with_database(name)
