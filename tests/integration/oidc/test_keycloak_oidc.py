"""OIDC against a real Keycloak: discovery and keys, realm roles and their settings, expiry, audience, key rotation.

Tokens come from Keycloak by the password grant for the users in tests/keycloak/cms-realm.json; they are checked by
the app's TokenValidator built from Settings, and by the running app (`cms serve`) over HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from joserfc.util import urlsafe_b64decode

from cms.auth import RemoteJWKS, TokenValidator
from cms.core.errors import Unauthenticated
from cms.core.settings import Settings
from tests.support.api import operation
from tests.support.keycloak import Keycloak
from tests.support.processes import sleep_past

CREATE_PROGRAM = operation("CreateProgram")
VIEWER = operation("Viewer")
SHORT_LIVED_CLIENT = "cms-tests-short"  # access tokens live one second
OTHER_APP = "other-app"  # tokens for another audience


class FakeClock:
    """The JWKS cache's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingHttp:
    """An HTTP client for RemoteJWKS that remembers every URL it was asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.client = httpx.AsyncClient(timeout=10, event_hooks={"request": [self._record]})

    async def _record(self, request: httpx.Request) -> None:
        self.urls.append(str(request.url))

    def count(self, url: str) -> int:
        return self.urls.count(url)


@pytest.fixture
async def http() -> AsyncIterator[RecordingHttp]:
    recording = RecordingHttp()
    yield recording
    await recording.client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def jwks(keycloak: Keycloak, http: RecordingHttp, clock: FakeClock) -> AsyncIterator[RemoteJWKS]:
    keys = RemoteJWKS(keycloak.issuer, http.client, min_refetch_interval=60.0, max_age=3600.0, clock=clock)
    yield keys
    await keys.aclose()


def validator(keys: RemoteJWKS, **env: Any) -> TokenValidator:
    """A validator configured the way the app configures its own, from Settings (OIDC_* given as `env`)."""
    values = {"OIDC_ROLES_CLAIM": None, "OIDC_ROLE_MAP": "", "OIDC_LEEWAY_SECONDS": 30, **env}
    settings = Settings(OIDC_ISSUER=keys.issuer, OIDC_AUDIENCE="cms", **values)
    assert settings.oidc_issuer is not None
    return TokenValidator(
        settings.oidc_issuer,
        settings.oidc_audience,
        keys,
        roles_claim=settings.oidc_roles_claim,
        role_map=settings.oidc_role_map,
        leeway=settings.oidc_leeway_seconds,
    )


def _segment(token: str, index: int) -> dict[str, Any]:
    """One part of a compact JWT, decoded without any check (to read what Keycloak put there)."""
    return dict(json.loads(urlsafe_b64decode(token.split(".")[index].encode("ascii"))))


def kid_of(token: str) -> str:
    return str(_segment(token, 0)["kid"])


def claims_of(token: str) -> dict[str, Any]:
    return _segment(token, 1)


def user(keycloak: Keycloak, username: str) -> dict[str, Any]:
    return next(u for u in keycloak.realm["users"] if u["username"] == username)


async def jwks_uri(issuer: str) -> str:
    async with httpx.AsyncClient() as client:
        return str((await client.get(f"{issuer}/.well-known/openid-configuration")).json()["jwks_uri"])


# -- discovery and keys --------------------------------------------------------------


async def test_discovery_and_jwks_come_from_keycloak(keycloak: Keycloak, jwks: RemoteJWKS, http: RecordingHttp) -> None:
    published = {key.kid for key in await jwks.get_key_set()}
    realm_keys = keycloak.signing_keys()
    signing = next(k["kid"] for k in realm_keys if k["algorithm"] == "RS256" and k["status"] == "ACTIVE")
    encryption = next(k["kid"] for k in realm_keys if k["algorithm"] == "RSA-OAEP")

    assert {signing, encryption} <= published
    assert (await jwks.key_for(signing, "RS256")).kid == signing
    with pytest.raises(Unauthenticated):
        await jwks.key_for(encryption, "RS256")  # published for encryption ("use": "enc"), never to verify
    discovery = f"{keycloak.issuer}/.well-known/openid-configuration"
    assert http.count(discovery) == 1 and http.count(await jwks_uri(keycloak.issuer)) == 1


@pytest.mark.parametrize(
    ("pkce", "accepted"),
    [
        ({"code_challenge_method": "S256"}, True),
        ({"code_challenge_method": "plain"}, False),
        ({}, False),
    ],
    ids=["s256", "plain", "none"],
)
async def test_browser_client_requires_pkce_s256(keycloak: Keycloak, pkce: dict[str, str], accepted: bool) -> None:
    """The admin UI's client (cms-admin): authorization code flow, only with an S256 code challenge."""
    params = {
        "client_id": "cms-admin",
        "response_type": "code",
        "scope": "openid",
        "state": "s1",
        "redirect_uri": "http://localhost:8000/admin/callback",
    }
    if pkce:
        params |= {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", **pkce}
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{keycloak.issuer}/protocol/openid-connect/auth", params=params)
    if accepted:
        assert response.status_code == 200 and 'id="kc-form-login"' in response.text  # the login page
    else:
        # Refused back to the client's redirect URI, as OAuth 2.0 says for a bad request from a known client.
        assert response.status_code == 302, response.text
        assert response.headers["location"].startswith(params["redirect_uri"])
        assert "error=invalid_request" in response.headers["location"]


# -- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "roles"),
    [
        ("alice", {"admin"}),
        ("eddie", {"editor"}),
        ("vera", {"viewer"}),
        ("nora", set()),
    ],
)
async def test_realm_roles_through_the_default_claim(
    keycloak: Keycloak, jwks: RemoteJWKS, username: str, roles: set[str]
) -> None:
    token = keycloak.token(username)
    principal = await validator(jwks).validate(token)
    person = user(keycloak, username)
    assert principal.roles == roles
    assert principal.subject == claims_of(token)["sub"]
    assert principal.name == f"{person['firstName']} {person['lastName']}" and principal.email == person["email"]
    assert principal.is_viewer == bool(roles)  # nora is signed in, with no CMS role


