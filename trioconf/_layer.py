"""A parsed source: the data one layer contributes, with what is needed to say where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._sources import Format


@attrs.frozen(eq=False)
class Layer:
    """One source's data, lowest precedence first in a list of layers.

    ``raw`` and ``format`` are kept so a field error can be traced to a line lazily: positions
    are only worth computing when something is wrong.
    """

    name: str
    data: Mapping[str, Any]
    raw: bytes | None = None
    format: Format | None = None

    def describe(self, path: Sequence[Any]) -> str:
        """Where the value at ``path`` came from, for origins and errors: the layer's name
        (an env layer names the variable, a user's source says it itself)."""
        return self.name

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """1-based (line, column) of the value at ``path`` in this layer's text, if known."""
        if self.raw is None or self.format is None:
            return None
        from ._formats import locate

        return locate(self.raw, self.format, path)
