"""trioconf's pytest plugin (opt in: ``pytest_plugins = ["trioconf.pytest_plugin"]`` in a
``conftest.py``): the ``config_files`` fixture, a :class:`trioconf.testing.ConfigFiles` in the
test's own temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .testing import ConfigFiles


@pytest.fixture
def config_files(tmp_path: Path) -> ConfigFiles:
    """Config files in ``tmp_path / "config"``, written as real tools write them."""
    return ConfigFiles(tmp_path / "config")
