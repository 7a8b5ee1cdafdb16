"""Parsing JSON, TOML and YAML documents into plain data, with positions and safety limits.

``parse`` turns the bytes of one file into a plain ``dict`` or raises ``ParseError`` with a
1-based line and column; nothing else escapes it. ``locate`` finds where a key path is written,
for error messages about values that parsed fine but are wrong.

Everything here is synchronous, top level and takes only picklable arguments: the updater calls
``parse`` inline for small files and in a trio-parallel worker process for large ones
(``INLINE_LIMITS``).
"""

from __future__ import annotations

import codecs
import datetime
import json
import math
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, NoReturn

import tomli
from ruamel.yaml import YAML
from ruamel.yaml import main as _yaml_main
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ._errors import ParseError
from ._sources import Format

__all__ = [
    "INLINE_LIMITS",
    "MAX_DEPTH",
    "YAML_MAX_ALIASES",
    "YAML_MAX_NODES",
    "locate",
    "parse",
    "yaml_c_loader_available",
]

Path = tuple[str | int, ...]

YAML_MAX_ALIASES = 100
YAML_MAX_NODES = 1_000_000
# Nesting deeper than this is refused in every format. No real config comes close, and the
# stages after parsing (merge, structure, diff) recurse once or more per level: a document
# that parsed at depth 900 would blow Python's recursion limit inside the updater instead.
MAX_DEPTH = 128


# ruamel.yaml picks its parser by this very name: what it holds is what YAML(typ="safe") runs.
_CParser: Any = getattr(_yaml_main, "CParser", None)
_CSafeLoader: Any = None
if _CParser is not None:
    from ruamel.yaml.cyaml import CSafeLoader as _CSafeLoader


def yaml_c_loader_available() -> bool:
    """True when ``ruamel.yaml.clib`` is importable, so YAML parses about 4x faster."""
    return _CSafeLoader is not None


_KIB = 1024
INLINE_LIMITS: dict[Format, int] = {
    "json": 64 * _KIB,
    "toml": 64 * _KIB,
    "yaml": (16 if yaml_c_loader_available() else 4) * _KIB,
}


# --------------------------------------------------------------------------------------------
# parse


def parse(raw: bytes, fmt: Format, source: str, allow_nan: bool = False) -> dict[str, Any]:
    """Parse a document into plain Python data.

    Values are dict/list/str/int/float/bool/None, plus the datetime/date/time values TOML and
    YAML produce. Raises ``ParseError`` (and nothing else) on bad encoding, bad syntax, an
    empty document, a top level that is not a mapping, duplicate or non-string keys, NaN or
    infinity (unless ``allow_nan``), nesting deeper than ``MAX_DEPTH`` and YAML alias bombs.
    """
    try:
        text = _decode(raw, source)
        if not text.strip():
            raise ParseError(source, "empty document")
        parser = _PARSERS.get(fmt)
        if parser is None:
            raise ParseError(source, f"unknown format {fmt!r}")
        data = parser(text, source)
        if not _is_clean(data, allow_nan):
            _check_tree(data, text, fmt, source, allow_nan)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(source, "nested too deeply") from None
    except Exception as exc:
        # The contract is that only ParseError leaves: the updater must never be taken down
        # by a parser's surprise (ValueError from int() on a 5000-digit number, ...).
        raise ParseError(source, f"cannot parse as {fmt}: {type(exc).__name__}: {exc}") from exc
    return data  # type: ignore[no-any-return]  # _check_tree proved it is a dict[str, ...]


def _decode(raw: bytes, source: str) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
        line_start = raw.rfind(b"\n", 0, bad) + 1
        line = raw.count(b"\n", 0, bad) + 1
        # Everything before the first bad byte is valid, so the column counts characters.
        column = len(raw[line_start:bad].decode("utf-8")) + 1
        reason = f"not valid UTF-8 (byte 0x{raw[bad]:02x})"
        raise ParseError(source, reason, line=line, column=column) from None


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


# ---- JSON


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
        raise ParseError(source, f"duplicate key {exc.key!r}", line=line, column=column) from None
    except json.JSONDecodeError as exc:
        raise ParseError(source, exc.msg, line=exc.lineno, column=exc.colno) from None


# ---- TOML

_TOML_AT = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")


def _parse_toml(text: str, source: str) -> Any:
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_AT.search(message)
        reason = getattr(exc, "msg", None) or (message[: found.start()] if found else message)
        line: int | None = getattr(exc, "lineno", None)
        column: int | None = getattr(exc, "colno", None)
        if line is None and found and found.group(1):  # tomli < 2.1
            line, column = int(found.group(1)), int(found.group(2))
        raise ParseError(source, reason, line=line, column=column) from None


# ---- YAML