async def test_roles_claim_setting_reads_only_that_path(keycloak: Keycloak, jwks: RemoteJWKS) -> None:
    token = keycloak.token("eddie")
    # cms-tests puts the realm roles a second time under cms_access.roles (a protocol mapper in the realm file).
    assert (await validator(jwks, OIDC_ROLES_CLAIM="cms_access.roles").validate(token)).roles == {"editor"}
    # Keycloak's client roles for the account console: none of them is a CMS role, and realm_access is not consulted.
    assert (await validator(jwks, OIDC_ROLES_CLAIM="resource_access.account.roles").validate(token)).roles == set()


async def test_role_map_turns_an_idp_role_into_a_cms_role(keycloak: Keycloak, jwks: RemoteJWKS) -> None:
    ivan, eddie = keycloak.token("ivan"), keycloak.token("eddie")
    assert "cms-editors" in claims_of(ivan)["realm_access"]["roles"]
    assert (await validator(jwks).validate(ivan)).roles == set()

    mapped = validator(jwks, OIDC_ROLE_MAP="cms-editors:editor")
    assert (await mapped.validate(ivan)).roles == {"editor"}
    # A map replaces the identity mapping: a role it does not name grants nothing.
    assert (await mapped.validate(eddie)).roles == set()


# -- refused tokens --------------------------------------------------------------------


async def test_token_for_another_audience_is_refused(keycloak: Keycloak, jwks: RemoteJWKS) -> None:
    token = keycloak.token("eddie", client_id=OTHER_APP)
    assert "cms" not in claims_of(token)["aud"]
    with pytest.raises(Unauthenticated, match="invalid token"):
        await validator(jwks).validate(token)


async def test_expired_token_is_refused(keycloak: Keycloak, jwks: RemoteJWKS) -> None:
    token = keycloak.token("eddie", client_id=SHORT_LIVED_CLIENT)
    lenient, strict = validator(jwks, OIDC_LEEWAY_SECONDS=3600), validator(jwks, OIDC_LEEWAY_SECONDS=0)
    assert (await lenient.validate(token)).roles == {"editor"}  # a good token in every other respect

    await sleep_past(datetime.fromtimestamp(claims_of(token)["exp"], UTC))
    with pytest.raises(Unauthenticated, match="invalid token"):
        await strict.validate(token)
    assert (await lenient.validate(token)).roles == {"editor"}  # only the expiry check failed


# -- key rotation ------------------------------------------------------------------------


