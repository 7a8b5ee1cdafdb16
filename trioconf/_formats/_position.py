"""Key paths and text positions: the vocabulary parse errors and ``locate`` share.

A path is what the data says (``("server", "ports", 0)``); a position is where the text says it
(1-based line and column, as editors count). Every format module converts between the two.
"""

from __future__ import annotations

Path = tuple[str | int, ...]


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
