"""The plugin machinery: hook specifications, the host that loads and calls plugins, the pytest plugin."""
