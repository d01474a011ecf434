"""PluginHost: loading like built-ins, error isolation per plugin, disabling, firstresult, async hooks, the docs example."""

from __future__ import annotations

import logging
import sys
import types

import httpx
import pluggy
import pytest
import strawberry
from starlette.applications import Starlette

from cms.app import create_app
from cms.core.settings import Settings
from cms.plugins.hookspecs import hookimpl
from cms.plugins.host import PluginHost, PluginInfo
from cms.plugins.testing import cms_plugin_host  # noqa: F401 - the fixture, also shipped through the pytest11 entry point
from cms.services import Services
from tests.support import example_plugin

EXAMPLE = ("hello", "tests.support.example_plugin")


def _plugin(name: str, **hooks) -> types.ModuleType:
    """A real plugin module built in the test, with the given functions marked as hook implementations."""
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        fn.__name__ = hook
        setattr(module, hook, hookimpl(fn))
    return module


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(entry_points=False).load()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(CMS_DATA_DIR=tmp_path)


def test_plugin_failing_at_import_is_reported_and_others_load(caplog) -> None:
    builtins = [("broken", "tests.support.broken_plugin"), ("missing", "tests.support.no_such_module"), EXAMPLE]
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        host = PluginHost(builtins=builtins, entry_points=False).load()
    assert set(host.failures) == {"broken", "missing"}
    assert "broken on purpose" in host.failures["broken"]
    assert "plugin broken failed to load" in caplog.text and "plugin missing failed to load" in caplog.text
    assert host.plugins == [
        PluginInfo("hello", "tests.support.example_plugin", ["cms_content_published", "cms_routes"], builtin=True)
    ]


def test_invalid_plugins_are_load_failures() -> None:
    bad_args = _plugin("bad_args", cms_routes=lambda settings, nope: [])
    typo = _plugin("typo", cms_rotues=lambda: [])
    sys.modules.update(bad_args=bad_args, typo=typo)
    try:
        host = PluginHost(builtins=[("bad_args", "bad_args"), ("typo", "typo"), EXAMPLE], entry_points=False).load()
    finally:
        del sys.modules["bad_args"], sys.modules["typo"]
    assert set(host.failures) == {"bad_args", "typo"}
    assert "nope" in host.failures["bad_args"] and "cms_rotues" in host.failures["typo"]
    assert [p.name for p in host.plugins] == ["hello"]
    with pytest.raises(pluggy.PluginValidationError):
        host.register(typo, "typo")  # explicit registration raises instead of skipping


def test_failing_hook_impl_does_not_hide_other_results(host: PluginHost, caplog) -> None:
    def explode():
        raise RuntimeError("boom")

    host.register(_plugin("good", cms_job_kinds=lambda: {"good.run": print}), "good")
    host.register(_plugin("bad", cms_job_kinds=explode), "bad")
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        assert host.call("cms_job_kinds") == [{"good.run": print}]
    assert "plugin bad failed in cms_job_kinds: RuntimeError: boom" in caplog.text


def test_bad_route_items_are_skipped_with_the_plugin_name(host: PluginHost, settings, caplog) -> None:
    host.register(example_plugin, "hello")
    host.register(_plugin("junk", cms_routes=lambda: ["not a route"]), "junk")
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        routes = host.routes(settings)
    assert [r.path for r in routes] == ["/hello"]
    assert "plugin junk failed in cms_routes" in caplog.text


def test_disabled_plugins_are_not_loaded() -> None:
    builtins = [EXAMPLE, ("broken", "tests.support.broken_plugin")]
    host = PluginHost(builtins=builtins, disabled={"hello", "broken"}, entry_points=False).load()
    assert host.plugins == [] and host.failures == {}  # a disabled plugin is not even imported
    with pytest.raises(ValueError, match="disabled"):
        host.register(example_plugin, "hello")


def test_entry_points_load_without_errors() -> None:
    host = PluginHost().load()  # whatever is installed, including the built-ins declared in pyproject
    assert host.failures == {}


