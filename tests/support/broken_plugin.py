"""A plugin module that fails at import, for tests/integration/test_plugin_host.py."""

raise RuntimeError("broken on purpose")
