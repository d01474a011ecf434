"""Ingest sources describe their config (`config_fields`) for editors' forms, and the description agrees with what
each built-in source's `validate_config` accepts: names, required fields, ranges, choices, defaults and secrets.
A refused field lands on its own path (`config.<field>`). No I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cms.api.errors import ValidationError, as_error
from cms.core.errors import Invalid
from cms.core.settings import Settings
from cms.ingest import registry
from cms.plugins.hookspecs import ConfigError, ConfigField, ConfigFieldType, hookimpl
from cms.plugins.host import PluginHost
from plugins.rss.plugin import RssSource
from plugins.telegram.plugin import TelegramSource
from plugins.youtube.plugin import YouTubeSource

CHANNEL = "UCuAXFkgsw1L7xaCfnd5JJOw"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "webhook-secret-0123456789"

# Per kind: the least config it takes (the required fields), a config giving every described field a good value,
# and good values for the fields the full config cannot hold at once (youtube's channel, playlist or address).
KINDS: dict[str, dict[str, Any]] = {
    "rss": {
        "minimal": {"url": "https://feeds.example/podcast.xml"},
        "full": {"url": "https://feeds.example/podcast.xml", "maxItems": 10},
        "alternatives": {},
        "secrets": set(),
    },
    "youtube": {
        "minimal": {"channelId": CHANNEL},
        "full": {"channelId": CHANNEL, "maxItems": 10, "maxDurationMinutes": 60, "apiKey": "A" * 39},
        "alternatives": {
            "url": f"https://www.youtube.com/channel/{CHANNEL}",
            "playlistId": "PLBCF2DAC6FFB574DE",
        },
        "secrets": {"apiKey"},
    },
    "telegram": {
        "minimal": {"chatId": "@cms_test_channel", "botToken": TOKEN},
        "full": {
            "chatId": "@cms_test_channel",
            "botToken": TOKEN,
            "mode": "webhook",
            "webhookSecret": SECRET,
            "botApiUrl": "http://bot-api.internal:8081",
            "backfill": True,
            "apiId": 12345,
            "apiHash": "0123456789abcdef0123456789abcdef",
            "session": "1BVtsOK4Bu...",
        },
        "alternatives": {},
        "secrets": {"botToken", "webhookSecret", "apiHash", "session"},
    },
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    settings = Settings(CMS_DATA_DIR=tmp_path)
    source = {"rss": RssSource, "youtube": YouTubeSource, "telegram": TelegramSource}[request.param](settings)
    return source, KINDS[request.param]


def fields_of(source: Any) -> dict[str, ConfigField]:
    return {field.name: field for field in registry.config_fields(source)}


def refused_field(source: Any, config: dict[str, Any]) -> str | None:
    with pytest.raises(ConfigError) as refused:
        source.validate_config(config)
    return refused.value.field


def test_every_field_the_source_takes_is_described_and_nothing_else(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    source.validate_config(case["minimal"])
    source.validate_config(case["full"])
    assert set(fields_of(source)) == set(case["full"]) | set(case["alternatives"])
    assert refused_field(source, {**case["full"], "notAField": 1}) is None  # unknown fields: the config as a whole
    assert all(field.label and field.help for field in fields_of(source).values())


def test_required_fields_are_the_ones_the_source_cannot_do_without(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    required = {name for name, field in fields_of(source).items() if field.required}
    assert required == {name for name in case["minimal"] if name not in ("channelId",)}  # youtube: one of three
    for name in required:
        assert refused_field(source, {key: value for key, value in case["minimal"].items() if key != name}) == name


def test_integer_ranges_match_what_the_source_accepts(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    integers = [field for field in fields_of(source).values() if field.type is ConfigFieldType.INTEGER]
    assert integers and all(field.min is not None and field.max is not None for field in integers)
    for field in integers:
        assert field.min is not None and field.max is not None
        for good in (field.min, field.max):
            assert source.validate_config({**case["full"], field.name: good})[field.name] == good
        for bad in (field.min - 1, field.max + 1, True, "12"):
            assert refused_field(source, {**case["full"], field.name: bad}) == field.name


def test_choices_booleans_and_defaults_are_values_the_source_takes(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    for field in fields_of(source).values():
        if field.type is ConfigFieldType.CHOICE:
            for choice in field.choices:
                assert source.validate_config({**case["full"], field.name: choice})[field.name] == choice
            assert refused_field(source, {**case["full"], field.name: "neither"}) == field.name
        if field.type is ConfigFieldType.BOOLEAN:
            source.validate_config({**case["full"], field.name: True})
            source.validate_config({**case["minimal"], field.name: False})
            assert refused_field(source, {**case["full"], field.name: "yes"}) == field.name
        if field.default is not None:
            # Giving the default is the same as leaving the field out.
            given = source.validate_config({**case["minimal"], field.name: field.default})
            left_out = source.validate_config(case["minimal"])
            assert given.get(field.name, field.default) == left_out.get(field.name, field.default)


def test_addresses_and_texts_that_do_not_fit_are_refused_on_their_field(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    for field in fields_of(source).values():
        if field.type not in (ConfigFieldType.URL, ConfigFieldType.STRING) or field.name in case["alternatives"]:
            continue
        assert refused_field(source, {**case["minimal"], field.name: "ftp://x"}) == field.name
    for name, good in case["alternatives"].items():  # youtube: the address or the playlist instead of the channel
        base = {key: value for key, value in case["minimal"].items() if key != "channelId"}
        source.validate_config({**base, name: good})
        assert refused_field(source, {**base, name: "ftp://x"}) == name


def test_secret_fields_come_from_the_description(kind: tuple[Any, dict[str, Any]]) -> None:
    source, case = kind
    described = {name for name, field in fields_of(source).items() if field.secret}
    assert described == case["secrets"] == set(registry.secret_fields(source))
    assert all(field.type is ConfigFieldType.SECRET for name, field in fields_of(source).items() if field.secret)
    assert all(field.default is None for name, field in fields_of(source).items() if field.secret)


def test_youtube_caps_the_duration_at_the_sources_own_cap(tmp_path: Path) -> None:
    source = YouTubeSource(Settings(CMS_DATA_DIR=tmp_path), max_duration_seconds=90 * 60)
    assert fields_of(source)["maxDurationMinutes"].max == 90
    assert refused_field(source, {"channelId": CHANNEL, "maxDurationMinutes": 91}) == "maxDurationMinutes"


# -- the description's own rules ----------------------------------------------------------------------------------


def test_a_field_is_normalised_and_checked_when_described() -> None:
    field = ConfigField("apiKey", "API key", "secret", choices=[])  # type: ignore[arg-type]
    assert (field.type, field.secret, field.choices) == (ConfigFieldType.SECRET, True, ())
    mode = ConfigField("mode", "Mode", ConfigFieldType.CHOICE, choices=["a", "b"], default="a")
    assert mode.choices == ("a", "b")
    assert ConfigField("token", "Token", ConfigFieldType.STRING, secret=True).secret


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"name": "", "label": "x", "type": ConfigFieldType.STRING}, "a name is"),
        ({"name": "a.b", "label": "x", "type": ConfigFieldType.STRING}, "a name is"),
        ({"name": "a", "label": " ", "type": ConfigFieldType.STRING}, "needs a label"),
        ({"name": "a", "label": "x", "type": "text"}, "is not a valid ConfigFieldType"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.CHOICE}, "choices are given for a CHOICE field"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.STRING, "choices": ("b",)}, "and only for one"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.CHOICE, "choices": ("b", "b")}, "distinct"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.STRING, "min": 1}, "for an INTEGER field only"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.INTEGER, "min": 2, "max": 1}, "min is above max"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.INTEGER, "max": 2**40}, "32 bits"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.INTEGER, "max": 5, "default": 6}, "the default 6"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.BOOLEAN, "default": "no"}, "the default 'no'"),
        ({"name": "a", "label": "x", "type": ConfigFieldType.SECRET, "default": "hunter2"}, "the default"),
    ],
)
def test_a_wrong_description_fails_where_it_is_written(arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace(".", r"\.").replace("(", r"\(")):
        ConfigField(**arguments)


# -- the registry: secrets without a description, refused descriptions, errors on a field ---------------------------


class Undescribed:
    """A third-party source from before descriptions: its write-only keys in `secret_fields`."""

    kind = "legacy"
    secret_fields = ("password",)

    async def discover(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    async def fetch(self, item: dict[str, Any], dest: Path) -> None:
        return None

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if "url" not in config:
            raise ValueError("url: required")
        return config


class Described(Undescribed):
    kind = "described"
    secret_fields = ("extra",)
    config_fields = (
        ConfigField("url", "Address", ConfigFieldType.URL, required=True),
        ConfigField("password", "Password", ConfigFieldType.SECRET),
    )

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if "url" not in config:
            raise ConfigError("required", field="url")
        if config.get("password") == config.get("url"):
            raise ConfigError("the password is not the address")
        return config


class Misdescribed(Undescribed):
    kind = "misdescribed"
    config_fields = ({"name": "url"},)


class Twice(Undescribed):
    kind = "twice"
    config_fields = (ConfigField("url", "A", ConfigFieldType.URL), ConfigField("url", "B", ConfigFieldType.URL))


class SourcesPlugin:
    @hookimpl
    def cms_ingest_sources(self) -> dict[str, object]:
        return {source.kind: source() for source in (Undescribed, Described, Misdescribed, Twice)}


def test_sources_without_a_description_keep_their_secret_fields_and_bad_descriptions_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = PluginHost(entry_points=False)
    host.register(SourcesPlugin(), "sources-under-test")
    installed = registry.installed_sources(host, Settings(CMS_DATA_DIR=tmp_path))
    assert sorted(installed) == ["described", "legacy"]
    assert "misdescribed" in caplog.text and "twice" in caplog.text
    assert (registry.config_fields(installed["legacy"]), registry.secret_fields(installed["legacy"])) == (
        (),
        frozenset({"password"}),
    )
    # Described secrets, and any the source still lists apart: a key is never shown by mistake.
    assert registry.secret_fields(installed["described"]) == {"password", "extra"}
    assert (registry.label("legacy", installed["legacy"]), registry.description(installed["legacy"])) == ("legacy", "")


def test_a_refused_field_lands_on_its_own_path() -> None:
    with pytest.raises(Invalid) as refused:
        registry.validate_config(Described(), {})
    assert refused.value.problems == {"config.url": "required"}
    error = as_error(refused.value)
    assert isinstance(error, ValidationError)
    assert [(f.path, f.message) for f in error.fields] == [(["input", "config", "url"], "required")]

    with pytest.raises(Invalid) as whole:  # no field at fault: the config as a whole
        registry.validate_config(Described(), {"url": "x", "password": "x"})
    assert whole.value.problems == {"config": "the password is not the address"}

    with pytest.raises(Invalid) as plain:  # a plain ValueError, as before: its message on the config
        registry.validate_config(Undescribed(), {})
    assert plain.value.problems == {"config": "url: required"}
    assert str(ConfigError("required", field="url")) == "url: required"  # logs and job errors keep the field name
