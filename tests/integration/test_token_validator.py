"""TokenValidator against a real identity provider served over HTTP on loopback."""

import asyncio
import json
import os
import stat

import pytest

from cms.auth import DevIssuer, Principal, RemoteJWKS, TokenValidator
from cms.core.errors import Unauthenticated
from tests.support.oidc_issuer import BAD_TOKEN_CASES, TestIssuer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer():
    with TestIssuer() as running:
        yield running


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def jwks(issuer, clock):
    keys = RemoteJWKS(issuer.url, min_refetch_interval=60.0, clock=clock)
    yield keys
    await keys.aclose()


@pytest.fixture
def validator(issuer, jwks):
    return TokenValidator(issuer.url, "cms", jwks, roles_claim=None, role_map={}, leeway=30)


async def test_good_rs256_token(issuer, validator):
    token = issuer.mint("alice", ("editor", "offline_access"), claims_extra={"email": "a@example.org"})
    assert await validator.validate(token) == Principal(
        subject="alice", roles=frozenset({"editor"}), name="alice", email="a@example.org"
    )


async def test_good_es256_token(issuer, validator):
    token = issuer.mint("bob", ("admin",), alg="ES256", claims_extra={"name": "Bob"})
    principal = await validator.validate(token)
    assert (principal.subject, principal.name) == ("bob", "Bob")
    assert principal.is_admin and principal.is_editor and principal.is_viewer


async def test_audience_list_and_role_map(issuer, jwks):
    role_map = {"cms-editors": "editor"}
    validator = TokenValidator(issuer.url, "cms", jwks, roles_claim="groups", role_map=role_map)
    token = issuer.mint(aud=["account", "cms"], claims_extra={"groups": ["/cms-editors", "/staff"]})
    principal = await validator.validate(token)
    assert principal.roles == {"editor"} and principal.is_viewer and not principal.is_admin


async def test_token_without_cms_roles_is_signed_in_but_not_a_viewer(issuer, validator):
    principal = await validator.validate(issuer.mint("carol", ("offline_access",)))
    assert principal.subject == "carol" and principal.roles == frozenset() and not principal.is_viewer


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
async def test_bad_tokens_refused_with_a_generic_message(issuer, validator, case):
    with pytest.raises(Unauthenticated) as refused:
        await validator.validate(issuer.forge(case))
    assert refused.value.message == "invalid token"


async def test_concurrent_first_use_fetches_keys_once(issuer, validator):
    before = issuer.jwks_fetches
    tokens = [issuer.mint(f"user-{i}") for i in range(20)]
    principals = await asyncio.gather(*(validator.validate(token) for token in tokens))
    assert [p.subject for p in principals] == [f"user-{i}" for i in range(20)]
    assert issuer.jwks_fetches - before == 1


