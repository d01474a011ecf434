"""BCP 47 tags to PostgreSQL text search configurations."""

import pytest

from search.postgres.language import CONFIGS, SIMPLE, primary_subtag, ts_config


@pytest.mark.parametrize(
    ("tag", "primary"),
    [("en", "en"), ("fa-IR", "fa"), ("EN_us", "en"), ("zh-Hant-TW", "zh"), (" ar ", "ar"), ("", None), (None, None)],
)
def test_primary_subtag(tag, primary):
    assert primary_subtag(tag) == primary


@pytest.mark.parametrize(
    ("tag", "config"),
    [
        ("en", "english"),
        ("en-GB", "english"),
        ("fr-CA", "french"),
        ("de", "german"),
        ("es-419", "spanish"),
        ("ar-EG", "arabic"),
        ("nb", "norwegian"),
        ("fa", SIMPLE),
        ("fa-IR", SIMPLE),
        ("ja", SIMPLE),
        (None, SIMPLE),
        ("x-klingon", SIMPLE),
    ],
)
def test_config_for_language(tag, config):
    assert ts_config(tag) == config


def test_a_configuration_the_server_lacks_falls_back_to_simple():
    assert ts_config("en", available=frozenset({"simple", "english"})) == "english"
    assert ts_config("fr", available=frozenset({"simple", "english"})) == SIMPLE


def test_every_mapped_configuration_is_a_postgresql_snowball_one():
    # The list of `SELECT cfgname FROM pg_ts_config` on PostgreSQL 15 and 16.
    builtin = set(
        [
            "arabic",
            "armenian",
            "basque",
            "catalan",
            "danish",
            "dutch",
            "english",
            "finnish",
            "french",
            "german",
            "greek",
            "hindi",
            "hungarian",
            "indonesian",
            "irish",
            "italian",
            "lithuanian",
            "nepali",
            "norwegian",
            "portuguese",
            "romanian",
            "russian",
            "serbian",
            "simple",
            "spanish",
            "swedish",
            "tamil",
            "turkish",
            "yiddish",
        ]
    )
    assert set(CONFIGS.values()) <= builtin
