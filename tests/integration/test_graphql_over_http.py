"""GraphQL over HTTP as the spec says: media types by Accept, request errors as 4xx without `data` for clients
that accept application/graphql-response+json, legacy 200s for application/json, 405 for a mutation over GET;
and scalar parse errors that say what was expected."""

from __future__ import annotations

import pytest

from tests.support.api import operation

GRAPHQL_RESPONSE = "application/graphql-response+json"
REQUEST_ERRORS = {
    "parse": ("{ programs(", None),
    "validation": ("{ noSuchField }", None),
    "coercion": ("query($first: Int) { programs(first: $first) { totalCount } }", {"first": "ten"}),
    "bad-datetime": (
        "mutation($id: ID!, $at: DateTime) { publishProgram(id: $id, at: $at) { __typename } }",
        {"id": "UHJvZ3JhbTox", "at": "yesterday"},
    ),
}


async def post(api, query: str, variables: dict | None = None, *, accept: str | None, role: str | None = None):
    headers = {"accept": accept} if accept else {}
    token = api.token(role)
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


@pytest.mark.parametrize("kind", list(REQUEST_ERRORS))
async def test_request_errors_are_400_without_data_for_graphql_response_json(api, kind):
    query, variables = REQUEST_ERRORS[kind]
    response = await post(api, query, variables, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body and body["errors"][0]["message"]


@pytest.mark.parametrize("accept", ["application/json", "*/*", None])
@pytest.mark.parametrize("kind", list(REQUEST_ERRORS))
async def test_request_errors_stay_200_with_errors_for_application_json(api, kind, accept):
    query, variables = REQUEST_ERRORS[kind]
    response = await post(api, query, variables, accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"]


@pytest.mark.parametrize(
    "accept,expected",
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, application/json", "application/json"),
        ("text/html", "application/json"),
    ],
)
async def test_the_media_type_follows_accept(api, accept, expected):
    response = await post(api, "{ __typename }", accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == expected
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_field_errors_are_still_200_with_graphql_response_json(api):
    """Execution started: a resolver's error (here `first` past its cap) keeps 200, with `data` present."""
    response = await post(api, "{ programs(first: 100000) { totalCount } }", accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_public_cache_keeps_media_types_apart(api):
    query = "{ programs(first: 3) { totalCount } }"
    for _ in range(2):
        legacy = await post(api, query, accept="application/json")
        modern = await post(api, query, accept=GRAPHQL_RESPONSE)
        assert legacy.headers["content-type"] == "application/json"
        assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert legacy.headers.get("x-cache") == "HIT" and modern.headers.get("x-cache") == "HIT"


async def test_mutation_over_get_is_405_with_allow_post(api):
    token = api.token("editor")
    query = 'mutation { createProgram(input: {title: "Via GET"}) { __typename } }'
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = await api.client.get(
            "/graphql", params={"query": query}, headers={"authorization": f"Bearer {token}", "accept": accept}
        )
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"].startswith(accept)
        assert "data" not in response.json() and response.json()["errors"][0]["message"]
    data = await api.data("{ programs(first: 1) { totalCount } }", role="editor")
    assert data["programs"]["totalCount"] == 0


async def test_a_subscription_as_an_http_request_is_a_clear_400(api):
    """Subscriptions run over the WebSocket; posted as a plain request they are refused, not failed inside."""
    query = 'subscription { assetProgress(id: "QXNzZXQ6MQ") { status } }'
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = await post(api, query, accept=accept, role="editor")
        assert response.status_code == 400, response.text
        assert "WebSocket" in response.json()["errors"][0]["message"]
        assert "data" not in response.json()


async def test_other_methods_are_405_with_allow(api):
    response = await api.client.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


async def test_query_over_get_with_graphql_response_json(api):
    response = await api.client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


@pytest.mark.parametrize(
    "body,message",
    [
        ({"query": "{ __typename }", "operationName": 42}, "operationName"),
        ({"query": "{ __typename }", "variables": 0}, "variables"),
        ({"query": "{ __typename }", "extensions": "x"}, "extensions"),
        ({"query": 42}, "query"),
        ({"qeury": "{ __typename }"}, "query"),
    ],
)
async def test_malformed_parameters_are_400(api, body, message):
    response = await api.client.post("/graphql", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["errors"][0]["message"]


# -- messages for people ---------------------------------------------------------

PUBLISH_AT = "mutation($id: ID!, $at: DateTime) { publishProgram(id: $id, at: $at) { __typename } }"
INTERNALS = ("invalid literal", "int()", "Traceback", "ValueError", "b'")


def _message(body: dict) -> str:
    message = body["errors"][0]["message"]
    assert not any(word in message for word in INTERNALS), message
    return message


@pytest.mark.parametrize(
    "value,shown",
    [
        ("yesterday", '"yesterday"'),
        ("2026-02-30T00:00:00Z", '"2026-02-30T00:00:00Z"'),
        (5, "5"),
        ({"day": 1}, '{"day": 1}'),
    ],
)
async def test_bad_datetime_variable_says_what_was_expected(api, value, shown):
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Dated"}}, role="editor"))[
        "createProgram"
    ]
    body = await api.gql(PUBLISH_AT, {"id": program["id"], "at": value}, role="editor")
    message = _message(body)
    assert "Expected an ISO 8601 date-time such as 2026-01-31T12:00:00Z" in message and f"got {shown}" in message


async def test_bad_datetime_literal_says_what_was_expected(api):
    body = await api.gql(
        'mutation { publishProgram(id: "UHJvZ3JhbTox", at: "next tuesday") { __typename } }', role="editor"
    )
    assert _message(body) == 'Expected an ISO 8601 date-time such as 2026-01-31T12:00:00Z, got "next tuesday"'


async def test_a_good_datetime_is_still_taken(api):
    program = (await api.data(operation("CreateProgram"), {"input": {"title": "Later"}}, role="editor"))[
        "createProgram"
    ]
    data = await api.data(
        operation("PublishProgram"), {"id": program["id"], "at": "2099-01-31T12:00:00Z"}, role="editor"
    )
    assert data["publishProgram"]["publishAt"].startswith("2099-01-31T12:00:00")


@pytest.mark.parametrize("value", ["12a", 1.5, True, "ten"])
async def test_bad_bigint_says_what_was_expected(api, value):
    query = 'mutation($size: BigInt!) { createUpload(input: {filename: "a.mp4", size: $size}) { __typename } }'
    body = await api.gql(query, {"size": value}, role="editor")
    assert "Expected a whole number" in _message(body)


@pytest.mark.parametrize(
    "query,variables,expected",
    [
        ("query($id: ID!) { node(id: $id) { id } }", {"id": 5.5}, "ID"),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": None}, "ID!"),
        ("query($n: Int) { programs(first: $n) { totalCount } }", {"n": "ten"}, "Int"),
    ],
)
async def test_built_in_scalar_errors_name_the_type(api, query, variables, expected):
    assert expected in _message(await api.gql(query, variables))
