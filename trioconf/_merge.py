"""Layers merged into one document, remembering which layer supplied each value.

The merge is always rebuilt from scratch out of every layer (lowest precedence first), so a key
removed from a file disappears on the next reload instead of surviving from an older merge.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._layer import Layer

Path = tuple[Any, ...]


@attrs.frozen
class Merged:
    """The merged document and, for every key path in it, the layer that supplied it.

    ``data`` is built fresh: its dicts and lists are never shared with a layer's data.
    ``origins`` has an entry for every key path present in ``data``, inner mappings included
    (for those: the highest-precedence layer that contributed to the mapping, which is not
    where each of its values came from: ``_origins`` asks its leaves). List items have no
    entry of their own: a list comes whole from one layer, look its path up instead.
    ``origins`` is computed on first use: only error reports and ``Live.origin()`` need it,
    and computing it on every reload cost as much as the merge itself.
    """

    data: dict[str, Any]
    layers: tuple[Layer, ...]

    @functools.cached_property
    def origins(self) -> Mapping[tuple[str, ...], Layer]:
        origins: dict[tuple[str, ...], Layer] = {}
        _record_origins(self.data, [(layer, layer.data) for layer in self.layers], (), origins)
        return origins

    def origin(self, path: Sequence[Any]) -> Layer | None:
        """The layer that supplied ``path`` or, failing that, its nearest present ancestor.

        A list item is answered by its list; a missing field by its enclosing mapping.
        """
        key = tuple(path)
        while key:
            layer = self.origins.get(key)
            if layer is not None:
                return layer
            key = key[:-1]
        return None


def merge(layers: Sequence[Layer]) -> Merged:
    """Merge ``layers``, lowest precedence first.

    Mappings merge recursively; anything else (lists, scalars, a mapping replacing a scalar or
    the reverse) is replaced whole by the later layer.
    """
    data: dict[str, Any] = {}
    for layer in layers:
        _merge_into(data, layer.data)
    return Merged(data=data, layers=tuple(layers))


def _merge_into(target: dict[Any, Any], source: Mapping[Any, Any]) -> None:
    for key, value in source.items():
        kind = type(value)
        if kind in _IMMUTABLE:  # most values, first: no call, no ABC check
            target[key] = value
        elif _is_mapping(kind, value) and type(current := target.get(key)) is dict:
            # ``target``'s dicts are all built here (``_copy`` makes every Mapping a plain
            # dict), so merging into one never changes a layer's data.
            _merge_into(current, value)
        else:
            target[key] = _copy(value)


# Parsers' scalar types, which need no copy; datetimes are immutable too, but rarer: they take
# the slower way through ``_copy``, which returns them as they are.
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    # Only containers need copying; scalars (including datetimes) are immutable. Cheaper than
    # copy.deepcopy, which matters because this runs on every reload: the type-set test comes
    # first, and inline in the loops, because an ABC isinstance check and a call per scalar
    # were most of the merge's time.
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if _is_mapping(kind, value):
        return {k: v if type(v) in _IMMUTABLE else _copy(v) for k, v in value.items()}
    if kind is list or isinstance(value, list | tuple):
        return [v if type(v) in _IMMUTABLE else _copy(v) for v in value]
    return value


def _is_mapping(kind: type, value: Any) -> bool:
    # A list is no Mapping: said first, because the ABC check costs a list ~0.2 µs.
    return kind is dict or (kind is not list and isinstance(value, Mapping))


def _record_origins(
    node: dict[Any, Any],
    candidates: list[tuple[Layer, Mapping[Any, Any]]],
    prefix: tuple[Any, ...],
    origins: dict[tuple[str, ...], Layer],
) -> None:
    # ``candidates`` are the layers holding a mapping at ``prefix``, in precedence order. A
    # path present in the result was supplied by the last layer holding it: any later layer
    # holding it would have overwritten it, and a later layer replacing an ancestor with a
    # non-mapping would have removed it from the result.
    for key, value in node.items():
        holders = [(layer, sub[key]) for layer, sub in candidates if key in sub]
        path = (*prefix, key)
        origins[path] = holders[-1][0]
        if isinstance(value, dict):
            inner = [(layer, sub) for layer, sub in holders if isinstance(sub, Mapping)]
            _record_origins(value, inner, path, origins)


def dotted(path: Sequence[Any]) -> str:
    """``("servers", 1, "port")`` as ``"servers[1].port"``; ``()`` as ``""``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def changed_paths(old: Any, new: Any) -> frozenset[str]:
    """Dotted paths where two unstructured documents differ; empty when they are equal.

    Mappings are compared key by key: a changed leaf is reported by its path, an added or
    removed key by the paths of every leaf under it. A list that differs at all is reported as
    its own path (``"hosts"``): item indices shift on insertion, so per-item paths would
    mostly be noise. Equality is typed: ``1`` → ``1.0`` or ``1`` → ``True`` is a change, and
    NaN equals NaN, so ``changed_paths(a, a)`` is always empty.
    """
    out: set[str] = set()
    _diff(old, new, (), out)
    return frozenset(out)


def _diff(old: Any, new: Any, prefix: Path, out: set[str]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in old.keys() | new.keys():
            path = (*prefix, key)
            if key not in new:
                _leaves(old[key], path, out)
            elif key not in old:
                _leaves(new[key], path, out)
            else:
                _diff(old[key], new[key], path, out)
    elif not same(old, new):
        _leaves(old, prefix, out)
        _leaves(new, prefix, out)


def _leaves(value: Any, prefix: Path, out: set[str]) -> None:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            _leaves(inner, (*prefix, key), out)
    else:
        out.add(dotted(prefix))


def same(a: Any, b: Any) -> bool:
    """Typed structural equality: ``1``, ``1.0`` and ``True`` differ; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)
