"""Sphinx configuration for the trioconf documentation (reStructuredText and autodoc; the one
generated page, performance.md, is Markdown read by MyST so that it also renders on GitHub)."""

from __future__ import annotations

import importlib.metadata
import pathlib

project = "trioconf"
author = "the trioconf authors"
copyright = "the trioconf authors"
release = importlib.metadata.version("trioconf")
version = release

# napoleon reads the "Args:" sections of docstrings (it ships with Sphinx: no extra dependency).
# myst_parser reads docs/performance.md, which python -m bench generates. doctest runs the
# ``testcode`` examples (``nox -s docs`` builds with it too), so they cannot drift from the code.
extensions = ["sphinx.ext.autodoc", "sphinx.ext.doctest", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# Documented in the order the source defines things: the class docstrings read top-down.
autodoc_member_order = "bysource"
# Type hints go into the parameter list, where they stay short.
autodoc_typehints = "description"
autodoc_typehints_format = "short"

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"trioconf {release}"

# Examples the docs show from examples/ are loaded from there by the doctests, wherever the
# build runs from.
_EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
doctest_global_setup = f"EXAMPLES = {str(_EXAMPLES)!r}"
