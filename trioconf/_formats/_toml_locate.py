"""TOML: a best-effort scanner of tables, keys and inline values, for ``locate``.

tomli keeps no positions, so finding where a key path is written means reading the text again.
This scanner understands only as much TOML as that needs (table headers, arrays of tables,
dotted and quoted keys, inline arrays and tables) and gives up with ``_NotTomlError`` on
anything else: a position is a courtesy, and "not found" is an acceptable answer.
"""

from __future__ import annotations

import re

import tomli

from ._position import Path

_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_SPACE = re.compile(r"[ \t]*")
_TOML_BLANK = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")


class _NotTomlError(Exception):
    """The scanner met something it does not understand; locate answers None."""


def _toml_locate(text: str, target: Path) -> int | None:
    counts: dict[Path, int] = {}  # array of tables (concrete path) -> elements seen so far
    table: Path = ()
    pos = _TOML_BLANK.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        start = pos
        if text.startswith("[[", pos):
            keys, _, pos = _toml_key(text, pos + 2)
            concrete = _toml_concrete(keys, counts)
            index = counts.get(concrete, 0)
            counts[concrete] = index + 1
            table = (*concrete, index)
            pos = _toml_expect(text, pos, "]]")
            if table[: len(target)] == target:
                return start
        elif text[pos] == "[":
            keys, _, pos = _toml_key(text, pos + 1)
            table = _toml_concrete(keys, counts)
            pos = _toml_expect(text, pos, "]")
            if table[: len(target)] == target:
                return start
        else:
            found, pos = _toml_entry(text, pos, table, target)
            if found is not None:
                return found
        pos = _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
    return None


def _toml_entry(
    text: str, pos: int, prefix: Path, target: Path, inline: bool = False
) -> tuple[int | None, int]:
    """Scan one ``key = value``; return (offset of what matches target or None, end)."""
    keys, key_offset, pos = _toml_key(text, pos)
    pos = _toml_expect(text, pos, "=")
    pos = _TOML_SPACE.match(text, pos).end()  # type: ignore[union-attr]
    full = prefix + keys
    if full[: len(target)] == target:  # the key itself, or a dotted key below the target
        return key_offset, pos
    if target[: len(full)] == full:
        found = _toml_inside(text, pos, target[len(full) :])
        if found is not None:
            return found, pos
    return None, _toml_skip_value(text, pos, inline)


def _toml_inside(text: str, pos: int, rest: Path) -> int | None:
    """Find ``rest`` inside the inline array or table that starts at ``pos``."""
    if text.startswith("[", pos) and isinstance(rest[0], int):
        pos += 1
        for index in range(rest[0] + 1):
            pos = _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith("]", pos):
                return None
            if index == rest[0]:
                return pos if len(rest) == 1 else _toml_inside(text, pos, rest[1:])
            pos = _toml_skip_value(text, pos, inline=True)
            pos = _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
            pos = _toml_expect(text, pos, ",")
        return None
    if text.startswith("{", pos) and isinstance(rest[0], str):
        pos += 1
        while True:
            pos = _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith("}", pos):
                return None
            found, pos = _toml_entry(text, pos, (), rest, inline=True)
            if found is not None:
                return found
            pos = _TOML_BLANK.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith(",", pos):
                pos += 1
    return None


def _toml_concrete(keys: Path, counts: dict[Path, int]) -> Path:
    # `[a.b]` under `[[a]]` means b of the *last* element of a: put the index in the path.
    path: Path = ()
    for depth, key in enumerate(keys):
        path = (*path, key)
        if depth < len(keys) - 1 and path in counts:
            path = (*path, counts[path] - 1)
    return path


def _toml_expect(text: str, pos: int, token: str) -> int:
    pos = _TOML_SPACE.match(text, pos).end()  # type: ignore[union-attr]
    if not text.startswith(token, pos):
        raise _NotTomlError(pos)
    return pos + len(token)


def _toml_key(text: str, pos: int) -> tuple[Path, int, int]:
    """Read a dotted key: (parts, offset of its first part, end)."""
    parts: list[str | int] = []
    start = -1
    while True:
        pos = _TOML_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if start < 0:
            start = pos
        if text.startswith('"', pos) or text.startswith("'", pos):
            end = _toml_skip_string(text, pos)
            parts.append(_toml_key_string(text[pos:end]))
            pos = end
        else:
            bare = _TOML_BARE_KEY.match(text, pos)
            if bare is None:
                raise _NotTomlError(pos)
            parts.append(bare.group())
            pos = bare.end()
        pos = _TOML_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith(".", pos):
            return tuple(parts), start, pos
        pos += 1


def _toml_key_string(literal: str) -> str:
    if literal.startswith("'"):
        return literal[1:-1]
    # Let tomli itself decode the escapes of a basic string.
    return str(tomli.loads(f"k = {literal}")["k"])


def _toml_skip_string(text: str, pos: int) -> int:
    quote = text[pos]
    if text.startswith(quote * 3, pos):
        end = pos + 3
        while True:
            end = text.index(quote * 3, end)
            if quote == "'" or not _escaped(text, end):
                end += 3
                # A multi-line string may end with one or two quotes of its content.
                for _ in range(2):
                    if text.startswith(quote, end):
                        end += 1
                return end
            end += 1
    end = pos + 1
    while True:
        end = text.index(quote, end)
        if quote == "'" or not _escaped(text, end):
            return end + 1
        end += 1


def _escaped(text: str, pos: int) -> bool:
    backslashes = 0
    while pos - backslashes - 1 >= 0 and text[pos - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _toml_skip_value(text: str, pos: int, inline: bool = False) -> int:
    """Skip one value; inside arrays and inline tables a bare value also ends at , ] }."""
    if text.startswith(('"', "'"), pos):
        return _toml_skip_string(text, pos)
    if text.startswith(("[", "{"), pos):
        depth = 0
        while pos < len(text):
            char = text[pos]
            if char in "\"'":
                pos = _toml_skip_string(text, pos)
                continue
            if char == "#":
                pos = text.find("\n", pos)
                pos = len(text) if pos < 0 else pos
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos += 1
        return pos
    stop = re.compile(r"[\n#,\]}]" if inline else r"[\n#]")
    found = stop.search(text, pos)
    return len(text) if found is None else found.start()
