"""Opt in to trioconf's pytest plugin: it provides the ``config_files`` fixture."""

pytest_plugins = ["trioconf.pytest_plugin"]
