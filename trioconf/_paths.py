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
from typing import Any

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


Parts = tuple[str | int, ...]


def resolve(config: object, path: str) -> tuple[Parts, object]:
    """The parts of a dotted path and the value there, for ``Live.origin``: field names and
    mapping keys as strings, list and tuple indexes as ints (``servers.0.host`` and
    ``servers[0].host`` alike). ``KeyError`` when the path is not in ``config``.

    A mapping key may hold dots (a keyed Directory's ``acme.eu.toml`` gives ``acme.eu``): at
    a mapping, the longest run of the remaining parts that is one of its keys is taken.
    """
    steps = path.replace("[", ".").replace("]", "").split(".") if path else []
    if not steps or "" in steps:
        raise KeyError(path)
    parts: list[str | int] = []
    value = config
    i = 0
    while i < len(steps):
        if isinstance(value, list | tuple):
            step = steps[i]
            if not (step.isdigit() and int(step) < len(value)):
                raise KeyError(path)
            value = value[int(step)]
            parts.append(int(step))
            i += 1
            continue
        # A mapping is asked directly (a keyed Directory's holds ten thousand entries); its
        # keys as strings only when that fails (a ``dict[int, X]``).
        found = _longest(value, steps, i) if isinstance(value, Mapping) else None
        if found is None:
            children = _children(value)
            found = None if children is None else _longest(children, steps, i)
        if found is None:
            raise KeyError(path)
        parts.append(found[0])
        value = found[1]
        i += found[0].count(".") + 1
    return tuple(parts), value


def _longest(
    children: Mapping[Any, object], steps: list[str], start: int
) -> tuple[str, object] | None:
    """The longest run of ``steps`` from ``start`` that names a key, and its value."""
    for cut in range(len(steps), start, -1):
        name = ".".join(steps[start:cut])
        if name in children:
            return name, children[name]
    return None


def values_below(value: object, prefix: Parts) -> list[tuple[Parts, object]]:
    """The values below ``value`` (at ``prefix``) that ``Live.explain`` shows one line each:
    its leaves, with a list whose items have fields (or keys) expanded into those items'
    leaves (``servers.0.host``), and a list of plain values kept whole (``hosts``)."""
    out: list[tuple[Parts, object]] = []
    _values_below(value, prefix, out)
    return out


def _values_below(value: object, prefix: Parts, out: list[tuple[Parts, object]]) -> None:
    children = _children(value)
    if children:
        for name, child in children.items():
            _values_below(child, (*prefix, name), out)
    elif isinstance(value, list | tuple) and any(_children(item) for item in value):
        for index, item in enumerate(value):
            _values_below(item, (*prefix, index), out)
    else:
        out.append((prefix, value))
