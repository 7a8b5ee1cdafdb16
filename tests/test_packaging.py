"""The version is written in one place, trioconf/_version.py, and everything that shows one
agrees with it: the package, the installed metadata, ``trioconf --version`` and the docs.
(The distributions themselves are built, checked and installed by ``nox -s build``.)"""

from __future__ import annotations

import importlib.metadata
import runpy
import sys
from pathlib import Path

import pytest
from packaging.version import Version

import trioconf
from trioconf._cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_a_normalized_pep_440_version() -> None:
    assert isinstance(trioconf.__version__, str)
    assert str(Version(trioconf.__version__)) == trioconf.__version__


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "a second place the version is written"
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "trioconf._version.__version__"}


def test_the_installed_metadata_has_the_package_version() -> None:
    # Fails on an editable install made before the version changed: reinstall it.
    assert importlib.metadata.version("trioconf") == trioconf.__version__


def test_the_command_line_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"trioconf {trioconf.__version__}\n"


def test_the_docs_show_the_package_version() -> None:
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    assert conf["release"] == trioconf.__version__
    assert conf["version"] == trioconf.__version__
