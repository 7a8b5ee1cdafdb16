"""A layered Directory: each usable file of its folder is a layer, in name order.

The merge is rebuilt from every layer (a conf.d folder has a handful of files), so the file's
``Layer`` (its data and raw bytes, to locate field errors) is what it gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._folder import Folder, name_order
from ._layer import Layer
from ._read import Content
from ._sources import Format


class LayeredFolder(Folder):
    """A ``Directory(path)`` without a key (``_source_state.SourceState``)."""

    def layers(self) -> Sequence[Layer]:
        """Each usable file's layer, in name order."""
        given = self._given
        return [given[name] for name in sorted(given, key=name_order)]

    def _value(self, name: str, content: Content, fmt: Format, data: dict[str, Any]) -> Layer:
        return Layer(self._prefix + name, data, content.raw, fmt)

    def _failed(self, name: str) -> None:
        self._given.pop(name, None)  # its stale layer is not kept (the error blocks it)