@pytest.fixture
def private_realm(keycloak: Keycloak) -> str:
    """A copy of the cms realm of its own for a test that changes its keys. Left in place: the session's Keycloak
    keeps its database in memory, and deleting a realm costs as much as creating one."""
    name = f"rotation-{uuid.uuid4().hex[:8]}"
    keycloak.create_realm(name)
    return name


async def test_key_rotation_through_the_admin_api(
    keycloak: Keycloak, private_realm: str, http: RecordingHttp, clock: FakeClock
) -> None:
    issuer = keycloak.issuer_of(private_realm)
    certs = await jwks_uri(issuer)
    keys = RemoteJWKS(issuer, http.client, min_refetch_interval=60.0, max_age=3600.0, clock=clock)
    check = validator(keys)

    old_token = keycloak.token("eddie", realm=private_realm)
    assert (await check.validate(old_token)).roles == {"editor"}
    assert http.count(certs) == 1

    # Rotate: a new RS256 key provider above every current one signs the tokens from now on.
    realm_keys = keycloak.signing_keys(private_realm)
    old_provider = next(k["providerId"] for k in realm_keys if k["kid"] == kid_of(old_token))
    top = max(k["providerPriority"] for k in realm_keys if k["algorithm"] == "RS256")
    keycloak.add_rsa_key(private_realm, priority=top + 100)
    new_token = keycloak.token("eddie", realm=private_realm)
    assert kid_of(new_token) != kid_of(old_token)

    clock.now += 61  # past min_refetch_interval: an unknown kid may trigger a fetch
    assert (await check.validate(new_token)).roles == {"editor"}
    assert http.count(certs) == 2  # exactly one refetch
    assert (await check.validate(old_token)).roles == {"editor"}  # the old key is still published
    assert http.count(certs) == 2

    # Retire the old key: delete its provider. Once the cache is refreshed (max_age), tokens it signed are refused.
    keycloak.delete_component(old_provider, private_realm)
    clock.now += 3600
    with pytest.raises(Unauthenticated, match="invalid token"):
        await check.validate(old_token)
    assert http.count(certs) == 3
    assert (await check.validate(new_token)).roles == {"editor"}
    assert http.count(certs) == 3


# -- the running app -----------------------------------------------------------------------


async def graphql(app_url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as client:
        return await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {token}"},
        )


async def data(app_url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await graphql(app_url, token, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


@pytest.mark.parametrize(
    ("username", "roles"),
    [
        ("alice", ["admin"]),
        ("eddie", ["editor"]),
        ("vera", ["viewer"]),
        ("ivan", ["editor"]),
        ("nora", []),
    ],
)
async def test_viewer_through_the_app(keycloak: Keycloak, keycloak_app: str, username: str, roles: list[str]) -> None:
    viewer = (await data(keycloak_app, keycloak.token(username), VIEWER))["viewer"]
    person = user(keycloak, username)
    assert viewer["roles"] == roles  # ivan's cms-editors is mapped by the app's OIDC_ROLE_MAP
    assert viewer["displayName"] == f"{person['firstName']} {person['lastName']}"


@pytest.mark.parametrize(
    ("username", "outcome"),
    [
        ("eddie", "Program"),
        ("ivan", "Program"),
        ("alice", "Program"),
        ("vera", "ForbiddenError"),
        ("nora", "ForbiddenError"),
    ],
)
async def test_editor_mutation_through_the_app(
    keycloak: Keycloak, keycloak_app: str, username: str, outcome: str
) -> None:
    title = f"Keycloak {username} {uuid.uuid4().hex[:8]}"
    created = (await data(keycloak_app, keycloak.token(username), CREATE_PROGRAM, {"input": {"title": title}}))[
        "createProgram"
    ]
    assert created["__typename"] == outcome
    if outcome == "Program":
        assert created["title"] == title


async def test_app_refuses_expired_and_foreign_tokens(keycloak: Keycloak, keycloak_app: str) -> None:
    expired = keycloak.token("eddie", client_id=SHORT_LIVED_CLIENT)
    foreign = keycloak.token("eddie", client_id=OTHER_APP)
    await sleep_past(datetime.fromtimestamp(claims_of(expired)["exp"], UTC))
    for token in (expired, foreign):
        response = await graphql(keycloak_app, token, VIEWER)
        assert response.status_code == 401, response.text
        assert response.json()["errors"][0]["message"] == "invalid token"
    # The same user through the API's own client is let in.
    assert (await data(keycloak_app, keycloak.token("eddie"), VIEWER))["viewer"]["roles"] == ["editor"]
