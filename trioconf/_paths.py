"""Dotted paths into a snapshot: its leaves, and the value at one path.

A snapshot is an attrs or dataclass instance whose fields may be further instances or
mappings. ``Live`` needs to walk it in two ways: to list the leaves that version 1 "changed",
and to find the value under a path for ``Live.origin``. Both walk the same named parts
(``_children``), which must agree with the paths the updater's diff of the unstructured
documents reports; keeping them together keeps that agreement in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import attrs

# Types that are leaves for sure: answered without the class checks below, which dominate the
# walk of a large snapshot (ten thousand Directory entries at start-up).
_LEAVES = frozenset({str, int, float, bool, type(None), list, tuple})
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of an attrs class or dataclass (cached per class); None otherwise."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    if attrs.has(cls):
        names = tuple(a.name for a in attrs.fields(cls))
    elif dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))
    if len(_FIELD_NAMES) < 4096:  # classes made on the fly must not grow it forever
        _FIELD_NAMES[cls] = names
    return names


def _children(value: object) -> dict[str, object] | None:
    """The named parts of a value: the fields of an attrs or dataclass instance, the items of
    a mapping (keys as strings); None for anything else (a leaf)."""
    cls = type(value)
    if cls in _LEAVES or isinstance(value, type):
        return None
    names = _field_names(cls)
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    return None


def leaf_paths(value: object) -> list[str]:
    """Dotted paths of the leaves below ``value``; [] for a leaf itself.

    Nested attrs/dataclass instances and non-empty mappings are walked; anything else (scalars,
    lists, None, an empty mapping) is a leaf. This matches the paths the updater's diff of the
    unstructured documents reports, so version 1's ``changed`` reads like every later one's.
    """
    children = _children(value)
    if children is None:
        return []
    paths: list[str] = []
    for name, child in children.items():
        if type(child) in _LEAVES:
            paths.append(name)
            continue
        below = leaf_paths(child)
        if below:
            paths.extend(f"{name}.{leaf}" for leaf in below)
        else:
            paths.append(name)
    return paths


def lookup(config: object, path: str) -> object:
    """The value at a dotted path of the snapshot (through fields and mapping keys)."""
    value = config
    for part in path.split("."):
        children = _children(value)
        if children is None or part not in children:
            raise KeyError(path)
        value = children[part]
    return value