def _yaml_load(text: str, pure: bool, compose: bool = False) -> Any:
    """Construct (or only compose, for ``locate``) the single document of ``text``."""
    if pure or _CSafeLoader is None:
        yaml = YAML(typ="safe", pure=True)
        # Both are the defaults of 0.19; set them so a future default cannot change behaviour.
        yaml.allow_duplicate_keys = False
        yaml.version = None  # YAML 1.2 unless the document has a %YAML directive
        return yaml.compose(text) if compose else yaml.load(text)
    # The C loader class directly: YAML(typ="safe").load() builds a new loader class on every
    # call, which made it 25-30% slower on a typical config. Same parser, same constructor.
    loader = _CSafeLoader(text)
    loader.allow_duplicate_keys = False
    try:
        return loader.get_single_node() if compose else loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_events(text: str) -> Generator[Any, None, None]:
    if _CSafeLoader is None:
        events = YAML(typ="safe", pure=True).parse(text)
        try:
            yield from events
        finally:
            events.close()
        return
    # The bare C parser: YAML().parse() costs twice as much in per-call setup.
    parser = _CParser(text)
    try:
        while (event := parser.get_event()) is not None:
            yield event
    finally:
        parser.dispose()


def _parse_yaml(text: str, source: str) -> Any:
    try:
        version = _yaml_prescan(text, source)
        # The C parser ignores a %YAML 1.1 directive for implicit types (`yes` stays a
        # string); the pure one honours it. Send such documents where they are understood.
        pure = version == (1, 1)
        return _yaml_load(text, pure)
    except ReaderError as exc:
        line, column = _position(text, exc.position)
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ParseError(source, reason, line=line, column=column) from exc
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = str(exc.context or "")
        if context and exc.context_mark is not None and exc.context_mark is not mark:
            # "while parsing a flow sequence (line 2): did not find expected ',' or ']'"
            context += f" (line {exc.context_mark.line + 1})"
        reason = ": ".join(part for part in (context, str(exc.problem or "")) if part)
        if mark is None:
            raise ParseError(source, reason or "invalid YAML") from exc
        raise ParseError(source, reason, line=mark.line + 1, column=mark.column + 1) from exc
    except YAMLError as exc:
        raise ParseError(source, str(exc) or "invalid YAML") from exc


def _yaml_fail(source: str, reason: str, event: Any) -> NoReturn:
    mark = event.start_mark
    raise ParseError(source, reason, line=mark.line + 1, column=mark.column + 1)


def _yaml_prescan(text: str, source: str) -> tuple[int, int] | None:
    """Walk the event stream before anything builds objects; return the %YAML version.

    Aliases share objects, so a 432-byte alias bomb *loads* in milliseconds and explodes
    only in whatever walks the result afterwards. Counting here uses the expanded size: each
    alias adds the full size of the node it repeats. The event stream is also the only safe
    place to measure depth: the C composer recurses in C and segfaults near 100,000 levels.
    """
    documents = aliases = expanded = 0
    version: tuple[int, int] | None = None
    anchor_sizes: dict[str, int] = {}
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # [expanded size so far, anchor] per open collection
    events = _yaml_events(text)  # a generator: close() disposes of the parser at once
    try:
        for event in events:
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    _yaml_fail(source, "more than one document in the file", event)
                version = event.version
                continue
            if isinstance(event, CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    _yaml_fail(source, f"nested too deeply (more than {MAX_DEPTH} levels)", event)
                stack.append([1, event.anchor])
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                size = 1
            elif isinstance(event, CollectionEndEvent):
                size, anchor = stack.pop()
                if anchor is not None:
                    anchor_sizes[anchor] = size
                    open_anchors.discard(anchor)
                if stack:
                    stack[-1][0] += size
                continue
            elif isinstance(event, AliasEvent):
                aliases += 1
                if aliases > YAML_MAX_ALIASES:
                    _yaml_fail(source, f"more than {YAML_MAX_ALIASES} aliases", event)
                if event.anchor in open_anchors:
                    _yaml_fail(source, f"recursive alias *{event.anchor}", event)
                size = anchor_sizes.get(event.anchor, 1)
                if stack:
                    stack[-1][0] += size
            elif isinstance(event, ScalarEvent):
                if event.anchor is not None:
                    anchor_sizes[event.anchor] = 1
                size = 1
                if stack:
                    stack[-1][0] += 1
            else:
                continue
            expanded += size
            if expanded > YAML_MAX_NODES:
                reason = f"more than {YAML_MAX_NODES} nodes once aliases are expanded"
                _yaml_fail(source, reason, event)
    finally:
        events.close()
    if documents == 0:
        raise ParseError(source, "empty document")
    return version


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "json": _parse_json,
    "toml": _parse_toml,
    "yaml": _parse_yaml,
}


# ---- checks on the parsed tree

_SCALARS = (str, int, float, bool, type(None), datetime.date, datetime.time)


def _dotted(path: Path) -> str:
    out = ""
    for item in path:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else item)
    return out or "(top level)"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return type(value).__name__


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def _is_clean(data: Any, allow_nan: bool) -> bool:
    """The fast check of the common case: no paths built, no reasons, just yes or no.

    It costs about as much as json.loads itself on a typical config, where the walk that names
    the bad path (``_check_tree``) costs twice that; that one runs only when this says no.
    """
    if type(data) is not dict:
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if type(container) is dict:
            if not all(type(key) is str for key in container):
                return False
            items = container.values()
        else:
            items = container
        for item in items:
            kind = type(item)
            if kind in _PLAIN_SCALARS:
                continue
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is float:
                if not (allow_nan or math.isfinite(item)):
                    return False
            elif not isinstance(item, _SCALARS) or isinstance(item, float):
                return False
    return True


