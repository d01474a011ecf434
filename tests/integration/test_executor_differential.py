"""The compiled executor answers exactly as Strawberry's standard one: every operation in graphql/operations/ and a
few hundred generated queries, for every role and visibility case, byte for byte (key order included).

Queries: two apps in this process on the session database, one with CMS_GRAPHQL_COMPILED off (the standard
executor) and one with it on, both with the public cache and rate limits off. Mutations: two `cms serve` processes
on two databases cloned from one seeded template, driven in lockstep. What legitimately differs between two runs
is normalised by tests/support/differential.py, each rule narrow and named; everything else must be identical.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cms.api.ids import from_global_id, to_global_id
from cms.app import create_app
from cms.core.db import PgTarget
from cms.core.settings import Settings
from cms.services import Services
from graphql import OperationDefinitionNode, VariableDefinitionNode, parse, print_ast
from search.postgres.backend import TABLES as SEARCH_TABLES
from tests.conftest import TABLES
from tests.support import database, media
from tests.support.api import OPERATIONS, Api
from tests.support.differential import Answer, Normaliser, Pair, clone_database, copy_database, data_of, walk
from tests.support.jobs import database_url, drain
from tests.support.loopback import serving
from tests.support.oidc_issuer import TestIssuer
from tests.support.processes import child_env, run_cms
from tests.support.query_gen import QueryGenerator, Values
from tests.support.serve import serve_process, server_env

ROLES: tuple[str | None, ...] = (None, "viewer", "editor", "admin")
FAR_FUTURE = "2999-01-01T00:00:00+00:00"
PAST = "2001-02-03T04:05:06+00:00"
BASE_URL = "http://cms.test"  # PUBLIC_BASE_URL of every side: URLs in answers do not carry each server's port
# The switch (cms/core/settings.py), found by its variable: absent, both sides run the standard executor.
COMPILED = next((n for n, f in Settings.model_fields.items() if f.alias == "CMS_GRAPHQL_COMPILED"), None)
GENERATED_VALID = 300
GENERATED_INVALID = 40


def _side(settings: Settings, compiled: bool) -> Settings:
    update: dict[str, Any] = {"public_cache_seconds": 0, "rate_limit_enabled": False, "public_base_url": BASE_URL}
    if COMPILED is not None:
        update[COMPILED] = compiled
    return settings.model_copy(update=update)


def _env_side(compiled: bool) -> dict[str, str]:
    return {
        "CMS_GRAPHQL_COMPILED": "true" if compiled else "false",
        "CMS_PUBLIC_CACHE_SECONDS": "0",
        "CMS_RATE_LIMIT_ENABLED": "false",
        "PUBLIC_BASE_URL": BASE_URL,
    }


# -- the seeded world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    ids: dict[str, str] = field(default_factory=dict)  # name -> global id
    slugs: dict[str, str] = field(default_factory=dict)
    tokens: dict[str | None, str | None] = field(default_factory=dict)

    def of(self, type_name: str) -> list[str]:
        """The ids of one node type: each visibility case once (one of the pages of episodes)."""
        return [
            v
            for k, v in self.ids.items()
            if k.startswith(type_name.lower() + ":")
            and not k.startswith(("episode:page", "program:deleted"))
            and k != "episode:deleted"
        ] + ([self.ids["episode:page0"]] if type_name == "Episode" else [])

    def extra_ids(self) -> list[str]:
        """Ids no row has: missing, malformed, of no node type."""
        return [self.ids["program:deleted"], self.ids["episode:deleted"], "RXBpc29kZTo5OTk5OTk", "not-an-id", ""]


class Seeder:
    """Seeds through the GraphQL API as editors and viewers would; SQL only for what the API cannot do."""

    def __init__(self, api: Api, world: World) -> None:
        self.api, self.world = api, world

    async def op(self, name: str, variables: dict[str, Any], role: str = "editor", sub: str | None = None) -> Any:
        data = await self.api.data((OPERATIONS / f"{name}.graphql").read_text(), variables, role=role, sub=sub)
        (result,) = data.values()
        assert result.get("__typename") not in ("ValidationError", "NotFoundError", "ForbiddenError"), (name, result)
        return result

    async def program(self, key: str, title: str, publish: str | None | bool = False, **fields: Any) -> str:
        created = await self.op("CreateProgram", {"input": {"title": title, **fields}})
        self.world.ids[f"program:{key}"], self.world.slugs[key] = created["id"], created["slug"]
        if publish is not False:
            await self.op("PublishProgram", {"id": created["id"], "at": publish})
        return created["id"]

    async def episode(
        self, key: str, program: str, title: str, publish: str | None | bool = False, **fields: Any
    ) -> str:
        variables = {"input": {"programId": self.world.ids[f"program:{program}"], "title": title, **fields}}
        created = await self.op("CreateEpisode", variables)
        self.world.ids[f"episode:{key}"] = created["id"]
        if publish is not False:
            await self.op("PublishEpisode", {"id": created["id"], "at": publish})
        return created["id"]

    async def upload(
        self, key: str, data: bytes, filename: str, content_type: str, *, complete: bool = True, **target: str
    ) -> str:
        variables = {"input": {"filename": filename, "size": len(data), "contentType": content_type, **target}}
        upload = await self.op("CreateUpload", variables)
        self.world.ids[f"asset:{key}"] = upload["asset"]["id"]
        if complete:
            path = upload["url"].removeprefix(BASE_URL)
            token = self.api.token("editor")
            response = await self.api.client.put(path, content=data, headers={"authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            await self.op("CompleteUpload", {"id": upload["id"]})
        return upload["asset"]["id"]

    async def comment(
        self, key: str, target: str, body: str, role: str = "viewer", sub: str | None = None, **fields: Any
    ) -> str:
        variables = {"input": {"targetId": target, "body": body, **fields}}
        created = await self.op("AddComment", variables, role=role, sub=sub)
        self.world.ids[f"comment:{key}"] = created["id"]
        return created["id"]


async def _seed(api: Api, settings: Settings, db: PgTarget) -> World:
    world = World()
    s = Seeder(api, world)
    ids = world.ids
    await s.program("live", "Live Show", None, category="news", language="en", tags=["a", "b"], description="Daily")
    await s.program("live2", "Second Live Show", None, category="sport", language="fa-IR", tags=["b"])
    await s.program("draft", "Draft Show", description="Not yet")
    await s.program("future", "Scheduled Show", FAR_FUTURE, category="news")
    await s.program("archived", "Archived Show", None)
    await s.op("UnpublishProgram", {"id": ids["program:archived"]})
    await s.program("deleted", "Deleted Show")
    await s.op("DeleteProgram", {"id": ids["program:deleted"]})

    await s.episode("live", "live", "Live Episode", None, season=1, number=1, description="First", metadata={"k": 1})
    await s.episode("live_b", "live", "Another Live Episode", None, season=1, number=2)
    await s.episode("past", "live", "Backdated Episode", PAST, season=2, number=1)
    await s.episode("draft", "live", "Draft Episode", season=2, number=2)
    await s.episode("scheduled", "live", "Scheduled Episode", FAR_FUTURE)
    await s.episode("unpublished", "live", "Unpublished Episode", None)
    await s.op("UnpublishEpisode", {"id": ids["episode:unpublished"]})
    await s.episode("orphan", "draft", "Orphan Episode", None)  # published, in a draft program
    await s.episode("future_program", "future", "Future Program Episode", None)
    await s.episode("archived_program", "archived", "Archived Program Episode", None)
    for n in range(6):  # a longer list, for pages
        await s.episode(f"page{n}", "live2", f"Page Episode {n}", None, season=1, number=n + 1)
    await s.episode("deleted", "live", "Deleted Episode")
    await s.op("DeleteEpisode", {"id": ids["episode:deleted"]})

    # Assets: READY video and image (with renditions), FAILED, then PROCESSING and UPLOADING (no worker ran them).
    await s.upload(
        "video", media.mp4_clip(1.0, 160, 120, audio=False), "clip.mp4", "video/mp4", episodeId=ids["episode:live"]
    )
    await s.upload("image", media.png_image(), "still.png", "image/png", episodeId=ids["episode:live_b"])
    await s.upload("cover", media.png_image(80, 60), "cover.png", "image/png", programId=ids["program:live"])
    await s.upload(
        "failed",
        media.truncated(media.mp4_clip(1.0, 160, 120, seed=3)),
        "broken.mp4",
        "video/mp4",
        episodeId=ids["episode:draft"],
    )
    await drain(settings)
    await s.upload("processing", media.png_image(32, 32), "later.png", "image/png", episodeId=ids["episode:past"])
    await s.upload(
        "uploading", media.png_image(), "pending.png", "image/png", complete=False, episodeId=ids["episode:orphan"]
    )
    await s.op("UpdateProgram", {"id": ids["program:live"], "input": {"coverAssetId": ids["asset:cover"]}})

    # Comments: a thread with a reply, a resolved one, a deleted one, on a draft (by an editor) and on an asset.
    await s.comment("top", ids["episode:live"], "First!", timecode=1.5)
    await s.comment("reply", ids["episode:live"], "A reply", role="editor", parentId=ids["comment:top"])
    await s.comment("resolved", ids["episode:live"], "Fix the audio", sub="viewer-2")
    await s.op("ResolveComment", {"id": ids["comment:resolved"]})
    await s.comment("deleted", ids["episode:live"], "Oops")
    await s.op("DeleteComment", {"id": ids["comment:deleted"]}, role="viewer")
    await s.comment("on_draft", ids["episode:draft"], "Internal note", role="editor")
    await s.comment("on_asset", ids["asset:video"], "Nice frame", role="editor", timecode=0.5)

    for role in ROLES[1:]:  # every role's user row exists before the reads (first sight creates it)
        await api.data("{ viewer { id } }", role=role)

    # Ingest sources (never run here: their runs are inserted below).
    for key, schedule in (("manual", None), ("scheduled", 60)):
        config = {"url": f"https://feeds.example.org/{key}.xml"}
        variables = {"programId": ids["program:live"], "kind": "rss", "name": f"{key} feed", "config": config}
        created = await s.op("CreateSource", {"input": {**variables, "scheduleMinutes": schedule}})
        ids[f"source:{key}"] = created["id"]

    # What the API cannot do: finished source runs, and a job in the dead-letter list.
    conn = await db.connect()
    try:
        source_pk = from_global_id(ids["source:manual"])[1]
        for status, error, problems in (
            ("SUCCEEDED", None, [{"external_id": "item-1", "reason": "no media"}]),
            ("FAILED", "feed unreachable", []),
        ):
            await conn.execute(
                "INSERT INTO ingest_source_run (status, trigger, started_at, heartbeat_at, finished_at, found, created,"
                " updated, skipped, failed, gone, problems, error, source_id)"
                " VALUES ($1, 'manual', $2, $2, $2, 3, 1, 1, 1, 0, 0, $3::jsonb, $4, $5)",
                status,
                datetime(2020, 5, 1, tzinfo=UTC),
                json.dumps(problems),
                error,
                source_pk,
            )
        await conn.execute(
            "UPDATE job SET status = 'DEAD', last_error = 'gave up', finished_at = '2020-05-02T00:00:00Z'"
            " WHERE id = (SELECT min(id) FROM job WHERE status = 'SUCCEEDED')"
        )
        # A few of each (enough for node(id:) and filters; their lists are read whole elsewhere).
        for (pk,) in await conn.fetch("SELECT id FROM job ORDER BY status = 'DEAD' DESC, id LIMIT 2"):
            ids[f"job:{pk}"] = to_global_id("Job", pk)
        for (pk,) in await conn.fetch("SELECT id FROM cms_user ORDER BY id"):
            ids[f"user:{pk}"] = to_global_id("User", pk)
        for (pk,) in await conn.fetch("SELECT id FROM audit_entry ORDER BY id LIMIT 2"):
            ids[f"auditentry:{pk}"] = to_global_id("AuditEntry", pk)
        for (pk,) in await conn.fetch("SELECT id FROM ingest_source_run"):
            ids[f"sourcerun:{pk}"] = to_global_id("SourceRun", pk)
    finally:
        await conn.close()
    return world


# -- fixtures ---------------------------------------------------------------------------------------------------------


@dataclass
class Sides:
    pair: Pair
    world: World
    api: Api
    services: Services


@pytest.fixture(scope="module")
async def sides(live_server, settings: Settings, db_target: PgTarget, issuer: TestIssuer) -> AsyncIterator[Sides]:
    standard = Services(_side(settings, compiled=False))
    compiled = Services(_side(settings, compiled=True))
    async with (
        serving(create_app(standard)) as left_url,
        serving(create_app(compiled)) as right_url,
        httpx.AsyncClient(base_url=left_url, timeout=60) as left,
        httpx.AsyncClient(base_url=right_url, timeout=60) as right,
    ):
        api = Api(left, issuer)
        try:
            world = await _seed(api, _side(settings, compiled=False), db_target)
            world.tokens = {role: api.token(role) for role in ROLES}
            yield Sides(Pair(left, right), world, api, standard)
        finally:  # the next module starts from empty tables, as after every test (tests/conftest.py)
            await database.empty_tables([*TABLES, *SEARCH_TABLES])


@pytest.fixture(scope="module")
def compiled_runs() -> Iterator[Counter[tuple[str, bool]]]:
    """(query text, whether the compiled path answered it) -> requests, counted on the compiled side: a test where
    every request fell back to the standard executor would compare that executor with itself. Counting only."""
    runs: Counter[tuple[str, bool]] = Counter()
    try:
        from cms.api.compiled.operations import CompiledOperations
    except ImportError:  # no compiled executor yet: nothing to count
        yield runs
        return
    original = CompiledOperations.execute

    async def counting(self: Any, **kwargs: Any) -> Any:
        result = await original(self, **kwargs)
        runs[(kwargs["query"], result is not None)] += 1
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CompiledOperations, "execute", counting)
        yield runs


def _coverage(runs: Counter[tuple[str, bool]], queries: set[str]) -> tuple[int, int]:
    """(requests the compiled path answered, requests it was asked) among `queries`."""
    compiled = sum(n for (q, done), n in runs.items() if done and q in queries)
    return compiled, sum(n for (q, _), n in runs.items() if q in queries)


# -- the operations in graphql/operations/ ---------------------------------------------------------------------------


def _operations() -> dict[str, tuple[str, str, list[VariableDefinitionNode]]]:
    """name -> (text, kind, variable definitions) for every operation file."""
    found = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        text = path.read_text()
        (definition,) = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
        found[path.stem] = (text, definition.operation.value, list(definition.variable_definitions or ()))
    return found


# Which ids an operation's $id takes: its root field decides (node: every kind).
_ID_POOLS = {
    "episode": ("Episode",),
    "program": ("Program",),
    "source": ("Source",),
    "assetProgress": ("Asset",),
    "node": ("Program", "Episode", "Asset", "Comment", "User", "AuditEntry", "Job", "Source", "SourceRun"),
}

NEXT_PAGE = "<the endCursor of the first: 2 page>"


def _variable_cases(name: str, text: str, definitions: list[VariableDefinitionNode], world: World) -> list[dict]:
    names = {d.variable.name.value: print_ast(d.type) for d in definitions}
    root = parse(text).definitions[0].selection_set.selections[0].name.value  # type: ignore[attr-defined]
    cases: list[dict[str, Any]] = []
    base: dict[str, Any] = {}
    if "id" in names:
        pool = [i for type_name in _ID_POOLS.get(root, ("Asset",)) for i in world.of(type_name)] + world.extra_ids()
        if name.startswith(("Asset", "AdminAsset")):
            pool = [*world.of("Asset"), world.ids["episode:live"], *world.extra_ids()]
        cases += [{"id": i} for i in pool]
        base = {"id": _primary(root, world)}
    if "query" in names:
        for query in ("Live", "show", '"Live Show"', "episode -draft", "Liev", "", "zzz OR page"):
            cases.append({"query": query})
        base = {"query": "episode"}
        cases += [
            {**base, "filter": {"includeDrafts": True}},
            {**base, "filter": {"kinds": ["PROGRAM"], "languages": ["fa"]}},
            {**base, "filter": {"programIds": [world.ids["program:live2"]], "tags": ["b"]}},
            {**base, "filter": {"categories": ["news"], "publishedAfter": PAST, "publishedBefore": FAR_FUTURE}},
            {**base, "orderBy": "DATE"},
        ]
    if "slug" in names:
        cases += [{"slug": slug} for slug in world.slugs.values()] + [{"slug": "no-such-slug"}, {"id": None}]
    if "first" in names or "runs" in names:
        key = "first" if "first" in names else "runs"
        cases += [{**base, key: n} for n in (0, 1, 2, -1, 1000)]
    if "after" in names:
        cases += [{**base, "first": 2, "after": NEXT_PAGE}, {**base, "after": "bad-cursor"}, {**base, "after": ""}]
    if "filter" in names and "query" not in names:
        type_name = names["filter"]
        if type_name == "EpisodeFilter":
            filters: list[dict[str, Any]] = [
                {"status": "DRAFT"},
                {"status": "PUBLISHED", "season": 1},
                {"programId": world.ids["program:live2"]},
                {"programId": "not-an-id"},
                {"category": "news", "language": "en", "tags": ["a"]},
                {"publishedAfter": PAST, "publishedBefore": FAR_FUTURE},
            ]
        elif type_name == "ProgramFilter":
            filters = [{"status": "DRAFT"}, {"status": "ARCHIVED"}, {"tags": ["b"]}, {"language": "fa-IR"}]
        else:  # AuditFilter
            filters = [
                {"entityId": world.ids["program:live"]},
                {"action": "program.publish"},
                {"actorId": world.of("User")[0]},
                {"entityId": "bad"},
            ]
        cases += [{**base, "filter": f} for f in filters]
    if "orderBy" in names and "query" not in names:
        fields = ("CREATED_AT", "PUBLISH_AT", "TITLE", "NUMBER") if "Episode" in names["orderBy"] else ("TITLE",)
        cases += [{**base, "orderBy": {"field": f, "direction": "ASC"}} for f in fields]
        cases += [{**base, "orderBy": {"field": "PUBLISH_AT"}}]
    if "status" in names:
        cases += [{"status": s} for s in ("QUEUED", "RUNNING", "SUCCEEDED", "DEAD", None)]
    if not cases:
        cases = [{}]
    cases.append(base)  # required variables missing (when there are any): a request error, same on both sides
    unique = {json.dumps(case, sort_keys=True): case for case in cases}
    return list(unique.values())


def _primary(root: str, world: World) -> str:
    return {
        "program": world.ids["program:live2"],
        "source": world.ids["source:manual"],
    }.get(root, world.ids["episode:live"])


async def _run_operation(pair: Pair, name: str, text: str, variables: dict, world: World) -> None:
    """The operation for every role at once (reads only: the roles cannot disturb each other)."""

    async def as_role(role: str | None) -> None:
        token = world.tokens[role]
        if variables.get("after") == NEXT_PAGE:
            first = await pair.both(name, text, {**variables, "after": None}, role=role, token=token)
            cursors = [v for k, v in walk(_plain(first[0])) if k == "endCursor" and isinstance(v, str)]
            variables_now = {**variables, "after": cursors[0] if cursors else "no-next-page"}
        else:
            variables_now = variables
        await pair.both(name, text, variables_now, role=role, token=token)

    await asyncio.gather(*(as_role(role) for role in ROLES))


def _plain(answer: Answer) -> Any:
    try:
        return data_of(answer)
    except (KeyError, TypeError):
        return None


async def test_every_operation_answers_the_same(sides: Sides, compiled_runs: Counter[tuple[str, bool]]) -> None:
    pair, world = sides.pair, sides.world
    operations = _operations()
    asked = set()
    for name, (text, kind, definitions) in operations.items():
        if kind == "mutation":
            continue  # test_mutations_answer_the_same
        for variables in _variable_cases(name, text, definitions, world):
            await _run_operation(pair, name, text, variables, world)
        asked.add(name)
    texts = {operations[name][0]: name for name in asked}
    compiled, total = _coverage(compiled_runs, set(texts))
    never = sorted({texts[q] for (q, _) in compiled_runs if q in texts} - {texts[q] for (q, d) in compiled_runs if d})
    print(f"\noperations: {len(asked)} queries and subscriptions, {pair.compared} requests per side")
    print(f"compiled path: {compiled} of {total} requests; never compiled: {never}")
    assert not pair.differences, pair.report()
    if COMPILED is not None:  # the switch exists: the compiled side must really have used it
        assert compiled > 0
    assert asked == {n for n, (_, kind, _) in operations.items() if kind != "mutation"}


# -- generated queries -----------------------------------------------------------------------------------------------


def _values(world: World, cursors: list[str]) -> Values:
    ids: dict[str, list[str]] = {"*": [*world.ids.values(), *world.extra_ids()]}
    for key, value in world.ids.items():
        type_name = {"auditentry": "AuditEntry", "sourcerun": "SourceRun"}.get(key.split(":")[0])
        ids.setdefault(type_name or key.split(":")[0].title(), []).append(value)
    strings = {
        "slug": [*world.slugs.values(), "no-such-slug"],
        "query": ["Live", "episode", '"Live Show"', "-draft", ""],
        "action": ["program.publish", "episode.create", "nothing"],
        "category": ["news", "sport"],
        "categories": ["news"],
        "language": ["en", "fa-IR"],
        "languages": ["fa", "en"],
        "tags": ["a", "b", "c"],
        "*": ["x", ""],
    }
    return Values(ids=ids, cursors=[*cursors, "bad-cursor", ""], strings=strings, datetimes=[PAST, FAR_FUTURE])


async def _cursors(pair: Pair, world: World) -> list[str]:
    """Real cursors of the seeded lists, as the standard side gives them to an editor."""
    query = (
        "{ programs(first: 2) { pageInfo { endCursor } } episodes(first: 3) { pageInfo { endCursor } }"
        " auditEntries(first: 2) { pageInfo { endCursor } } jobs(first: 1) { pageInfo { endCursor } } }"
    )
    left, _ = await pair.both("cursors", query, None, role="admin", token=world.tokens["admin"])
    return [v for k, v in walk(data_of(left)) if k == "endCursor" and isinstance(v, str)]


async def test_generated_queries_answer_the_same(sides: Sides, compiled_runs: Counter[tuple[str, bool]]) -> None:
    pair, world = sides.pair, sides.world
    schema = create_app_schema(sides.services)
    generator = QueryGenerator(schema, _values(world, await _cursors(pair, world)), seed=16)
    cases = generator.valid(GENERATED_VALID) + generator.invalid(GENERATED_INVALID)
    before = pair.compared
    for case in cases:
        await asyncio.gather(
            *(pair.both(case.label, case.query, case.variables, role=r, token=world.tokens[r]) for r in ROLES)
        )
    compiled, total = _coverage(compiled_runs, {case.query for case in cases})
    print(f"\ngenerated: {len(cases)} queries, {pair.compared - before} requests per side")
    print(f"compiled path: {compiled} of {total} requests")
    assert not pair.differences, pair.report()


async def test_scalar_variables_answer_the_same(sides: Sides, compiled_runs: Counter[tuple[str, bool]]) -> None:
    """Variables of built-in scalar types take a short cut on the compiled path when their values need nothing
    done: every value graphql-core would convert (an ID as a number, an Int as 2.0) or refuse (past 32 bits, the
    wrong type, null or missing where required) must answer exactly as on the standard path."""
    pair, world = sides.pair, sides.world
    slug = next(iter(world.slugs.values()))
    cases: list[tuple[str, str, list[Any]]] = [
        ("query ($id: ID!) { episode(id: $id) { id title } }", "id", [world.ids["episode:live"], 1, 1.5, "", {"x": 1}]),
        (
            "query ($first: Int) { episodes(first: $first) { edges { node { id } } } }",
            "first",
            [2, 2.0, 2.5, 2**31, -(2**31) - 1, -(2**31), "2", True],
        ),
        ("query ($slug: String) { program(slug: $slug) { id slug } }", "slug", [slug, 5, True, ""]),
        (
            "query ($on: Boolean!) { episodes(first: 2) { edges { node { id title @include(if: $on) } } } }",
            "on",
            [True, False, 0, 1, "true"],
        ),
    ]
    before = pair.compared
    for query, name, values in cases:
        for variables in [{name: value} for value in [*values, None]] + [{}]:
            await asyncio.gather(
                *(pair.both(f"{name}={variables}", query, variables, role=r, token=world.tokens[r]) for r in ROLES)
            )
    compiled, total = _coverage(compiled_runs, {query for query, _, _ in cases})
    print(f"\nscalar variables: {pair.compared - before} requests per side; compiled path: {compiled} of {total}")
    assert not pair.differences, pair.report()
    assert compiled > 0


def create_app_schema(services: Services) -> Any:
    """The live schema as the app builds it (the installed plugins' root fields included), as graphql-core's."""
    from cms.api.schema import build_schema

    types = services.plugins.graphql_types()
    return build_schema(query_types=types.query, mutation_types=types.mutation)._schema


# -- mutations, on two cloned databases ------------------------------------------------------------------------------


@dataclass
class Step:
    operation: str  # a file in graphql/operations/, or a query text
    variables: dict[str, Any]
    role: str | None = "editor"


def _mutation_steps(w: World) -> list[Step]:
    ids = w.ids
    live, draft, ep = ids["program:live"], ids["program:draft"], ids["episode:live"]
    bad = ("not-an-id", ids["program:deleted"], ids["episode:live"])  # malformed, missing, of another type
    steps: list[Step] = []
    for role in ROLES:
        steps += [
            Step("CreateProgram", {"input": {"title": f"New by {role}", "tags": ["n"]}}, role),
            Step("CreateEpisode", {"input": {"programId": live, "title": f"Episode by {role}", "season": 9}}, role),
            Step("AddComment", {"input": {"targetId": ep, "body": f"comment by {role}"}}, role),
            Step("AddComment", {"input": {"targetId": ids["episode:draft"], "body": "on a draft"}}, role),
            Step("PublishProgram", {"id": draft, "at": FAR_FUTURE}, role),
            Step("UpdateEpisode", {"id": ep, "input": {"title": f"Renamed by {role}"}}, role),
            Step("RetryJob", {"id": w.of("Job")[0]}, role),
        ]
    steps += [
        Step("CreateProgram", {"input": {"title": ""}}),
        Step("CreateProgram", {"input": {"title": "Slugged", "slug": "Not A Slug!"}}),
        Step("CreateProgram", {"input": {"title": "Covered", "coverAssetId": ids["asset:image"]}}),
        Step("UpdateProgram", {"id": live, "input": {"description": "Changed", "tags": ["x", "y"], "category": None}}),
        Step("CreateEpisode", {"input": {"programId": "not-an-id", "title": "x"}}),
        Step("CreateEpisode", {"input": {"programId": live, "title": "Meta", "metadata": {"a": [1, 2]}, "number": 3}}),
        Step("PublishEpisode", {"id": ids["episode:draft"], "at": None}),
        Step("PublishEpisode", {"id": ids["episode:scheduled"], "at": PAST}),
        Step("PublishEpisode", {"id": ep, "at": "yesterday"}),
        Step("UnpublishEpisode", {"id": ids["episode:past"]}),
        Step("PublishProgram", {"id": ids["program:archived"]}),
        Step("UnpublishProgram", {"id": ids["program:live2"]}),
        Step("AddComment", {"input": {"targetId": ep, "body": "reply", "parentId": ids["comment:top"]}}, "viewer"),
        Step("AddComment", {"input": {"targetId": ep, "body": "", "timecode": -1}}, "viewer"),
        Step("AddComment", {"input": {"targetId": ids["asset:video"], "body": "asset note", "timecode": 0.2}}),
        Step("ResolveComment", {"id": ids["comment:top"]}, "viewer"),
        Step("ResolveComment", {"id": ids["comment:top"]}),
        Step("ResolveComment", {"id": ids["comment:resolved"]}),
        Step("DeleteComment", {"id": ids["comment:reply"]}, "viewer"),
        Step("DeleteComment", {"id": ids["comment:reply"]}),
        Step("DeleteComment", {"id": ids["comment:deleted"]}),
        Step("CreateUpload", {"input": {"filename": "new.png", "size": len(media.png_image()), "episodeId": ep}}),
        Step("CreateUpload", {"input": {"filename": "x", "size": -1}}),
        Step("CreateUpload", {"input": {"filename": "big.mp4", "size": "99999999999999", "episodeId": ep}}),
        Step("CreateUpload", {"input": {"filename": "s3.mp4", "size": 10, "method": "MULTIPART"}}),
        Step("CompleteUpload", {"id": str(uuid.UUID(int=1))}),
        Step("ResumeUpload", {"id": str(uuid.UUID(int=1))}),
        Step("RetryJob", {"id": w.of("Job")[0]}, "admin"),
        Step("RetryJob", {"id": w.of("Job")[-1]}, "admin"),
        Step("CreateSource", {"input": {"kind": "rss", "name": "n", "programId": live, "config": {"url": "nope"}}}),
        Step("CreateSource", {"input": {"kind": "nope", "name": "n", "programId": live, "config": {}}}),
        Step(
            "CreateSource",
            {"input": {"kind": "rss", "name": "new", "programId": live, "config": {"url": "https://x.org/f.xml"}}},
        ),
        Step("UpdateSource", {"id": ids["source:manual"], "input": {"name": "renamed", "scheduleMinutes": 60}}),
        Step("UpdateSource", {"id": ids["source:scheduled"], "input": {"scheduleMinutes": 1}}),
        Step("RunSource", {"id": ids["source:manual"]}),
        Step("RunSource", {"id": ids["source:manual"]}),
        Step("DeleteSource", {"id": ids["source:scheduled"]}),
        Step("DeleteEpisode", {"id": ids["episode:live_b"]}),
        Step("DeleteProgram", {"id": ids["program:live2"]}),
    ]
    for name in ("UpdateProgram", "DeleteProgram", "PublishProgram", "UnpublishProgram", "UpdateEpisode"):
        for target in bad:
            extra = {"input": {"title": "x"}} if name.startswith("Update") else {}
            steps.append(Step(name, {"id": target, **extra}))
    for name in ("DeleteEpisode", "PublishEpisode", "UnpublishEpisode", "ResolveComment", "DeleteComment"):
        steps += [Step(name, {"id": target}) for target in bad]
    for name in ("DeleteSource", "RunSource", "CompleteUpload", "ResumeUpload", "RetryJob"):
        steps += [Step(name, {"id": target}, "admin") for target in bad]
    return steps


# Read back after the mutations: what they changed, as editors and the public see it.
READ_BACK = [
    ("AuditEntries", {"first": 100}, "admin"),
    ("AdminJobs", {"first": 100}, "admin"),
    ("Programs", {"first": 100}, "editor"),
    ("Programs", {"first": 100}, None),
    ("Episodes", {"first": 100}, "editor"),
    ("EpisodeFeed", {"first": 100}, None),
    ("Sources", {"first": 100}, "editor"),
]


async def test_mutations_answer_the_same(
    sides: Sides, pg_server: PgTarget, db_target: PgTarget, settings: Settings, issuer: TestIssuer, tmp_path: Path
) -> None:
    world = sides.world
    template = await database.create_database(pg_server, prefix="cms_diff_template")
    clones: list[PgTarget] = []
    try:
        env = child_env(server_env(database_url(template), redis_url=str(settings.redis_url), data_dir=tmp_path))
        run_cms("migrate", env=env)
        await copy_database(db_target, template)
        for side in ("standard", "compiled"):
            clones.append(await clone_database(pg_server, template, f"{template.database}_{side}"))
        await _lockstep(world, clones, issuer, settings, tmp_path)
    finally:
        for target in (*clones, template):
            await database.drop_database(target)


async def _lockstep(
    world: World, clones: list[PgTarget], issuer: TestIssuer, settings: Settings, tmp_path: Path
) -> None:
    configs = [
        {
            **server_env(
                database_url(target), redis_url=str(settings.redis_url), data_dir=tmp_path / side, issuer=issuer
            ),
            **_env_side(compiled=side == "compiled"),
        }
        for target, side in zip(clones, ("standard", "compiled"), strict=True)
    ]
    async with (
        serve_process("standard", configs[0], tmp_path) as left,
        serve_process("compiled", configs[1], tmp_path) as right,
        httpx.AsyncClient(base_url=left.url, timeout=60) as left_client,
        httpx.AsyncClient(base_url=right.url, timeout=60) as right_client,
    ):
        pair = Pair(left_client, right_client, Normaliser(now_after=datetime.now(UTC)))
        operations = _operations()
        ran = set()
        outcomes: Counter[str] = Counter()  # what the steps came to, to show they do more than fail
        for step in _mutation_steps(world):
            text = operations[step.operation][0]
            token = world.tokens[step.role]
            answers = await pair.both(step.operation, text, step.variables, role=step.role, token=token)
            ran.add(step.operation)
            outcomes[_outcome(answers[0])] += 1
            if step.operation == "CreateUpload":
                await _complete_uploads(pair, world, step, answers)
        for name, variables, role in READ_BACK:
            await pair.both(name, operations[name][0], variables, role=role, token=world.tokens[role])
        print(f"\nmutations: {len(ran)} operations, {pair.compared} requests per side, outcomes {dict(outcomes)}")
        print(f"normalised: {pair.applied}")
        assert not pair.differences, pair.report()
        assert ran == {n for n, (_, kind, _) in operations.items() if kind == "mutation"}


def _outcome(answer: Answer) -> str:
    try:
        (result,) = data_of(answer).values()
    except (KeyError, TypeError, ValueError, AttributeError):
        return "request error"
    return str(result.get("__typename")) if isinstance(result, dict) else "null"


async def _complete_uploads(pair: Pair, world: World, step: Step, answers: tuple[Answer, Answer]) -> None:
    """After a createUpload both sides answered alike: the bytes to each side's own URL, then completeUpload on
    both (each with its own upload id, a UUID)."""
    results = [data_of(answer)["createUpload"] for answer in answers]
    if results[0]["__typename"] != "Upload" or results[0]["method"] != "DIRECT":
        return
    token = world.tokens[step.role]
    headers = {"authorization": f"Bearer {token}"}
    body = media.png_image()
    for client, result in zip((pair.left, pair.right), results, strict=True):
        put = await client.put(result["url"].removeprefix(BASE_URL), content=body, headers=headers)
        assert put.status_code == 200, put.text
    complete = (OPERATIONS / "CompleteUpload.graphql").read_text()
    ids = [{"id": result["id"]} for result in results]
    await pair.both("CompleteUpload", complete, ids[0], role=step.role, token=token, right_variables=ids[1])
