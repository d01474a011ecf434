"""The ingest sources plugins provide (cms_ingest_sources), checked once, and how the CMS talks to one.

A source is any object with `discover(config)` and `fetch(item, dest)` (see cms.plugins.hookspecs). Optional:
`config_fields` (its config described for editors' forms: `ConfigField`s), `label` and `description` (for editors),
`secret_fields` (more config keys that are write-only: stored apart and never shown), `validate_config(config)`
(returns the config to store or raises ConfigError/ValueError with a message for the editor) and a `state` parameter
on `discover` (a dict the source may change: kept between runs, for ETags and cursors)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from tortoise import fields

from cms.content.models import Episode
from cms.core.errors import Invalid
from cms.core.settings import Settings
from cms.plugins.hookspecs import ConfigError, ConfigField
from cms.plugins.host import PluginHost

SOURCE_MAX = cast("fields.CharField[str | None]", Episode._meta.fields_map["source"]).max_length
EXTERNAL_ID_MAX = cast("fields.CharField[str | None]", Episode._meta.fields_map["external_id"]).max_length


def installed_sources(host: PluginHost | None, settings: Settings) -> dict[str, Any]:
    """The plugins' ingest sources by kind; a kind another plugin registered earlier provides, or an object without
    discover/fetch, is reported and skipped."""
    if host is None:
        return {}
    return host.named_registrations(
        "cms_ingest_sources",
        noun="ingest source",
        values="sources",
        max_chars=SOURCE_MAX,
        settings=settings,
        problem=_problem,
    )


def _problem(source: Any) -> str | None:
    if not (callable(getattr(source, "discover", None)) and callable(getattr(source, "fetch", None))):
        return "has no discover() and fetch()"
    described = getattr(source, "config_fields", None) or ()  # None or empty: not described
    if isinstance(described, str | bytes | Mapping) or not isinstance(described, Sequence):
        return "has config_fields that are not a sequence of ConfigField"
    if not all(isinstance(field, ConfigField) for field in described):
        return "has config_fields that are not all ConfigField"
    names = [field.name for field in described]
    if len(set(names)) < len(names):
        return "describes a config field twice in config_fields"
    return None


def config_fields(source: Any) -> tuple[ConfigField, ...]:
    """The source's config described field by field (installed sources were checked: see `_problem`); () when the
    plugin does not describe it."""
    described = getattr(source, "config_fields", None) or ()
    return tuple(field for field in described if isinstance(field, ConfigField))


def label(kind: str, source: Any) -> str:
    text = getattr(source, "label", None)
    return text.strip() if isinstance(text, str) and text.strip() else kind


def description(source: Any) -> str:
    text = getattr(source, "description", None)
    return text.strip() if isinstance(text, str) else ""


def secret_fields(source: Any) -> frozenset[str]:
    """Write-only config keys: the fields described as secret, and any the source names in `secret_fields` (the
    attribute of sources without a description; both count, so a key is never shown by mistake)."""
    listed = getattr(source, "secret_fields", None) or ()
    names = {listed} if isinstance(listed, str) else {name for name in listed if isinstance(name, str)}
    return frozenset(names | {field.name for field in config_fields(source) if field.secret})


def validate_config(source: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as the source wants it stored; its ValueError becomes an Invalid on `config`."""
    check = getattr(source, "validate_config", None)
    if check is None:
        return dict(config)
    try:
        checked = check(dict(config))
    except ConfigError as exc:  # a field at fault: the path `config.<field>`, and the message without the name
        path = f"config.{exc.field}" if exc.field else "config"
        raise Invalid({path: exc.message or "is not valid for this source"}) from None
    except ValueError as exc:
        raise Invalid({"config": str(exc) or "is not valid for this source"}) from None
    if not isinstance(checked, Mapping):
        raise Invalid({"config": "is not valid for this source"})
    return dict(checked)


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a source's method, sync or async."""
    result = function(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def takes_state(source: Any) -> bool:
    try:
        return "state" in inspect.signature(source.discover).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
