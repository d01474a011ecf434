"""The ingest sources plugins provide (cms_ingest_sources), checked once, and how the CMS talks to one.

A source is any object with `discover(config)` and `fetch(item, dest)` (see cms.plugins.hookspecs). Optional:
`secret_fields` (config keys that are write-only: stored apart and never shown), `validate_config(config)` (returns
the config to store or raises ValueError with a message for the editor) and a `state` parameter on `discover`
(a dict the source may change: kept between runs, for ETags and cursors)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

from tortoise import fields

from cms.content.models import Episode
from cms.core.errors import Invalid
from cms.core.settings import Settings
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
        problem=lambda source: (
            None
            if callable(getattr(source, "discover", None)) and callable(getattr(source, "fetch", None))
            else "has no discover() and fetch()"
        ),
    )


def secret_fields(source: Any) -> frozenset[str]:
    names = getattr(source, "secret_fields", ())
    return frozenset(name for name in names if isinstance(name, str))


def validate_config(source: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as the source wants it stored; its ValueError becomes an Invalid on `config`."""
    check = getattr(source, "validate_config", None)
    if check is None:
        return dict(config)
    try:
        checked = check(dict(config))
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
