"""The development issuer's browser sign-in, as the admin SPA (oidc-client-ts) goes through it over HTTP:
authorization code with PKCE, the sign-in page, token and refresh grants, userinfo, logout, CORS.

A second app, with the development issuer (no OIDC_ISSUER), shares the suite's database with `live_server` (which
opened it, so this one runs without a lifespan) and is called in-process through httpx's ASGI transport.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from cms.app import create_app
from cms.auth import dev_login
from cms.core.settings import Settings
from cms.services import Services

BASE = "http://cms.test"
ISSUER = f"{BASE}/auth/dev"
CLIENT_ID = "cms-admin"
SPA = "http://localhost:5173/admin/callback"  # the vite dev server: a loopback host, any port
TRUSTED_ORIGIN = "https://admin.example.org"  # in CMS_CORS_ORIGINS
VIEWER = "{ viewer { displayName roles } }"


@pytest.fixture
async def client(settings: Settings, db_target, live_server, api, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    # `api`: its teardown empties the tables the sign-ins below add users to.
    dev_settings = settings.model_copy(
        update={
            "oidc_issuer": None,
            "public_base_url": BASE,
            "data_dir": tmp_path,
            "cors_origins": (TRUSTED_ORIGIN,),
        }
    )
    app = create_app(Services(dev_settings, database=db_target))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=30) as http:
        yield http


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": SPA,
        "scope": "openid profile",
        "state": "st-" + secrets.token_hex(8),
        "nonce": "n-" + secrets.token_hex(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {key: value for key, value in params.items() if value is not None}


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def sealed_request(page: str) -> str:
    found = re.search(r'name="request" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, *, role: str = "editor", name: str = "", **overrides: str | None
) -> tuple[dict[str, str], dict[str, str], str]:
    """Through the sign-in page: (the authorization request, the redirect's query, the PKCE verifier)."""
    verifier, challenge = pkce()
    params = authorize_params(challenge, **overrides)
    page = await client.get("/auth/dev/authorize", params=params)
    assert page.status_code == 200, page.text
    answer = await client.post(
        "/auth/dev/authorize",
        data={"request": sealed_request(page.text), "role": role, "name": name, "decision": "allow"},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?"), location
    return params, query_of(location), verifier


async def exchange(
    client: httpx.AsyncClient, code: str, verifier: str, redirect_uri: str = SPA, **extra: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        **extra,
    }
    return await client.post("/auth/dev/token", data=form)


async def refresh(client: httpx.AsyncClient, token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID, **extra}
    return await client.post("/auth/dev/token", data=form)


async def viewer(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {access_token}"}
    return await client.post("/graphql", json={"query": VIEWER}, headers=headers)


async def verified_claims(client: httpx.AsyncClient, token: str) -> dict:
    keys = KeySet.import_key_set((await client.get("/auth/dev/jwks")).json())
    return jwt.decode(token, keys, algorithms=["RS256"]).claims


def assert_oauth_error(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error, response.json()
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"


# -- the whole sign-in --------------------------------------------------------------------------------------------


async def test_discovery_lists_the_endpoints(client):
    response = await client.get("/auth/dev/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER and meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert "openid" in meta["scopes_supported"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_sign_in_page_is_a_plain_accessible_form(client):
    _, challenge = pkce()
    page = await client.get("/auth/dev/authorize", params=authorize_params(challenge))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="en">' in html and "<h1>" in html and "<title>" in html
    for role in ("admin", "editor", "viewer"):
        assert f'<input type="radio" id="role-{role}" name="role" value="{role}"' in html
        assert f'<label for="role-{role}">' in html
    assert re.search(r'id="role-editor"[^>]*checked', html)  # a default, so Enter alone signs in
    assert '<label for="name">' in html and 'id="name"' in html
    assert "<legend>Role</legend>" in html
    assert "<script" not in html and "http://" not in html.split("<main>")[0]  # nothing loaded from elsewhere
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # The form posts here; Chromium also checks the redirect that follows against form-action.
    assert "form-action 'self' http://localhost:5173" in csp
    assert page.headers["cache-control"] == "no-store"


async def test_editor_signs_in_and_the_api_sees_the_role(client):
    params, back, verifier = await sign_in(client, role="editor", name="Dev Editor")
    assert back["state"] == params["state"] and back["iss"] == ISSUER and back["code"]

    response = await exchange(client, back["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 600
    assert tokens["scope"] == "openid profile"
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens)

    me = await viewer(client, tokens["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["data"]["viewer"] == {"displayName": "Dev Editor", "roles": ["editor"]}

    access = await verified_claims(client, tokens["access_token"])
    assert access["aud"] == "cms" and access["iss"] == ISSUER
    assert access["sub"] == "dev-editor" and access["roles"] == ["editor"] and access["name"] == "Dev Editor"

    info = await client.get("/auth/dev/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200
    assert info.json() == {"sub": "dev-editor", "name": "Dev Editor", "roles": ["editor"]}


async def test_id_token_carries_the_nonce(client):
    params, back, verifier = await sign_in(client, role="admin", name="Ada Admin")
    tokens = (await exchange(client, back["code"], verifier)).json()
    claims = await verified_claims(client, tokens["id_token"])
    assert claims["nonce"] == params["nonce"]
    assert claims["aud"] == CLIENT_ID and claims["iss"] == ISSUER and claims["azp"] == CLIENT_ID
    assert claims["sub"] == "dev-ada-admin" and claims["name"] == "Ada Admin" and claims["roles"] == ["admin"]
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] > time.time()


async def test_an_empty_name_is_named_after_the_role(client):
    _, back, verifier = await sign_in(client, role="viewer", name="  ")
    tokens = (await exchange(client, back["code"], verifier)).json()
    me = (await viewer(client, tokens["access_token"])).json()
    assert me["data"]["viewer"] == {"displayName": "Dev Viewer", "roles": ["viewer"]}


async def test_cancel_answers_access_denied(client):
    _, challenge = pkce()
    params = authorize_params(challenge)
    page = await client.get("/auth/dev/authorize", params=params)
    answer = await client.post(
        "/auth/dev/authorize", data={"request": sealed_request(page.text), "role": "admin", "decision": "deny"}
    )
    assert answer.status_code == 303
    back = query_of(answer.headers["location"])
    assert back["error"] == "access_denied" and back["state"] == params["state"] and "code" not in back


# -- codes and PKCE -----------------------------------------------------------------------------------------------


async def test_a_wrong_verifier_is_refused_and_spends_the_code(client):
    _, back, verifier = await sign_in(client)
    other_verifier, _ = pkce()
    assert_oauth_error(await exchange(client, back["code"], other_verifier), "invalid_grant")
    # A code is tried once: the right verifier after a wrong one comes too late.
    assert_oauth_error(await exchange(client, back["code"], verifier), "invalid_grant")


async def test_a_code_works_once(client):
    _, back, verifier = await sign_in(client)
    assert (await exchange(client, back["code"], verifier)).status_code == 200
    assert_oauth_error(await exchange(client, back["code"], verifier), "invalid_grant")


async def test_an_expired_code_is_refused(client, monkeypatch):
    _, back, verifier = await sign_in(client)
    monkeypatch.setattr(dev_login, "_now", lambda: time.time() + 61)  # codes live 60 s
    assert_oauth_error(await exchange(client, back["code"], verifier), "invalid_grant")


async def test_the_redirect_uri_must_match(client):
    _, back, verifier = await sign_in(client)
    response = await exchange(client, back["code"], verifier, redirect_uri="http://localhost:5173/elsewhere")
    assert_oauth_error(response, "invalid_grant")


async def test_malformed_token_requests(client):
    _, back, verifier = await sign_in(client)
    assert_oauth_error(await exchange(client, back["code"], "too-short"), "invalid_request")
    assert_oauth_error(await exchange(client, back["code"], verifier, client_id="someone-else"), "invalid_client")
    unsupported = await client.post("/auth/dev/token", data={"grant_type": "password", "client_id": CLIENT_ID})
    assert_oauth_error(unsupported, "unsupported_grant_type")
    assert_oauth_error(await client.post("/auth/dev/token", data={"client_id": CLIENT_ID}), "invalid_request")
    as_json = await client.post("/auth/dev/token", json={"grant_type": "authorization_code"})
    assert_oauth_error(as_json, "invalid_request")
    twice = await client.post(
        "/auth/dev/token",
        content="grant_type=refresh_token&grant_type=authorization_code&client_id=cms-admin",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(twice, "invalid_request")
    # The malformed requests above left the code alone: it still works.
    assert (await exchange(client, back["code"], verifier)).status_code == 200


async def test_the_plain_challenge_method_is_refused(client):
    verifier, _ = pkce()
    params = authorize_params(verifier, code_challenge_method="plain")
    response = await client.get("/auth/dev/authorize", params=params)
    assert response.status_code == 303
    back = query_of(response.headers["location"])
    assert back["error"] == "invalid_request" and back["state"] == params["state"] and back["iss"] == ISSUER
    assert "S256" in back["error_description"]

    # No method at all means plain (RFC 7636), refused alike.
    response = await client.get("/auth/dev/authorize", params=authorize_params(pkce()[1], code_challenge_method=None))
    assert query_of(response.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
    ids=["no-challenge", "implicit", "no-response-type", "no-openid", "prompt-none", "fragment-mode"],
)
async def test_bad_requests_go_back_to_a_trusted_redirect_uri(client, overrides, error):
    params = authorize_params(pkce()[1], **overrides)
    response = await client.get("/auth/dev/authorize", params=params)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(SPA + "?")
    back = query_of(location)
    assert back["error"] == error and back["state"] == params["state"] and "code" not in back


# -- redirect URIs: never an open redirect -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.org/callback",
        "https://admin.example.org.evil.example/callback",
        "http://evil.example.org\\@localhost/callback",  # Python reads host localhost, browsers evil.example.org
        "http://user@localhost:5173/callback",
        "http://localhost:5173/callback#fragment",
        "javascript:alert(1)",
        "/admin/callback",
        "",
    ],
)
async def test_a_foreign_redirect_uri_is_refused_without_redirecting(client, redirect_uri):
    # Everything else is wrong too (plain method): the refusal still must not redirect.
    params = authorize_params("x", redirect_uri=redirect_uri, code_challenge_method="plain")
    response = await client.get("/auth/dev/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "redirect_uri" in response.text and "evil" not in response.text


async def test_an_unknown_client_is_refused_without_redirecting(client):
    response = await client.get("/auth/dev/authorize", params=authorize_params(pkce()[1], client_id="other-app"))
    assert response.status_code == 400 and "location" not in response.headers
    assert "client_id" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [f"{BASE}/admin/callback", "http://127.0.0.1:8000/admin/", "http://[::1]:5173/cb", f"{TRUSTED_ORIGIN}/admin/cb"],
    ids=["own-origin", "loopback-ip", "loopback-v6", "cors-origin"],
)
async def test_allowed_redirect_uris(client, redirect_uri):
    params, back, verifier = await sign_in(client, redirect_uri=redirect_uri)
    assert back["state"] == params["state"]
    assert (await exchange(client, back["code"], verifier, redirect_uri=redirect_uri)).status_code == 200


async def test_a_forged_or_tampered_form_is_refused(client):
    _, challenge = pkce()
    page = await client.get("/auth/dev/authorize", params=authorize_params(challenge))
    sealed = sealed_request(page.text)
    for forged in ("", "not-a-token", sealed[:-4] + "AAAA"):
        answer = await client.post("/auth/dev/authorize", data={"request": forged, "role": "admin"})
        assert answer.status_code == 400 and "location" not in answer.headers
    unknown_role = await client.post("/auth/dev/authorize", data={"request": sealed, "role": "root"})
    assert unknown_role.status_code == 400 and "location" not in unknown_role.headers
    assert 'role="alert"' in unknown_role.text  # the page again, saying what to fix


async def test_only_browsers_on_this_machine_may_sign_in(settings, db_target, api, tmp_path):
    """A development server bound to 0.0.0.0: a browser elsewhere on the network sees the page but cannot choose a
    role and walk away with an admin token."""
    dev_settings = settings.model_copy(update={"oidc_issuer": None, "public_base_url": BASE, "data_dir": tmp_path})
    app = create_app(Services(dev_settings, database=db_target))
    transport = httpx.ASGITransport(app=app, client=("192.168.1.23", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as remote:
        _, challenge = pkce()
        page = await remote.get("/auth/dev/authorize", params=authorize_params(challenge))
        assert page.status_code == 200
        answer = await remote.post(
            "/auth/dev/authorize", data={"request": sealed_request(page.text), "role": "admin", "decision": "allow"}
        )
    assert answer.status_code == 403 and "location" not in answer.headers
    assert "this machine only" in answer.text


# -- refresh tokens -----------------------------------------------------------------------------------------------


async def test_the_refresh_grant_gives_working_tokens(client):
    _, back, verifier = await sign_in(client, role="admin", name="Dev Admin")
    first = (await exchange(client, back["code"], verifier)).json()

    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    renewed = response.json()
    assert renewed["access_token"] != first["access_token"] and renewed["refresh_token"] != first["refresh_token"]
    me = (await viewer(client, renewed["access_token"])).json()
    assert me["data"]["viewer"] == {"displayName": "Dev Admin", "roles": ["admin"]}

    old_id = await verified_claims(client, first["id_token"])
    new_id = await verified_claims(client, renewed["id_token"])
    assert new_id["sub"] == old_id["sub"] and new_id["auth_time"] == old_id["auth_time"]  # what oidc-client-ts checks
    assert new_id["aud"] == CLIENT_ID and "nonce" not in new_id

    # The renewed refresh token works in turn.
    assert (await refresh(client, renewed["refresh_token"])).status_code == 200


async def test_only_a_refresh_token_is_a_refresh_token(client):
    _, back, verifier = await sign_in(client)
    tokens = (await exchange(client, back["code"], verifier)).json()
    assert_oauth_error(await refresh(client, tokens["access_token"]), "invalid_grant")
    assert_oauth_error(await refresh(client, tokens["id_token"]), "invalid_grant")
    assert_oauth_error(await refresh(client, "garbage"), "invalid_grant")
    # Nor is a refresh token an access token for the API.
    refused = await viewer(client, tokens["refresh_token"])
    assert refused.status_code == 401
    assert_oauth_error(await refresh(client, tokens["refresh_token"], scope="openid admin"), "invalid_scope")


# -- userinfo, CORS, logout ----------------------------------------------------------------------------------------


async def test_userinfo_needs_a_token(client):
    response = await client.get("/auth/dev/userinfo", headers={"origin": "http://localhost:5173"})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["access-control-allow-origin"] == "*"
    bad = await client.get("/auth/dev/userinfo", headers={"authorization": "Bearer nope", "origin": TRUSTED_ORIGIN})
    assert bad.status_code == 401 and bad.headers["access-control-allow-origin"] == "*"


async def test_the_token_endpoint_answers_cors_preflights(client):
    preflight = await client.options(
        "/auth/dev/token",
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"]

    _, back, verifier = await sign_in(client)
    response = await client.post(
        "/auth/dev/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": SPA,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
        headers={"origin": "http://127.0.0.1:5173"},
    )
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    for path in ("/auth/dev/.well-known/openid-configuration", "/auth/dev/jwks"):
        answer = await client.get(path, headers={"origin": "http://localhost:5173"})
        assert answer.headers["access-control-allow-origin"] == "*"
    # The sign-in page is for browsers navigating to it, not for scripts of other origins.
    page = await client.get("/auth/dev/authorize", params=authorize_params(pkce()[1]), headers={"origin": BASE})
    assert "access-control-allow-origin" not in page.headers


async def test_logout_redirects_and_ends_the_session(client):
    _, back, verifier = await sign_in(client)
    tokens = (await exchange(client, back["code"], verifier)).json()
    response = await client.get(
        "/auth/dev/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "http://localhost:5173/admin/",
            "state": "bye",
            "client_id": CLIENT_ID,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "http://localhost:5173/admin/?state=bye"
    assert_oauth_error(await refresh(client, tokens["refresh_token"]), "invalid_grant")


async def test_logout_never_redirects_elsewhere(client):
    response = await client.get("/auth/dev/logout", params={"post_logout_redirect_uri": "https://evil.example.org/"})
    assert response.status_code == 200 and "location" not in response.headers
    assert "Signed out" in response.text
    plain = await client.get("/auth/dev/logout")
    assert plain.status_code == 200 and "Signed out" in plain.text


# -- production ---------------------------------------------------------------------------------------------------


async def test_production_has_no_dev_issuer(issuer, tmp_path):
    app = create_app(Services(Settings(CMS_ENV="production", OIDC_ISSUER=issuer.url, CMS_DATA_DIR=tmp_path)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        page = await http.get("/auth/dev/authorize", params=authorize_params(pkce()[1]))
        assert page.status_code == 404
        assert (await http.get("/auth/dev/.well-known/openid-configuration")).status_code == 404
        token = await http.post("/auth/dev/token", data={"grant_type": "authorization_code"})
        assert token.status_code == 404 and "access-control-allow-origin" not in token.headers
    assert not (tmp_path / "dev-issuer").exists()  # no development key was even created
