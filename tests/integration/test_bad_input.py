"""Bad input gets a typed error (or a GraphQL validation error) and writes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cms.api.ids import to_global_id
from tests.support.api import Api, operation

CREATE_PROGRAM = operation("CreateProgram")
CREATE_EPISODE = operation("CreateEpisode")
ADD_COMMENT = operation("AddComment")
UPDATE_PROGRAM = operation("UpdateProgram")
PUBLISH_PROGRAM = operation("PublishProgram")
PUBLISH_EPISODE = operation("PublishEpisode")

COUNTS = """
query {
  programs(first: 1) { totalCount }
  episodes(first: 1) { totalCount }
  auditEntries(first: 1) { totalCount }
}
"""


async def counts(api: Api) -> tuple[int, int, int]:
    """(programs, episodes, audit entries) as an admin sees them: every draft, every write."""
    data = await api.data(COUNTS, role="admin")
    return data["programs"]["totalCount"], data["episodes"]["totalCount"], data["auditEntries"]["totalCount"]


async def post_raw(api: Api, query: str, variables: dict[str, Any], *, role: str | None = None) -> dict[str, Any]:
    """POST JSON that httpx would refuse to encode (lone surrogates, NaN): ASCII-escaped by json.dumps."""
    headers = {"content-type": "application/json"}
    token = api.token(role)
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await api.client.post(
        "/graphql", content=json.dumps({"query": query, "variables": variables}), headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def create_program(api: Api, title: str = "Morning Show", **fields: Any) -> dict[str, Any]:
    result = (await api.data(CREATE_PROGRAM, {"input": {"title": title, **fields}}, role="editor"))["createProgram"]
    assert result["__typename"] == "Program", result
    return result


async def create_episode(api: Api, program_id: str, title: str = "Pilot", **fields: Any) -> dict[str, Any]:
    variables = {"input": {"programId": program_id, "title": title, **fields}}
    result = (await api.data(CREATE_EPISODE, variables, role="editor"))["createEpisode"]
    assert result["__typename"] == "Episode", result
    return result


def assert_validation_error(result: dict[str, Any], *paths: list[str]) -> None:
    assert result["__typename"] == "ValidationError", result
    assert sorted(f["path"] for f in result["fields"]) == sorted(paths), result
    assert all(f["message"] for f in result["fields"])


def cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# -- titles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "title", ["", "   \t\n ", "x" * 10_000, "a\u0000b"], ids=["empty", "whitespace", "10kB", "nul"]
)
async def test_bad_program_title_is_refused(api, title):
    result = (await api.data(CREATE_PROGRAM, {"input": {"title": title}}, role="editor"))["createProgram"]
    assert_validation_error(result, ["input", "title"])
    assert await counts(api) == (0, 0, 0)


@pytest.mark.parametrize("title", ["", "  ", "y" * 10_000], ids=["empty", "whitespace", "10kB"])
async def test_bad_episode_title_is_refused(api, title):
    program = await create_program(api)
    before = await counts(api)
    result = await api.data(CREATE_EPISODE, {"input": {"programId": program["id"], "title": title}}, role="editor")
    assert_validation_error(result["createEpisode"], ["input", "title"])
    assert await counts(api) == before


async def test_bad_title_on_update_leaves_program_unchanged(api):
    program = await create_program(api, "Keep Me")
    before = await counts(api)
    result = await api.data(UPDATE_PROGRAM, {"id": program["id"], "input": {"title": "   "}}, role="editor")
    assert_validation_error(result["updateProgram"], ["input", "title"])
    assert await counts(api) == before
    data = await api.data("query($id: ID!) { program(id: $id) { title } }", {"id": program["id"]}, role="editor")
    assert data["program"]["title"] == "Keep Me"


async def test_lone_surrogate_in_text_is_a_validation_error(api):
    result = await post_raw(api, CREATE_PROGRAM, {"input": {"title": "ok", "category": "bad\ud800"}}, role="editor")
    assert_validation_error(result["data"]["createProgram"], ["input", "category"])
    assert await counts(api) == (0, 0, 0)


# -- slugs -----------------------------------------------------------------------


async def test_duplicate_explicit_program_slug_is_refused(api):
    await create_program(api, "News", slug="news")
    before = await counts(api)
    for slug in ("news", " NEWS "):
        result = await api.data(CREATE_PROGRAM, {"input": {"title": "Other", "slug": slug}}, role="editor")
        assert_validation_error(result["createProgram"], ["input", "slug"])
    assert await counts(api) == before


async def test_a_slug_longer_than_any_is_simply_not_found(api):
    await create_program(api, "News", slug="news")
    response = await api.post("query($slug: String!) { program(slug: $slug) { id } }", {"slug": "n" * 100_000})
    assert response.status_code == 200 and response.json() == {"data": {"program": None}}


async def test_duplicate_explicit_slug_on_update_is_refused(api):
    await create_program(api, "News", slug="news")
    other = await create_program(api, "Sports", slug="sports")
    before = await counts(api)
    result = await api.data(UPDATE_PROGRAM, {"id": other["id"], "input": {"slug": "news"}}, role="editor")
    assert_validation_error(result["updateProgram"], ["input", "slug"])
    assert await counts(api) == before
    data = await api.data("query($id: ID!) { program(id: $id) { slug } }", {"id": other["id"]}, role="editor")
    assert data["program"]["slug"] == "sports"


@pytest.mark.parametrize(
    "slug",
    ["", "a b", "a--b", "-a", "a_b", "s" * 121],
    ids=["empty", "space", "double-dash", "leading-dash", "underscore", "too-long"],
)
async def test_malformed_explicit_slug_is_refused(api, slug):
    result = (await api.data(CREATE_PROGRAM, {"input": {"title": "T", "slug": slug}}, role="editor"))["createProgram"]
    assert_validation_error(result, ["input", "slug"])
    assert await counts(api) == (0, 0, 0)


async def test_duplicate_episode_slug_within_a_program_is_refused(api):
    first = await create_program(api, "First")
    second = await create_program(api, "Second")
    await create_episode(api, first["id"], "Pilot", slug="pilot")
    before = await counts(api)
    result = await api.data(
        CREATE_EPISODE, {"input": {"programId": first["id"], "title": "Again", "slug": "pilot"}}, role="editor"
    )
    assert_validation_error(result["createEpisode"], ["input", "slug"])
    assert await counts(api) == before
    # The same slug in another program is fine.
    other = await create_episode(api, second["id"], "Pilot", slug="pilot")
    assert other["slug"] == "pilot"


async def test_derived_slugs_get_numbered_suffixes(api):
    slugs = [(await create_program(api, "Night Shift"))["slug"] for _ in range(3)]
    assert slugs == ["night-shift", "night-shift-2", "night-shift-3"]
    program_a, program_b = (await create_program(api, "A")), (await create_program(api, "B"))
    in_a = [(await create_episode(api, program_a["id"], "Pilot"))["slug"] for _ in range(3)]
    assert in_a == ["pilot", "pilot-2", "pilot-3"]
    # Episode slugs are unique per program only.
    assert (await create_episode(api, program_b["id"], "Pilot"))["slug"] == "pilot"


async def test_derived_slug_suffix_fits_the_column_for_long_titles(api):
    title = " ".join(["documentary"] * 27)  # 323 characters: slugified then cut to 120
    title = title[:300]
    slugs = [(await create_program(api, title))["slug"] for _ in range(3)]
    assert len(set(slugs)) == 3
    assert all(len(s) <= 120 for s in slugs)
    assert slugs[1].endswith("-2") and slugs[2].endswith("-3")
    assert not any("--" in s for s in slugs)


async def test_persian_title_derives_a_persian_slug(api):
    program = await create_program(api, "گفتگوی شبانه")
    assert program["slug"] == "گفتگوی-شبانه"
    found = await api.data("query($s: String!) { program(slug: $s) { id } }", {"s": "گفتگوی-شبانه"}, role="editor")
    assert found["program"]["id"] == program["id"]
    episode = await create_episode(api, program["id"], "قسمت اول")
    assert episode["slug"] == "قسمت-اول"


# -- ids -------------------------------------------------------------------------


async def test_unknown_ids_are_not_found(api):
    program = await create_program(api)
    before = await counts(api)
    missing_program = to_global_id("Program", 999_999)
    missing_episode = to_global_id("Episode", 999_999)
    calls = [
        ("updateProgram", UPDATE_PROGRAM, {"id": missing_program, "input": {"title": "X"}}),
        ("publishProgram", PUBLISH_PROGRAM, {"id": missing_program}),
        ("publishEpisode", PUBLISH_EPISODE, {"id": missing_episode}),
        ("createEpisode", CREATE_EPISODE, {"input": {"programId": missing_program, "title": "X"}}),
        ("addComment", ADD_COMMENT, {"input": {"targetId": missing_episode, "body": "hi"}}),
        (
            "deleteProgram",
            "mutation($id: ID!) { deleteProgram(id: $id) { __typename ... on Error { message } } }",
            {"id": missing_program},
        ),
    ]
    for field, query, variables in calls:
        result = (await api.data(query, variables, role="editor"))[field]
        assert result["__typename"] == "NotFoundError", (field, result)
        assert result["message"]
    assert await counts(api) == before
    data = await api.data(
        "query($id: ID!) { program(id: $id) { id } node(id: $id) { id } }", {"id": missing_program}, role="editor"
    )
    assert data == {"program": None, "node": None}
    assert program["id"] != missing_program


MALFORMED_IDS = [
    "not-an-id!!",
    "",
    base64.urlsafe_b64encode(b"Program:abc").decode(),
    base64.urlsafe_b64encode(b"Program:-1").decode(),
    base64.urlsafe_b64encode(b"Program:").decode(),
    base64.urlsafe_b64encode(b"Spaceship:1").decode(),
    base64.urlsafe_b64encode(b"Program:99999999999999999999999").decode(),
    base64.urlsafe_b64encode(b"\xff\xfe:1").decode(),
    "A" * 500,
]


@pytest.mark.parametrize("bad_id", MALFORMED_IDS)
async def test_malformed_global_ids_are_validation_errors(api, bad_id):
    program = await create_program(api)
    before = await counts(api)
    result = (await api.data(UPDATE_PROGRAM, {"id": bad_id, "input": {"title": "X"}}, role="editor"))["updateProgram"]
    assert_validation_error(result, ["id"])
    result = (await api.data(CREATE_EPISODE, {"input": {"programId": bad_id, "title": "X"}}, role="editor"))[
        "createEpisode"
    ]
    assert_validation_error(result, ["input", "programId"])
    result = (await api.data(ADD_COMMENT, {"input": {"targetId": bad_id, "body": "hi"}}, role="viewer"))["addComment"]
    assert_validation_error(result, ["input", "targetId"])
    assert await counts(api) == before
    # Queries report it as a client error, never an internal one.
    body = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": bad_id})
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert program["id"]


async def test_global_id_of_the_wrong_type_is_a_validation_error(api):
    program = await create_program(api, "Original")
    episode = await create_episode(api, program["id"])
    before = await counts(api)
    result = (await api.data(UPDATE_PROGRAM, {"id": episode["id"], "input": {"title": "X"}}, role="editor"))[
        "updateProgram"
    ]
    assert_validation_error(result, ["id"])
    result = (await api.data(CREATE_EPISODE, {"input": {"programId": episode["id"], "title": "X"}}, role="editor"))[
        "createEpisode"
    ]
    assert_validation_error(result, ["input", "programId"])
    result = (await api.data(PUBLISH_EPISODE, {"id": program["id"]}, role="editor"))["publishEpisode"]
    assert_validation_error(result, ["id"])
    result = (await api.data(ADD_COMMENT, {"input": {"targetId": program["id"], "body": "hi"}}, role="editor"))[
        "addComment"
    ]
    assert_validation_error(result, ["input", "targetId"])
    assert await counts(api) == before
    body = await api.gql("query($id: ID!) { program(id: $id) { id } }", {"id": episode["id"]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- pagination ------------------------------------------------------------------

MALFORMED_CURSORS = {
    "not-base64": "zzz!!",
    "not-json": base64.urlsafe_b64encode(b"not json").decode(),
    "object": cursor({"a": 1, "b": 2, "c": 3}),
    "short-list": cursor(["CREATED_AT_DESC", 1]),
    "other-ordering": cursor(["TITLE_ASC", "a", 1]),
    "bad-date": cursor(["CREATED_AT_DESC", "yesterday", 1]),
    "date-is-number": cursor(["CREATED_AT_DESC", 5, 1]),
    "id-not-int": cursor(["CREATED_AT_DESC", "2020-01-01T00:00:00+00:00", "1"]),
    "id-bool": cursor(["CREATED_AT_DESC", "2020-01-01T00:00:00+00:00", True]),
    "id-too-big": cursor(["CREATED_AT_DESC", "2020-01-01T00:00:00+00:00", 10**30]),
    "too-long": "A" * 600,
}


@pytest.mark.parametrize("after", list(MALFORMED_CURSORS.values()), ids=list(MALFORMED_CURSORS))
@pytest.mark.parametrize("field", ["programs", "episodes"])
async def test_malformed_cursor_is_bad_user_input(api, field, after):
    response = await api.post(
        f"query($after: String) {{ {field}(after: $after) {{ edges {{ cursor }} }} }}", {"after": after}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


@pytest.mark.parametrize("value", [10**30, 2**31, "ten", 1.5, True])
async def test_out_of_range_integer_cursor_is_bad_user_input(api, value):
    after = cursor(["NUMBER_DESC", value, 1])
    body = await api.gql(
        "query($a: String) { episodes(after: $a, orderBy: {field: NUMBER}) { edges { cursor } } }", {"a": after}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_a_real_cursor_still_works(api):
    for title in ("One", "Two", "Three"):
        await create_program(api, title)
    page = await api.data(
        "{ programs(first: 2) { edges { node { title } } pageInfo { hasNextPage endCursor } } }", role="editor"
    )
    assert page["programs"]["pageInfo"]["hasNextPage"] is True
    rest = await api.data(
        "query($a: String) { programs(first: 2, after: $a) { edges { node { title } } pageInfo { hasNextPage } } }",
        {"a": page["programs"]["pageInfo"]["endCursor"]},
        role="editor",
    )
    titles = [e["node"]["title"] for e in page["programs"]["edges"] + rest["programs"]["edges"]]
    assert sorted(titles) == ["One", "Three", "Two"] and rest["programs"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("first", [100_000, 101, -1])
@pytest.mark.parametrize(
    "query",
    [
        "query($f: Int) { programs(first: $f) { edges { cursor } } }",
        "query($f: Int) { episodes(first: $f) { edges { cursor } } }",
    ],
    ids=["programs", "episodes"],
)
async def test_first_out_of_range_is_bad_user_input(api, query, first):
    body = await api.gql(query, {"f": first})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "first" in body["errors"][0]["extensions"]["fields"]


async def test_first_out_of_range_on_a_nested_connection(api):
    program = await create_program(api)
    body = await api.gql(
        "query($id: ID!) { program(id: $id) { episodes(first: 500) { edges { cursor } } } }",
        {"id": program["id"]},
        role="editor",
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


# -- enums and types -------------------------------------------------------------

WRONG_ENUMS = [
    ("{ programs(orderBy: {field: POPULARITY}) { edges { cursor } } }", None),
    ("{ programs(orderBy: {field: TITLE, direction: SIDEWAYS}) { edges { cursor } } }", None),
    ("{ episodes(filter: {status: LIVE}) { edges { cursor } } }", None),
    ('{ episodes(filter: {status: "PUBLISHED"}) { edges { cursor } } }', None),
    ("query($s: PublishStatus) { programs(filter: {status: $s}) { edges { cursor } } }", {"s": "published"}),
    ("query($s: PublishStatus) { programs(filter: {status: $s}) { edges { cursor } } }", {"s": 1}),
    ("query($o: ProgramOrder) { programs(orderBy: $o) { edges { cursor } } }", {"o": {"field": "NOPE"}}),
]


@pytest.mark.parametrize("query,variables", WRONG_ENUMS)
async def test_wrong_enum_values_are_graphql_validation_errors(api, query, variables):
    response = await api.post(query, variables, role="editor")
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body.get("data") is None
    assert body["errors"] and body["errors"][0]["message"]
    assert (
        "extensions" not in body["errors"][0] or body["errors"][0]["extensions"].get("code") != "INTERNAL_SERVER_ERROR"
    )


async def test_wrong_enum_in_a_mutation_writes_nothing(api):
    program = await create_program(api)
    before = await counts(api)
    response = await api.post(
        'mutation($id: ID!) { publishProgram(id: $id, at: "not a date") { __typename } }',
        {"id": program["id"]},
        role="editor",
    )
    assert response.status_code in (200, 400) and response.json().get("data") is None
    assert await counts(api) == before


# -- metadata --------------------------------------------------------------------


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    "metadata",
    [[1, 2], "text", 42, True, {"a": "nul\u0000"}, {"nul\u0000": 1}, _nested(100)],
    ids=["list", "string", "number", "bool", "nul-value", "nul-key", "too-deep"],
)
async def test_metadata_must_be_a_storable_object(api, metadata):
    program = await create_program(api)
    episode = await create_episode(api, program["id"], metadata={"kept": True})
    before = await counts(api)
    result = await api.data(
        CREATE_EPISODE, {"input": {"programId": program["id"], "title": "X", "metadata": metadata}}, role="editor"
    )
    assert_validation_error(result["createEpisode"], ["input", "metadata"])
    update = "mutation($id: ID!, $m: JSON) { updateEpisode(id: $id, input: {metadata: $m}) { __typename ... on ValidationError { fields { path message } } } }"
    result = await api.data(update, {"id": episode["id"], "m": metadata}, role="editor")
    assert_validation_error(result["updateEpisode"], ["input", "metadata"])
    assert await counts(api) == before
    data = await api.data("query($id: ID!) { episode(id: $id) { metadata } }", {"id": episode["id"]}, role="editor")
    assert data["episode"]["metadata"] == {"kept": True}


@pytest.mark.parametrize(
    "metadata", [{"n": float("nan")}, {"n": float("inf")}, {"s": "\ud800"}], ids=["nan", "infinity", "surrogate"]
)
async def test_metadata_postgres_cannot_store_is_a_validation_error(api, metadata):
    program = await create_program(api)
    before = await counts(api)
    body = await post_raw(
        api, CREATE_EPISODE, {"input": {"programId": program["id"], "title": "X", "metadata": metadata}}, role="editor"
    )
    assert_validation_error(body["data"]["createEpisode"], ["input", "metadata"])
    assert await counts(api) == before


async def test_json_nested_past_the_parser_limit_is_a_client_error(api):
    deep = "[" * 5000 + "]" * 5000
    content = f'{{"query": "query($v: JSON) {{ __typename }}", "variables": {{"v": {deep}}}}}'
    response = await api.client.post("/graphql", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


# -- permissions -----------------------------------------------------------------


async def test_viewer_cannot_comment_on_a_draft(api):
    program = await create_program(api)
    episode = await create_episode(api, program["id"])
    before = await counts(api)
    result = (await api.data(ADD_COMMENT, {"input": {"targetId": episode["id"], "body": "First!"}}, role="viewer"))[
        "addComment"
    ]
    assert result["__typename"] == "NotFoundError", result
    assert await counts(api) == before
    data = await api.data("query($id: ID!) { episode(id: $id) { commentCount } }", {"id": episode["id"]}, role="editor")
    assert data["episode"]["commentCount"] == 0


async def test_viewer_cannot_create_or_publish_programs(api):
    result = (await api.data(CREATE_PROGRAM, {"input": {"title": "Mine"}}, role="viewer"))["createProgram"]
    assert result["__typename"] == "ForbiddenError" and result["message"]
    program = await create_program(api)
    before = await counts(api)
    result = (await api.data(PUBLISH_PROGRAM, {"id": program["id"]}, role="viewer"))["publishProgram"]
    assert result["__typename"] == "ForbiddenError"
    assert await counts(api) == before
    data = await api.data("query($id: ID!) { program(id: $id) { status } }", {"id": program["id"]}, role="editor")
    assert data["program"]["status"] == "DRAFT"


async def test_anonymous_mutations_are_forbidden(api):
    program = await create_program(api)
    episode = await create_episode(api, program["id"])
    await api.data(PUBLISH_PROGRAM, {"id": program["id"]}, role="editor")
    await api.data(PUBLISH_EPISODE, {"id": episode["id"]}, role="editor")
    before = await counts(api)
    calls = [
        ("createProgram", CREATE_PROGRAM, {"input": {"title": "Anon"}}),
        ("updateProgram", UPDATE_PROGRAM, {"id": program["id"], "input": {"title": "Anon"}}),
        ("addComment", ADD_COMMENT, {"input": {"targetId": episode["id"], "body": "anon"}}),
    ]
    for field, query, variables in calls:
        result = (await api.data(query, variables))[field]
        assert result["__typename"] == "ForbiddenError", (field, result)
    assert await counts(api) == before


async def test_mutation_over_get_is_refused(api):
    query = 'mutation { createProgram(input: {title: "Via GET"}) { __typename } }'
    token = api.token("editor")
    response = await api.client.get("/graphql", params={"query": query}, headers={"authorization": f"Bearer {token}"})
    assert response.status_code in (400, 405), response.text
    assert "Via GET" not in response.text
    assert await counts(api) == (0, 0, 0)
    # Queries over GET are allowed (cacheable).
    response = await api.client.get("/graphql", params={"query": "{ programs { edges { cursor } } }"})
    assert response.status_code == 200 and response.json() == {"data": {"programs": {"edges": []}}}


async def test_nul_and_surrogates_in_read_arguments_are_bad_input(api):
    for q in ['{ program(slug: "a\\u0000b") { id } }', '{ programs(filter: {category: "x\\u0000"}) { totalCount } }']:
        body = await api.gql(q)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    raw = json.dumps({"query": "query($s: String!) { program(slug: $s) { id } }", "variables": {"s": "\ud800x"}})
    response = await api.client.post("/graphql", content=raw, headers={"content-type": "application/json"})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", response.text