def _check_tree(data: Any, text: str, fmt: Format, source: str, allow_nan: bool) -> None:
    """Enforce what the formats allow but a config must not hold, without recursion."""

    def fail(reason: str, path: Path, odd_key: bool = False) -> NoReturn:
        where = _yaml_odd_key(text, path) if odd_key and fmt == "yaml" else None
        where = where or _locate_text(text, fmt, path)
        line, column = where if where else (None, None)
        raise ParseError(source, reason, line=line, column=column)

    if type(data) is not dict:
        fail(f"the top level must be a mapping, not {_type_name(data)}", ())
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        # Depth counts containers, as the YAML prescan does: len(path) are around this one.
        if type(value) in (dict, list) and len(path) >= MAX_DEPTH:
            fail(f"nested too deeply (more than {MAX_DEPTH} levels)", path)
        if type(value) is dict:
            for key, item in value.items():
                if not isinstance(key, str):
                    reason = f"mapping key {key!r} in {_dotted(path)} is not a string"
                    fail(reason, path, odd_key=True)
                stack.append((item, (*path, key)))
        elif type(value) is list:
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
        elif isinstance(value, float):
            if not allow_nan and not math.isfinite(value):
                kind = "NaN" if math.isnan(value) else "infinity"
                fail(f"{kind} at {_dotted(path)} (not allowed unless allow_nan=True)", path)
        elif not isinstance(value, _SCALARS):
            fail(f"unsupported value of type {type(value).__name__} at {_dotted(path)}", path)


# --------------------------------------------------------------------------------------------
# locate


def locate(raw: bytes, fmt: Format, path: Sequence[str | int]) -> tuple[int, int] | None:
    """1-based (line, column) where the value at ``path`` is written, or None.

    Mapping entries are located at their key, sequence items at the item. Only called when an
    error must be reported, so it may be slower than ``parse``; it never raises.
    """
    try:
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        return _locate_text(raw.decode("utf-8"), fmt, path)
    except Exception:
        return None


def _locate_text(text: str, fmt: Format, path: Sequence[str | int]) -> tuple[int, int] | None:
    try:
        target = tuple(path)
        if fmt == "json":
            return _json_locate(text, target)
        if fmt == "toml":
            offset = _toml_locate(text, target)
            return None if offset is None else _position(text, offset)
        if fmt == "yaml":
            return _yaml_locate(text, target)
    except Exception:  # RecursionError included: a position is a courtesy, never a failure
        return None
    return None


# ---- JSON: a tokenizer that tracks where every value is

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


# ---- YAML: walk the composed node tree


def _yaml_locate(text: str, target: Path) -> tuple[int, int] | None:
    found = _yaml_node(text, target)
    if found is None:
        return None
    mark = found[1]
    return mark.line + 1, mark.column + 1


def _yaml_odd_key(text: str, parent: Path) -> tuple[int, int] | None:
    """Where the first key that does not construct to a string (``1:``, ``null:``) is."""
    try:
        found = _yaml_node(text, parent)
        if found is None or not isinstance(found[0], MappingNode):
            return None
        for key, _ in found[0].value:
            if not isinstance(key, ScalarNode) or str(key.tag) not in _STRING_KEY_TAGS:
                return key.start_mark.line + 1, key.start_mark.column + 1
    except Exception:
        return None
    return None


def _yaml_node(text: str, target: Path) -> tuple[Node, Any] | None:
    # The prescan refuses what would crash the C composer (deep nesting) or make the walk
    # explode (alias bombs); a document that fails it has nothing to point into.
    _yaml_prescan(text, "")
    node: Node | None = _yaml_load(text, pure=False, compose=True)
    if node is None:
        return None
    mark = node.start_mark
    for item in target:
        found = _yaml_child(node, item)
        if found is None:
            return None
        node, mark = found
    return node, mark


def _yaml_child(node: Node, item: str | int) -> tuple[Node, Any] | None:
    """The child node at ``item`` and the mark to report (a mapping entry's key)."""
    if isinstance(node, SequenceNode) and isinstance(item, int):
        if 0 <= item < len(node.value):
            child = node.value[item]
            return child, child.start_mark
        return None
    if not isinstance(node, MappingNode) or not isinstance(item, str):
        return None
    merged: list[Node] = []
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value == item and str(key.tag) != _MERGE_TAG:
            return value, key.start_mark
        if isinstance(key, ScalarNode) and str(key.tag) == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
    # `<<: *defaults` supplies keys the mapping does not write itself.
    for source in merged:
        found = _yaml_child(source, item)
        if found is not None:
            return found
    return None


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STRING_KEY_TAGS = {"tag:yaml.org,2002:str", _MERGE_TAG}


# ---- TOML: a best-effort scanner of tables, keys and inline values

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
