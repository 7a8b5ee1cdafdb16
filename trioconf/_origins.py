"""Where each value of a snapshot came from: what ``Live.origin`` and ``Live.explain`` read.

A build hands the live value an ``Origins`` with its snapshot. It answers one question,
``find(parts)``: which source supplied the value at a path that is one unit (a leaf, a list or
an item of one, a keyed Directory's entry), as an ``Origin``: the source's name and, for a
file, the layer whose text can say the line. Everything is lazy, because a reload nobody asks
"where from?" must not pay for it: the table of which layer supplied each key path is built on
the first question, and a line is looked for only when a caller wants it (``Origin.exact``),
by reading that file's text again.

A section (a path above the leaves) has no origin of its own: ``Live.origin`` names the
sources of its leaves. The merge's record for an inner table (``Merged.origins``, the last
layer that holds it) answers only for values a hook built from it whole.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ._layer import Layer
from ._merge import Merged, dotted
from ._paths import Parts, _children, resolve

Locate = Callable[[Layer, Parts], "tuple[int, int] | None"]


def locate_once(layer: Layer, parts: Parts) -> tuple[int, int] | None:
    """One path's position: the layer reads its text again for it."""
    return layer.locate(parts)


@attrs.frozen
class Origin:
    """The source of one value: its ``name`` as origins show it (a file's path, ``env
    APP_DB__PORT``, what a user's ``Source`` says, ``default``), and the ``layer`` and path in
    it where the value is written, to find its line (``None``: no text to look in)."""

    name: str
    layer: Layer | None = None
    at: Parts = ()

    def exact(self, locate: Locate = locate_once) -> str:
        """The name, with ``:line`` where the layer's text says where the value is."""
        if self.layer is None:
            return self.name
        position = locate(self.layer, self.at)
        return self.name if position is None else f"{self.name}:{position[0]}"


DEFAULT = Origin("default")


class Origins(Mapping[str, str]):
    """A snapshot's origins, answered on request.

    Also a mapping of the recorded dotted paths to their sources' names (no lines), for code
    that reads them so (``_hold``); ``Live`` asks ``find``."""

    __slots__ = ()

    @abc.abstractmethod
    def find(self, parts: Parts) -> Origin:
        """The origin of the value at ``parts``, a path present in the snapshot."""

    def whole(self, parts: Parts) -> bool:
        """Whether the value at ``parts`` came whole from one source, although it has fields:
        a section's origin is then this one, not its leaves' (a keyed Directory's field)."""
        return False


class LayerOrigins(Origins):
    """The origins of a merge of layers (``Merged``): the layer that supplied each path.

    Given a function instead of a ``Merged``, even the merge waits for the first question (a
    layered Directory built at the cost of the change has no merge of every layer to hand).
    Once the table is built the merged document is let go; the layers stay, for their names
    and their text (the sources hold the same objects for as long as they are current).
    """

    __slots__ = ("_merged", "_names", "_records")

    def __init__(self, merged: Merged | Callable[[], Merged]) -> None:
        self._merged: Merged | Callable[[], Merged] | None = merged
        self._records: dict[tuple[str, ...], Layer] | None = None
        self._names: dict[str, str] | None = None

    def records(self) -> dict[tuple[str, ...], Layer]:
        """Key path (keys as strings) → the layer that supplied it; built on first use."""
        if self._records is None:
            assert self._merged is not None
            merged = self._merged if isinstance(self._merged, Merged) else self._merged()
            self._records = {tuple(map(str, path)): layer for path, layer in merged.origins.items()}
            self._merged = None
        return self._records

    def find(self, parts: Parts) -> Origin:
        records = self.records()
        # The deepest recorded path at or above ``parts``. The merge records every key path of
        # the merged document but none inside a list (a list comes whole from one layer).
        for cut in range(len(parts), 0, -1):
            head = parts[:cut]
            if any(type(part) is int for part in head):
                continue
            layer = records.get(head)  # type: ignore[arg-type]
            if layer is None:
                continue
            if cut == len(parts):
                return Origin(layer.describe(parts), layer, parts)
            return _below(layer, parts)
        return DEFAULT  # no layer holds it: the class's default

    def _table(self) -> dict[str, str]:
        if self._names is None:
            records = self.records()
            self._names = {dotted(path): layer.describe(path) for path, layer in records.items()}
        return self._names

    def __getitem__(self, path: str) -> str:
        return self._table()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


def _below(layer: Layer, parts: Parts) -> Origin:
    """The origin of ``parts`` inside a value ``layer`` supplied (a list's item, its field):
    the layer if its data holds the path, the default where an item leaves a field out, and
    the layer again where a hook built a structure from a plain value (``"host:80"``)."""
    node: Any = layer.data
    for depth, part in enumerate(parts):
        if isinstance(node, Mapping):
            found = _key(node, part)
            if found is _MISSING:
                return DEFAULT
            node = found
        elif isinstance(node, list | tuple):
            if not (isinstance(part, int) and part < len(node)):
                return DEFAULT
            node = node[part]
        else:  # a plain value the snapshot holds as a structure
            head = parts[:depth]
            return Origin(layer.describe(head), layer, head)
    return Origin(layer.describe(parts), layer, parts)


_MISSING = object()


def _key(node: Mapping[Any, Any], part: str | int) -> Any:
    if part in node:
        return node[part]
    # Keys as the parser gave them: YAML's ``1:`` is an int, the snapshot's path says "1".
    return next((v for k, v in node.items() if str(k) == str(part)), _MISSING)


class GivenOrigins(Origins):
    """Origins given as a mapping of dotted paths to names (tests, ``trioconf.testing``):
    a path not in it is a default."""

    __slots__ = ("_given",)

    def __init__(self, given: Mapping[str, str]) -> None:
        self._given = given

    def find(self, parts: Parts) -> Origin:
        name = self._given.get(dotted(parts))
        if name is None and any(type(part) is int for part in parts):
            # Inside a list: the list's own entry (a list comes whole from one source).
            cut = next(i for i, part in enumerate(parts) if type(part) is int)
            name = self._given.get(dotted(parts[:cut]))
        return DEFAULT if name is None else Origin(name)

    def __getitem__(self, path: str) -> str:
        return self._given[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)


def as_origins(origins: Mapping[str, str]) -> Origins:
    """``origins`` as ``Live`` asks them: a mapping that is no ``Origins`` is a given table."""
    return origins if isinstance(origins, Origins) else GivenOrigins(origins)


def origin_of(config: object, origins: Mapping[str, str], path: str) -> str:
    """``Live.origin``: the exact origin of a unit (with its line where a file says it), the
    distinct names of its units' sources for a section. ``KeyError`` for a path not in
    ``config``."""
    parts, value = resolve(config, path)
    table = as_origins(origins)
    if _is_unit(parts, value) or table.whole(parts):
        return table.find(parts).exact()
    found: list[Parts] = []
    _section(table, value, parts, found)
    return ", ".join(dict.fromkeys(table.find(unit).name for unit in found))


def _is_unit(parts: Parts, value: object) -> bool:
    # A leaf, or anything inside a list: a list comes whole from one source.
    return not _children(value) or any(type(part) is int for part in parts)


def _section(table: Origins, value: object, prefix: Parts, out: list[Parts]) -> None:
    for name, child in (_children(value) or {}).items():
        parts = (*prefix, name)
        if _children(child) and not table.whole(parts):
            _section(table, child, parts, out)
        else:
            out.append(parts)