async def test_unknown_kid_burst_fetches_at_most_once_per_interval(issuer, validator, clock):
    await validator.validate(issuer.mint())
    fetched = issuer.jwks_fetches

    bogus = [issuer.mint(kid=f"bogus-{i}") for i in range(20)]
    results = await asyncio.gather(*(validator.validate(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(result, Unauthenticated) for result in results)
    assert issuer.jwks_fetches == fetched  # the keys were fetched moments ago

    clock.now += 61
    results = await asyncio.gather(*(validator.validate(t) for t in bogus), return_exceptions=True)
    assert all(isinstance(result, Unauthenticated) for result in results)
    assert issuer.jwks_fetches == fetched + 1


async def test_rotated_key_accepted_once_refetch_is_allowed(issuer, validator, clock):
    await validator.validate(issuer.mint())
    fetched = issuer.jwks_fetches
    kid = issuer.rotate_in("ES256")
    token = issuer.mint("rotated", kid=kid, alg="ES256")

    clock.now += 30  # inside the interval: the new key is not looked for yet
    with pytest.raises(Unauthenticated):
        await validator.validate(token)
    assert issuer.jwks_fetches == fetched

    clock.now += 31
    assert (await validator.validate(token)).subject == "rotated"
    assert issuer.jwks_fetches == fetched + 1


async def test_keys_refreshed_after_max_age(issuer, clock):
    keys = RemoteJWKS(issuer.url, min_refetch_interval=60.0, max_age=600.0, clock=clock)
    try:
        first = await keys.get_key_set()
        fetched = issuer.jwks_fetches
        clock.now += 601
        await keys.get_key_set()
        assert issuer.jwks_fetches == fetched + 1 and first
    finally:
        await keys.aclose()


async def test_leeway(issuer, validator):
    assert await validator.validate(issuer.mint(exp_in=-10, iat_in=-300))
    assert await validator.validate(issuer.mint(nbf_in=10))
    with pytest.raises(Unauthenticated):
        await validator.validate(issuer.mint(exp_in=-60, iat_in=-300))
    with pytest.raises(Unauthenticated):
        await validator.validate(issuer.mint(nbf_in=60))


async def test_cached_keys_served_while_provider_is_down(clock):
    with TestIssuer() as provider:
        keys = RemoteJWKS(provider.url, min_refetch_interval=60.0, max_age=600.0, clock=clock)
        validator = TokenValidator(provider.url, "cms", keys)
        assert await validator.validate(provider.mint())
        token, unknown = provider.mint("later"), provider.mint(kid="new-key")
    try:
        clock.now += 3600  # stale, and the refresh fails: the cached keys still serve
        assert (await validator.validate(token)).subject == "later"
        with pytest.raises(Unauthenticated, match="invalid token"):
            await validator.validate(unknown)
    finally:
        await keys.aclose()


async def test_unreachable_provider_without_cached_keys(issuer):
    with TestIssuer() as provider:
        url, token = provider.url, provider.mint()
    keys = RemoteJWKS(url)
    try:
        with pytest.raises(Unauthenticated, match="identity provider unavailable"):
            await TokenValidator(url, "cms", keys).validate(token)
    finally:
        await keys.aclose()


async def test_discovery_naming_another_issuer_is_refused(issuer):
    issuer.advertised_issuer = "https://evil.example"
    keys = RemoteJWKS(issuer.url)
    try:
        with pytest.raises(Unauthenticated, match="identity provider unavailable"):
            await TokenValidator(issuer.url, "cms", keys).validate(issuer.mint())
    finally:
        issuer.advertised_issuer = None
        await keys.aclose()


def test_dev_issuer_key_persisted_with_mode_0600(tmp_path):
    first = DevIssuer(tmp_path, "http://localhost:8000/auth")
    key_file = tmp_path / "dev-issuer" / "key.json"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert "d" in json.loads(key_file.read_text())  # the private key, so it can sign after a restart

    again = DevIssuer(tmp_path, "http://localhost:8000/auth")
    assert again.jwks() == first.jwks() and again.kid == first.kid
    assert all("d" not in key for key in first.jwks()["keys"])
    assert first.discovery()["jwks_uri"] == "http://localhost:8000/auth/jwks"


async def test_dev_issuer_token_validates(tmp_path):
    dev = DevIssuer(tmp_path, "http://localhost:8000/auth")
    validator = TokenValidator(dev.issuer, "cms", dev.key_source(), roles_claim=None, role_map={})
    token = dev.mint("dev-admin", ["admin"], audience="cms", name="Dev", email="dev@example.org")
    expected = Principal("dev-admin", frozenset({"admin"}), "Dev", "dev@example.org")
    assert await validator.validate(token) == expected

    with pytest.raises(Unauthenticated):
        await validator.validate(dev.mint("x", ["admin"], audience="other"))
    other = DevIssuer(tmp_path / "elsewhere", "http://localhost:8000/auth")
    with pytest.raises(Unauthenticated):
        await validator.validate(other.mint("x", ["admin"], audience="cms"))
