"""Key validation and content addressing: pure functions, no I/O."""

import hashlib

import pytest

from cms.media.storage import StorageKeyInvalid, master_key, validate_key
from cms.media.storage.base import MAX_KEY_LENGTH, validate_prefix


@pytest.mark.parametrize(
    "key",
    ["a", "uploads/2024/abc.mp4", "ab/cd/" + "f" * 64, "A-Z_0.9/x.y-z", ".hidden/x", "a..b/c", "x" * MAX_KEY_LENGTH],
)
def test_valid_keys_pass_through(key):
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "a/../b",
        "..",
        ".",
        "/abs",
        "a//b",
        "a/./b",
        "a/",
        "a\x00b",
        "caf\u00e9",
        "a b",
        "a\\b",
        "a?b",
        "~tmp.part",
        "x" * (MAX_KEY_LENGTH + 1),
    ],
)
def test_invalid_keys_are_rejected(key):
    with pytest.raises(StorageKeyInvalid):
        validate_key(key)


def test_non_string_key_is_rejected():
    with pytest.raises(StorageKeyInvalid):
        validate_key(None)  # type: ignore[arg-type]


def test_prefixes_may_be_empty_or_end_with_a_slash():
    assert validate_prefix("") == ""
    assert validate_prefix("ab/") == "ab/"
    assert validate_prefix("ab/c") == "ab/c"
    for bad in ("../", "/a", "a//", "a/../"):
        with pytest.raises(StorageKeyInvalid):
            validate_prefix(bad)


def test_master_key_fans_out_on_the_digest():
    digest = hashlib.sha256(b"hello").hexdigest()
    assert master_key(digest) == f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert master_key(digest.upper()) == master_key(digest)
    assert validate_key(master_key(digest))


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "../" + "a" * 61])
def test_master_key_needs_a_sha256(bad):
    with pytest.raises(StorageKeyInvalid):
        master_key(bad)
