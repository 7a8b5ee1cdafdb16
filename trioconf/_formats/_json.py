"""JSON: parsing that refuses duplicate keys, and a tokenizer that knows where every value is.

Stdlib ``json`` gives no positions for values that parsed fine, so ``_json_walk`` re-reads the
text and yields each value's path and offset. It serves both ``parse`` (where the first
duplicate key is) and ``locate`` (where a path is), which is why both live here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .._errors import ParseError
from ._position import Path, _position


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Stdlib json silently keeps the last of duplicate keys; a config with two "port" keys
    # is a mistake the user wants to hear about.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except _DuplicateKeyError as exc:
        # The hook does not know where it is; find the first duplicate in document order.
        line = column = None
        for _, offset, duplicate in _json_walk(text):
            if duplicate:
                line, column = _position(text, offset)
                break
        error = ParseError(source, f"duplicate key {exc.key!r}", line=line, column=column)
    except json.JSONDecodeError as exc:
        error = ParseError(source, exc.msg, line=exc.lineno, column=exc.colno)
    # Raised out here, without the decoder's error as its context: that one keeps the whole
    # document (``doc``), secrets included, for as long as the error is kept in the history.
    raise error


# ---- a tokenizer that tracks where every value is, for duplicates and for locate

_JSON_TOKEN = re.compile(r'\s*(?:("[^"\\]*(?:\\.[^"\\]*)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))', re.S)


class _JsonFrame:
    __slots__ = ("is_object", "keys", "member_path", "next_index", "path", "wants_key")

    def __init__(self, is_object: bool, path: Path) -> None:
        self.is_object = is_object
        self.path = path
        self.next_index = 0  # arrays: index of the next item
        self.keys: set[str] = set()  # objects: keys seen, to spot duplicates
        self.wants_key = is_object  # objects: the next string is a key
        self.member_path: Path = path  # objects: path of the value after the last key


def _json_walk(text: str) -> Iterator[tuple[Path, int, bool]]:
    """Yield (path, offset, is_duplicate) for every value of a JSON text, in document order.

    The offset of an object member is that of its key. Stops quietly at a token it cannot
    read: callers only ever look for something, and not finding it is an answer.
    """
    frames: list[_JsonFrame] = []
    pos = 0
    while (match := _JSON_TOKEN.match(text, pos)) is not None:
        pos = match.end()
        string, punct = match.group(1), match.group(2)
        offset = match.start(match.lastindex or 0)
        top = frames[-1] if frames else None
        if top is not None and top.wants_key and string is not None:
            key = json.loads(string)
            duplicate = key in top.keys
            top.keys.add(key)
            top.wants_key = False
            top.member_path = (*top.path, key)
            yield top.member_path, offset, duplicate
            continue
        if punct is not None and punct in ",:":
            if punct == "," and top is not None and top.is_object:
                top.wants_key = True
            continue
        if punct is not None and punct in "}]":
            if frames:
                frames.pop()
            continue
        if top is None:
            value_path: Path = ()
            yield value_path, offset, False
        elif top.is_object:
            value_path = top.member_path
        else:
            value_path = (*top.path, top.next_index)
            top.next_index += 1
            yield value_path, offset, False
        if punct is not None:  # "{" or "["
            frames.append(_JsonFrame(punct == "{", value_path))


def _json_locate(text: str, target: Path) -> tuple[int, int] | None:
    for path, offset, _ in _json_walk(text):
        if path == target:
            return _position(text, offset)
    return None
