"""``positions``: ``locate`` for many paths of one text, reading the text once.

``locate`` reads the whole text again for each path: fine for an error or one ``origin()``
question, quadratic for ``Live.explain``, which asks for every value of a file (a 64 KiB TOML
file holds thousands, each read costing some 20 ms). So this reads the text once: JSON is
walked once into a table of every path, YAML composed once and walked per path, TOML scanned
once into a table by the same rules as ``_toml_locate``. Every answer equals ``locate``'s
(``tests/test_origins.py`` compares them); a text the one-pass reading does not understand is
answered by ``locate`` path by path, as before.
"""

from __future__ import annotations

import bisect
import codecs
from collections.abc import Callable
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from .._sources import Format
from ._json import _json_walk
from ._locate import locate
from ._position import Path
from ._toml_locate import (
    _TOML_BLANK,
    _TOML_SPACE,
    _NotTomlError,
    _toml_concrete,
    _toml_expect,
    _toml_key,
    _toml_skip_value,
)
from ._yaml import _yaml_answer
from ._yaml_locate import _MERGE_TAG, _yaml_child

Positions = Callable[[Path], "tuple[int, int] | None"]


def positions(raw: bytes, fmt: Format) -> Positions:
    """A function giving, for a path, what ``locate(raw, fmt, path)`` gives. Never raises."""
    try:
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        text = raw.decode("utf-8")
        if fmt == "json":
            return _from_offsets(text, _json_offsets(text))
        if fmt == "toml":
            return _from_offsets(text, _toml_offsets(text))
        if fmt == "yaml":
            return _yaml_positions(text)
    except Exception:  # RecursionError included: fall back to one path at a time
        pass
    return lambda path: locate(raw, fmt, path)


def _from_offsets(text: str, offsets: dict[Path, int]) -> Positions:
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def position(path: Path) -> tuple[int, int] | None:
        offset = offsets.get(tuple(path))
        if offset is None:
            return None
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    return position


def _json_offsets(text: str) -> dict[Path, int]:
    offsets: dict[Path, int] = {}
    for path, offset, _ in _json_walk(text):
        offsets.setdefault(path, offset)  # ``_json_locate`` answers the first in the text
    return offsets


def _yaml_positions(text: str) -> Positions:
    root = _yaml_answer(text, "", compose=True)
    # Each mapping's own keys, indexed on first use: ``_yaml_child`` reads a mapping's keys in
    # order, which for every value of a mapping of thousands is quadratic again.
    keys: dict[int, tuple[Node, dict[str, tuple[Node, Any]]]] = {}

    def child(node: Node, item: str | int) -> tuple[Node, Any] | None:
        if isinstance(node, MappingNode) and isinstance(item, str):
            known = keys.get(id(node))
            if known is None:
                own: dict[str, tuple[Node, Any]] = {}
                for key, value in node.value:
                    if isinstance(key, ScalarNode) and str(key.tag) != _MERGE_TAG:
                        own.setdefault(key.value, (value, key.start_mark))
                known = keys[id(node)] = (node, own)
            found = known[1].get(item)
            if found is not None:
                return found
        return _yaml_child(node, item)  # a sequence's item, or a key a ``<<`` merge supplies

    def position(path: Path) -> tuple[int, int] | None:
        if root is None:
            return None
        node, mark = root, root.start_mark
        try:
            for item in path:
                found = child(node, item)
                if found is None:
                    return None
                node, mark = found
        except Exception:
            return None
        return mark.line + 1, mark.column + 1

    return position


# ---- TOML: ``_toml_locate`` answers the first place, in the text, where a table header or a
# key starts with the path (or, inside an inline array or table, where the item is); scanning
# once and keeping the first offset for every prefix of every header and key gives the same.


def _toml_offsets(text: str) -> dict[Path, int]:
    offsets: dict[Path, int] = {}
    counts: dict[Path, int] = {}
    table: Path = ()
    pos = _blank(text, 0)
    while pos < len(text):
        start = pos
        if text.startswith("[[", pos):
            keys, _, pos = _toml_key(text, pos + 2)
            concrete = _toml_concrete(keys, counts)
            index = counts.get(concrete, 0)
            counts[concrete] = index + 1
            table = (*concrete, index)
            pos = _toml_expect(text, pos, "]]")
            _record(offsets, table, start)
        elif text[pos] == "[":
            keys, _, pos = _toml_key(text, pos + 1)
            table = _toml_concrete(keys, counts)
            pos = _toml_expect(text, pos, "]")
            _record(offsets, table, start)
        else:
            pos = _entry(text, pos, table, offsets)
        pos = _blank(text, pos)
    return offsets


def _record(offsets: dict[Path, int], path: Path, offset: int) -> None:
    for cut in range(1, len(path) + 1):
        offsets.setdefault(path[:cut], offset)


def _entry(
    text: str, pos: int, prefix: Path, offsets: dict[Path, int], inline: bool = False
) -> int:
    """One ``key = value``: record it, and what an inline value holds; return its end."""
    keys, key_offset, pos = _toml_key(text, pos)
    pos = _toml_expect(text, pos, "=")
    pos = _TOML_SPACE.match(text, pos).end()  # type: ignore[union-attr]
    full = prefix + keys
    _record(offsets, full, key_offset)
    return _value(text, pos, full, offsets, inline)


def _value(text: str, pos: int, path: Path, offsets: dict[Path, int], inline: bool = True) -> int:
    """Skip the value at ``pos``, recording the items of an inline array or table."""
    if text.startswith("[", pos):
        pos += 1
        index = 0
        while True:
            pos = _blank(text, pos)
            if text.startswith("]", pos):
                return pos + 1
            offsets.setdefault((*path, index), pos)
            pos = _value(text, pos, (*path, index), offsets)
            index += 1
            pos = _blank(text, pos)
            if text.startswith(",", pos):
                pos += 1
            elif not text.startswith("]", pos):
                raise _NotTomlError(pos)
    if text.startswith("{", pos):
        pos += 1
        while True:
            pos = _blank(text, pos)
            if text.startswith("}", pos):
                return pos + 1
            pos = _entry(text, pos, path, offsets, inline=True)
            pos = _blank(text, pos)
            if text.startswith(",", pos):
                pos += 1
            elif not text.startswith("}", pos):
                raise _NotTomlError(pos)
    return _toml_skip_value(text, pos, inline)


def _blank(text: str, pos: int) -> int:
    return _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
