"""Signed edge URLs: canonical form, expiry, key rotation, traversal, and tampering as properties."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.edge.signing import (
    EdgeRefused,
    canonical_string,
    parse_keys,
    sign,
    split_edge_path,
    verify,
    verify_url_path,
)

SHA = "ab" * 32
SCOPE = f"{SHA}/hls-f00d/hls/"
MASTER = f"{SCOPE}master.m3u8"
NOW = 1_700_000_000
EXPIRES = NOW + 3600
KEYS = parse_keys("old:old-secret-0123456789abcdef,new:new-secret-0123456789abcdef")


def url(path: str = MASTER, scope: str = SCOPE, kid: str = "new", expires: int = EXPIRES) -> str:
    return sign(KEYS, kid, scope, path, expires)


def check(raw_path: str, now: float = NOW, keys=KEYS) -> str:
    return verify_url_path(keys, raw_path, now)


def refused(raw_path: str, now: float = NOW, keys=KEYS) -> bool:
    try:
        check(raw_path, now, keys)
    except EdgeRefused as exc:
        assert str(exc) == "forbidden"  # always the same message
        return True
    return False


# --- keys ------------------------------------------------------------------------------------------------


def test_parse_keys():
    assert parse_keys(" a:0123456789abcdef , b-2:ab:cd:0123456789abcdef") == {
        "a": b"0123456789abcdef",
        "b-2": b"ab:cd:0123456789abcdef",  # the secret may contain ':'
    }


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "  ",
        "a",
        ":0123456789abcdef",
        "a:short",
        "a:0123456789abcdef,a:fedcba9876543210",
        "a:0123456789abcdef,",
        "bad kid:0123456789abcdef",
        "a/b:0123456789abcdef",
    ],
)
def test_parse_keys_refuses(spec):
    with pytest.raises(ValueError) as info:
        parse_keys(spec)
    assert "0123456789abcdef" not in str(info.value)  # never echo a secret


# --- canonical form and round trip ---------------------------------------------------------------------


def test_url_layout_and_canonical_string():
    signed = url()
    _, edge, kid, expires, scope_b64, signature, rest = signed.split("/", 6)
    assert (edge, kid, expires, rest) == ("edge", "new", str(EXPIRES), MASTER)
    assert base64.urlsafe_b64decode(scope_b64 + "=" * (-len(scope_b64) % 4)).decode() == SCOPE
    assert "=" not in scope_b64 and "=" not in signature
    assert canonical_string("new", EXPIRES, SCOPE) == f"v1\nnew\n{EXPIRES}\n{SCOPE}"
    mac = hmac.new(KEYS["new"], f"v1\nnew\n{EXPIRES}\n{SCOPE}".encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert check(signed) == MASTER


def test_scope_covers_every_key_below_it():
    for key in (f"{SCOPE}720p/index.m3u8", f"{SCOPE}720p/init.mp4", f"{SCOPE}720p/seg_00000.m4s"):
        assert check(url(key)) == key
    # The same token with another key in the scope (what relative playlist URIs produce) verifies.
    base = url().rsplit("/", 1)[0]
    assert check(f"{base}/720p/seg_00001.m4s") == f"{SCOPE}720p/seg_00001.m4s"


def test_scope_without_slash_is_one_exact_key():
    poster = f"{SHA}/hls-f00d/poster.jpg"
    signed = url(poster, scope=poster)
    assert check(signed) == poster
    assert refused(signed.replace("poster.jpg", "poster.jpgx"))
    with pytest.raises(ValueError):
        url(f"{SHA}/hls-f00d-other/x.jpg", scope=f"{SHA}/hls-f00d")  # not a bare string prefix


def test_sign_refuses_misuse():
    for args in [
        ("nope", SCOPE, MASTER),
        ("new", "", MASTER),
        ("new", SCOPE, f"{SHA}/other/x.m3u8"),
        ("new", "../", "../x"),
        ("new", SCOPE, f"{SCOPE}../x"),
        ("new", SCOPE, SCOPE),
    ]:
        with pytest.raises(ValueError):
            sign(KEYS, args[0], args[1], args[2], EXPIRES)
    with pytest.raises(ValueError):
        sign(KEYS, "new", SCOPE, MASTER, datetime(2030, 1, 1))  # naive datetime
    aware = datetime(2030, 1, 1, tzinfo=UTC)
    assert f"/{int(aware.timestamp())}/" in sign(KEYS, "new", SCOPE, MASTER, aware)


# --- expiry and rotation ---------------------------------------------------------------------------------


def test_expiry():
    signed = url()
    assert check(signed, now=EXPIRES) == MASTER  # valid through the expiry second
    assert refused(signed, now=EXPIRES + 1)
    assert refused(signed.replace(f"/{EXPIRES}/", f"/{EXPIRES + 10}/"))  # extending is tampering
    assert refused(signed.replace(f"/{EXPIRES}/", f"/0{EXPIRES}/"))  # one canonical form only


def test_rotation_keeps_old_links_and_retiring_refuses_them():
    old_link, new_link = url(kid="old"), url(kid="new")
    assert check(old_link) == check(new_link) == MASTER  # both keys configured
    retired = parse_keys("new:new-secret-0123456789abcdef")
    assert refused(old_link, keys=retired)
    assert check(new_link, keys=retired) == MASTER
    assert refused(old_link.replace("/old/", "/new/"))  # a kid swap breaks the signature
    assert refused(url(kid="new").replace("/new/", "/gone/"))


# --- traversal and malformed paths -----------------------------------------------------------------------


def _with_key(raw_key: str) -> str:
    return url()[: -len(MASTER)] + raw_key  # the signed header of a MASTER link, any raw key after it


@pytest.mark.parametrize(
    "raw_key",
    [
        f"{SCOPE}../../other/master.m3u8",
        f"{SCOPE}720p/../../../x",
        f"{SCOPE}%2e%2e/%2e%2e/x.m3u8",
        f"{SCOPE}%2E%2E/x.m3u8",
        f"{SCOPE}.%2e/x.m3u8",
        f"{SCOPE}a%2f..%2f..%2fx",
        f"{SCOPE}a%2Fb.m3u8",  # decodes to a key inside the scope, but '%2f' is never a separator for us
        f"{SCOPE}%252e%252e/x",  # double encoding: decoded once -> '%2e%2e' -> refused
        f"{SCOPE}./master.m3u8",
        f"{SCOPE}720p//index.m3u8",
        f"{SCOPE}master.m3u8/",
        f"{SCOPE}master\x00.m3u8",
        f"{SCOPE}master%00.m3u8",
        f"{SCOPE}720p\\..\\..\\x",
        f"{SCOPE}720p%5c..%5cx",
        f"{SCOPE}%",
        f"{SCOPE}%zz",
        f"{SCOPE}%ff",
        f"{SCOPE}a b",
        f"{SHA}/hls-f00e/hls/master.m3u8",  # outside the scope
        f"{SHA}/hls-f00d/hls",  # the scope's own directory is not an object inside it
        "",
        f"{SCOPE}" + "a/" * 300 + "x",  # absurdly long
        f"{SCOPE}" + "a" * 5000,
    ],
)
def test_traversal_and_malformed_paths_are_refused(raw_key):
    assert refused(_with_key(raw_key))


def test_percent_encoding_of_plain_characters_decodes_once():
    assert check(_with_key(f"{SCOPE}master%2Em3u8")) == MASTER


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u.replace("/edge/new/", "/edge/NEW/"),
        lambda u: u.replace("/edge/new/", "/edge/n%65w/"),
        lambda u: u.replace("/edge/", "/edgy/"),
        lambda u: "/".join(u.split("/")[:6]),  # no key at all
        lambda u: "/".join(u.split("/")[:6]) + "/",
        lambda u: u.replace(f"/{EXPIRES}/", "/-1/"),
        lambda u: u.replace(f"/{EXPIRES}/", f"/{EXPIRES}.0/"),
        lambda u: u.replace(f"/{EXPIRES}/", "/99999999999999999999/"),
    ],
)
def test_mangled_headers_are_refused(mangle):
    assert refused(mangle(url()))


def test_scope_must_be_canonical_base64():
    kid, expires, scope_b64, signature, key = split_edge_path(url())
    padded = scope_b64 + "=" * (-len(scope_b64) % 4)
    for variant in (padded, scope_b64 + "=", scope_b64.replace("-", "+"), scope_b64 + "A", scope_b64[:-1]):
        if variant != scope_b64:
            with pytest.raises(EdgeRefused):
                verify(KEYS, kid, expires, variant, signature, key, NOW)


def test_non_string_input_is_refused():
    with pytest.raises(EdgeRefused):
        verify(KEYS, "new", EXPIRES, "x", "y", MASTER, NOW)  # type: ignore[arg-type]


# --- properties: tampering never widens access ------------------------------------------------------------

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
any_char = st.one_of(st.characters(min_codepoint=0, max_codepoint=255), st.sampled_from("/.%\\?#=+-_0aA"))


@st.composite
def signed_urls(draw):
    fp = draw(segment)
    scope = f"{SHA}/hls-{fp}/hls/"
    extension = draw(st.sampled_from([".m3u8", ".m4s", ".mp4", ""]))
    key = scope + "/".join(draw(st.lists(segment, min_size=1, max_size=3))) + extension
    kid = draw(st.sampled_from(["old", "new"]))
    expires = draw(st.integers(min_value=NOW, max_value=NOW + 10**6))
    return sign(KEYS, kid, scope, key, expires), scope, key


@settings(max_examples=600, deadline=None)
@given(data=signed_urls(), where=st.integers(min_value=0), replacement=any_char)
def test_any_single_changed_character_is_refused_or_stays_in_scope(data, where, replacement):
    signed, scope, key = data
    assert check(signed) == key
    where %= len(signed)
    if signed[where] == replacement:
        return
    tampered = signed[:where] + replacement + signed[where + 1 :]
    suffix_starts = len(signed) - len(key) + len(scope)  # first character of the key below the scope
    try:
        got = check(tampered)
    except EdgeRefused:
        return
    assert got.startswith(scope) and len(got) > len(scope)  # never outside the signed scope
    if where < suffix_starts:  # kid, expires, scope, signature, or the scope part of the key
        assert got == key
    else:
        assert ".." not in got.split("/") and "" not in got.split("/")


@settings(max_examples=300, deadline=None)
@given(data=signed_urls(), where=st.integers(min_value=0), new=st.integers(min_value=0, max_value=255))
def test_any_single_changed_byte_in_the_header_is_refused(data, where, new):
    signed, scope, key = data
    header_len = len(signed) - len(key)  # "/edge/kid/expires/scope/signature/"
    where %= header_len
    raw = bytearray(signed.encode("ascii"))
    if raw[where] == new:
        return
    raw[where] = new
    tampered = raw.decode("latin-1")
    try:
        got = check(tampered)
    except EdgeRefused:
        return
    # Only the "/edge/" marker's own leading part may change without effect (a mount prefix is ignored).
    assert got == key


@settings(max_examples=200, deadline=None)
@given(data=signed_urls(), now_offset=st.integers(min_value=1, max_value=10**7))
def test_expired_urls_are_refused(data, now_offset):
    signed, _, _ = data
    expires = int(split_edge_path(signed)[1])
    assert refused(signed, now=expires + now_offset)
