"""Every bad bearer token is refused with 401 before any GraphQL runs; unknown roles grant nothing."""

from __future__ import annotations

import pytest

from tests.support.api import operation
from tests.support.oidc_issuer import BAD_TOKEN_CASES

CREATE_PROGRAM = operation("CreateProgram")
PROGRAMS = "{ programs { totalCount } }"


def assert_refused(response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    # One message whatever failed: nothing to learn about forging a better token.
    assert body["errors"][0]["message"] == "invalid token"


async def _post_with_header(api, authorization: str, query: str = PROGRAMS):
    # HTTP strips trailing whitespace from header values (and httpx refuses to send it): "Bearer " is "Bearer".
    return await api.client.post("/graphql", json={"query": query}, headers={"authorization": authorization.rstrip()})


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_bad_token_is_refused_with_401(api, issuer, case):
    response = await _post_with_header(api, f"Bearer {issuer.forge(case)}")
    assert_refused(response)
    # A mutation with the same token does not run either.
    response = await _post_with_header(
        api, f"Bearer {issuer.forge(case)}", 'mutation { createProgram(input: {title: "Forged"}) { __typename } }'
    )
    assert_refused(response)
    assert (await api.data(PROGRAMS, role="editor"))["programs"]["totalCount"] == 0


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Token abc.def.ghi",
        "Bearer",
        "Bearer two words",
        "bearer",
        "",
    ],
    ids=["basic", "token-scheme", "bearer-no-token", "bearer-with-space", "lowercase-no-token", "empty-header"],
)
async def test_non_bearer_or_empty_authorization_is_refused(api, authorization):
    assert_refused(await _post_with_header(api, authorization))


async def test_bearer_scheme_is_case_insensitive(api):
    token = api.token("editor")
    response = await _post_with_header(api, f"bearer {token}")
    assert response.status_code == 200 and response.json()["data"]["programs"]["totalCount"] == 0


async def test_bad_tokens_on_other_routes_are_refused_too(api, issuer):
    response = await api.client.get(
        "/graphql", params={"query": PROGRAMS}, headers={"authorization": f"Bearer {issuer.forge('expired')}"}
    )
    assert response.status_code == 401 and "data" not in response.json()


async def test_good_token_works_after_bad_ones(api, issuer):
    for case in BAD_TOKEN_CASES:
        assert (await _post_with_header(api, f"Bearer {issuer.forge(case)}")).status_code == 401
    created = await api.data(CREATE_PROGRAM, {"input": {"title": "Still Fine"}}, role="editor")
    assert created["createProgram"]["__typename"] == "Program"
    es256 = issuer.mint("es-editor", ("editor",), alg="ES256")
    response = await _post_with_header(api, f"Bearer {es256}")
    assert response.status_code == 200 and response.json()["data"]["programs"]["totalCount"] == 1


async def test_token_with_only_unknown_roles_is_signed_in_without_roles(api, issuer):
    # Seed one published and one draft program.
    published = (await api.data(CREATE_PROGRAM, {"input": {"title": "Public"}}, role="editor"))["createProgram"]
    await api.data(
        "mutation($id: ID!) { publishProgram(id: $id) { __typename } }", {"id": published["id"]}, role="editor"
    )
    await api.data(CREATE_PROGRAM, {"input": {"title": "Draft"}}, role="editor")

    token = issuer.mint("stranger-1", ("offline_access", "uma_authorization", "superuser"))
    headers = {"authorization": f"Bearer {token}"}

    async def call(query: str, variables: dict | None = None) -> dict:
        response = await api.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    viewer = (await call("{ viewer { id displayName } }"))["viewer"]
    assert viewer is not None  # signed in
    titles = [
        e["node"]["title"] for e in (await call("{ programs { edges { node { title } } } }"))["programs"]["edges"]
    ]
    assert titles == ["Public"]  # reads published only
    result = (await call(CREATE_PROGRAM, {"input": {"title": "Nope"}}))["createProgram"]
    assert result["__typename"] == "ForbiddenError"
    result = (await call("mutation($id: ID!) { unpublishProgram(id: $id) { __typename } }", {"id": published["id"]}))[
        "unpublishProgram"
    ]
    assert result["__typename"] == "ForbiddenError"
    assert (await api.data(PROGRAMS, role="editor"))["programs"]["totalCount"] == 2
