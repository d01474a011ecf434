"""Pytest plugin for plugin authors (entry point `pytest11: cms = "cms.plugins.testing"`).

Fixture `cms_plugin_host`: a real `PluginHost` loaded the way the app loads it (built-ins and every installed
`cms.plugins` entry point), to which a test adds plugins with `cms_plugin_host.register(obj, "name")`.
Call hooks with `call` / `acall` / `call_first`, or mount what it provides::

    def test_hello(cms_plugin_host):
        cms_plugin_host.register(my_plugin, "my-plugin")
        app = Starlette(routes=cms_plugin_host.routes(settings))

To test against the whole app, build it with `cms.app.create_app(cms.services.Services(settings))` (installed plugins are loaded from
their entry points) and talk to it with `httpx.AsyncClient(transport=httpx.ASGITransport(app=app))`;
docs/plugins.md has a complete example.
"""

from __future__ import annotations

import pytest

from cms.plugins.host import PluginHost


@pytest.fixture
def cms_plugin_host() -> PluginHost:
    """A PluginHost with the installed plugins loaded; register in-test plugins with `.register(obj, name)`."""
    return PluginHost().load()
