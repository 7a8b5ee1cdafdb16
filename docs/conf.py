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
# graphviz draws the pipeline on the design page (Graphviz's ``dot`` must be installed; .ci/run
# installs it). intersphinx is not used: the build must not need the network.
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.graphviz",
    "sphinx.ext.napoleon",
    "myst_parser",
]
# SVG stays sharp at any zoom and follows the page's text; furo's dark mode gets a light card.
graphviz_output_format = "svg"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

# Documented in the order the source defines things: the class docstrings read top-down.
autodoc_member_order = "bysource"
# Type hints go into the parameter list, where they stay short.
autodoc_typehints = "description"
autodoc_typehints_format = "short"

exclude_patterns = ["_build"]
# furo, as attrs and cattrs publish with (pinned in noxfile.py's SPHINX).
html_theme = "furo"
html_title = f"trioconf {release}"
html_static_path = ["_static"]
html_css_files = ["diagrams.css"]

# Examples the docs show from examples/ are loaded from there by the doctests, wherever the
# build runs from.
_EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
doctest_global_setup = f"EXAMPLES = {str(_EXAMPLES)!r}"