def test_firstresult_returns_first_non_none_and_skips_failures(host: PluginHost, caplog) -> None:
    def explode(asset):
        raise RuntimeError("signing key missing")

    host.register(_plugin("fallback", cms_playback_urls=lambda asset: {"hls": f"/default/{asset}"}), "fallback")
    host.register(_plugin("abstain", cms_playback_urls=lambda: None), "abstain")
    host.register(_plugin("edge", cms_playback_urls=explode), "edge")  # registered last: asked first
    args = dict(asset="a1", renditions=[], principal=None, base_url="http://x", settings=None)
    with caplog.at_level(logging.ERROR, logger="cms.plugins"):
        assert host.call_first("cms_playback_urls", **args) == {"hls": "/default/a1"}
    assert "plugin edge failed in cms_playback_urls" in caplog.text
    assert host.pm.hook.cms_playback_urls.spec.opts["firstresult"] is True


async def test_async_hook_impls_are_awaited(host: PluginHost, settings) -> None:
    seen: list[object] = []

    async def started(settings):
        seen.append(settings)
        return "async"

    async def failing():
        raise RuntimeError("async boom")

    host.register(_plugin("a", cms_startup=started), "a")
    host.register(_plugin("s", cms_startup=lambda: "sync"), "s")
    host.register(_plugin("f", cms_startup=failing), "f")
    assert sorted(await host.acall("cms_startup", settings=settings)) == ["async", "sync"]
    assert seen == [settings]
    # A sync call refuses (and closes) awaitables instead of leaking un-awaited coroutines.
    assert host.call("cms_startup", settings=settings) == ["sync"]


def test_hook_arguments_are_checked(host: PluginHost) -> None:
    with pytest.raises(TypeError):
        host.call("cms_routes")
    with pytest.raises(AttributeError):
        host.call("cms_no_such_hook")


def test_graphql_types(host: PluginHost) -> None:
    @strawberry.type
    class HelloQuery:
        @strawberry.field
        def hello_plugin(self) -> str:
            return "hi"

    host.register(_plugin("gql", cms_graphql_query_types=lambda: [HelloQuery, int]), "gql")
    types_ = host.graphql_types()
    assert types_.query == [HelloQuery] and types_.mutation == []
    # Merging by inheritance, as build_schema does with the core query types.
    schema = strawberry.Schema(query=strawberry.type(type("Query", tuple(types_.query), {})))
    assert schema.execute_sync("{ helloPlugin }").data == {"helloPlugin": "hi"}


async def test_docs_example_plugin(cms_plugin_host: PluginHost, settings, caplog) -> None:  # noqa: F811
    # As in docs/plugins.md, "Testing a plugin".
    cms_plugin_host.register(example_plugin, "hello-under-test")
    app = Starlette(routes=cms_plugin_host.routes(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/hello", params={"name": "ada"})).json() == {"hello": "ada"}
        assert (await client.get("/hello")).json() == {"hello": "world"}

    with caplog.at_level(logging.INFO, logger="cms_hello"):
        await cms_plugin_host.acall("cms_content_published", kind="episode", id="42")
    assert "published episode 42" in caplog.text


# --- wired into the app ---------------------------------------------------------------------------------


@strawberry.type
class HelloQuery:
    @strawberry.field
    def hello_plugin(self) -> str:
        return "hi"


class Gql:
    @hookimpl
    def cms_graphql_query_types(self):
        return [HelloQuery]


async def test_create_app_serves_plugin_routes_and_graphql_fields(tmp_path):
    s = Settings(CMS_DATA_DIR=tmp_path)
    host = PluginHost(entry_points=False)
    host.register(example_plugin, "hello")
    host.register(Gql(), "gql")
    app = create_app(Services(s, plugins=host))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/hello")).json() == {"hello": "world"}
        r = await c.post("/graphql", json={"query": "{ helloPlugin }"})
        assert r.json()["data"] == {"helloPlugin": "hi"}, r.text
    assert app.state.services.plugins is host


def test_disabled_plugins_setting_parses_names(tmp_path, monkeypatch):
    monkeypatch.setenv("CMS_PLUGINS_DISABLED", "hello, rss")
    assert Settings(CMS_DATA_DIR=tmp_path).plugins_disabled == {"hello", "rss"}
    create_app(Services(Settings(CMS_DATA_DIR=tmp_path)))  # default host from entry points
