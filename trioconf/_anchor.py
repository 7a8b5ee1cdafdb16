"""Relative ``Path`` values from a file are relative to that file's directory.

A ``data_dir = "data"`` in ``/etc/app/app.toml`` means ``/etc/app/data``, wherever the service
was started from. The values are rewritten where a layer is made, once per parse: the data
of a file's layer (a ``File``, each file of a ``Directory``) holds absolute strings at the
positions the config class types as ``Path``, so every way of building a config (a full
merge, ``_incremental``, ``_keyed``, the fast converter) sees the same values without knowing
about it. ``~`` and ``~user`` are expanded first, in files and in environment variables; an
environment variable's relative path stays relative (to the working directory, as Python uses
it), since a variable has no directory of its own.

Where the ``Path`` values are is worked out once per type (``plan``, see ``_typeplan``). A
class with no ``Path`` anywhere has no plan, and its layers are not walked at all. Only the
values at those positions change; the layer's raw bytes, which locate errors, stay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _typeplan
from ._typeplan import Change
from ._typeplan import Plan as Plan  # the callers' names for what they pass around
from ._typeplan import apply as apply

# Scalar types that never take a string: a union of them with Path leaves a string to Path.
_NOT_TEXT = (bool, int, float, type(None))


def _takes_text(tp: Any) -> bool:
    # str, Any, dates, enums...: in a union with Path, a string may be theirs; left as written.
    return tp not in _NOT_TEXT


def plan(tp: Any) -> Plan | None:
    """Where ``Path`` values lie in a ``tp``; None when nowhere (nothing to rewrite)."""
    return _typeplan.plan(tp, Path, _takes_text)


def from_file(directory: str) -> Change:
    """A file's ``Path`` value: ``~`` expanded, then relative to the file's ``directory``."""

    def anchor(value: Any, path: tuple[Any, ...]) -> Any:
        if type(value) is not str:
            return value  # not a Path's value: the converter says so
        expanded = os.path.expanduser(value)
        return expanded if os.path.isabs(expanded) else os.path.join(directory, expanded)

    return anchor


def from_env(value: Any, path: tuple[Any, ...]) -> Any:
    """An environment variable's ``Path`` value: ``~`` expanded; relative stays relative."""
    return os.path.expanduser(value) if type(value) is str else value
