"""Explicit overrides: ``overrides={"db.port": 5433}`` or ``--set db.port=5433``, the top layer.

A key is a dotted path into the config, written as a TOML dotted key: bare segments of
letters, digits, ``_`` and ``-``, and any other segment quoted, ``"..."`` with TOML's escapes
or ``'...'`` taken literally, so a tenant named ``acme.eu`` is ``tenants."acme.eu".port``.
Every key is checked against the config class before anything starts: a malformed key, or
one that names no field, is a ``ValueError`` (a usage mistake, like a misspelt keyword: it
names the same nothing on every reload, and no file can fix it). A value is judged where a
file's is, when the config is built: a bad one is a ``ValidationError`` naming
``override db.port``, and the reloader keeps its last good snapshot.

Values given in code are taken as a file's values (``5433``, ``{"port": 5433}``, a list);
values from the command line are text (``Text``), converted for their field as environment
variables are (``_env``). Each entry is a layer of its own, named ``override KEY``: that is
every value's origin. Entries apply shallow before deep, so ``{"db": {...}, "db.port": 1}``
sets the port to 1; a deeper key inside a value that is not a mapping is refused.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli

from ._env import _bare, _convert, _navigable, _Unconvertible, unconvertible
from ._errors import ConfigError, ValidationError
from ._kinds import _expected, _is_class, _is_mapping
from ._layer import Layer
from ._marks import field_types as _field_types
from ._merge import dotted
from ._source_state import Key

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\x00-\x1f\x7f]|\\.)*"')
_LITERAL = re.compile(r"'[^'\x00-\x08\x0a-\x1f\x7f]*'")
_BLANK = re.compile(r"[ \t]*")


@attrs.frozen
class Text:
    """A value given as text (``--set db.port=5433``): converted for its field as an
    environment variable's value is."""

    text: str


class _Malformed(ValueError):
    pass


def split_key(text: str, *, at_equals: bool = False) -> tuple[tuple[str, ...], int]:
    """The segments of the dotted key ``text`` starts with, and where it ends: at the end of
    ``text``, or with ``at_equals`` at the first ``=`` after the key (outside its quotes).
    Raises ``ValueError`` saying what is wrong."""
    parts: list[str] = []
    pos = 0
    while True:
        pos = _skip(text, pos)
        if pos == len(text) or (at_equals and text[pos] == "="):
            what = "an empty key" if not parts else "a key that ends with '.'"
            raise _Malformed(what)
        for pattern in (_BARE, _BASIC, _LITERAL):
            match = pattern.match(text, pos)
            if match is not None:
                break
        else:
            char = text[pos]
            reasons = {'"': "an unclosed quote", "'": "an unclosed quote", ".": "an empty segment"}
            reason = reasons.get(char, f"{char!r} outside quotes")
            msg = f'{reason} at character {pos + 1} (quote a segment such as "acme.eu")'
            raise _Malformed(msg)
        parts.append(_segment(match.group()))
        pos = _skip(text, match.end())
        if pos == len(text) or (at_equals and text[pos] == "="):
            return tuple(parts), pos
        if text[pos] != ".":
            msg = f"{text[pos]!r} after a segment at character {pos + 1}, where '.' belongs"
            raise _Malformed(msg)
        pos += 1


def _skip(text: str, pos: int) -> int:
    match = _BLANK.match(text, pos)
    assert match is not None  # matches the empty string
    return match.end()


def _segment(token: str) -> str:
    if token[0] == '"':
        try:  # TOML's escapes, read by TOML's parser: the token holds no raw quote or newline
            value: str = tomli.loads(f"k = {token}")["k"]
        except tomli.TOMLDecodeError as exc:
            raise _Malformed(f"a quoted segment with a bad escape: {exc}") from None
        return value
    if token[0] == "'":
        return token[1:-1]
    return token


def key_text(parts: Sequence[str]) -> str:
    """``parts`` as a dotted key, quoted where a segment is not bare: the name origins show."""
    return ".".join(p if _BARE.fullmatch(p) else json.dumps(p, ensure_ascii=False) for p in parts)


@attrs.frozen
class Entry:
    """One override: where (``parts``), what, and the type of the field it sets."""

    parts: tuple[str, ...]
    value: object
    target: Any

    @property
    def name(self) -> str:
        return f"override {key_text(self.parts)}"


@attrs.frozen
class Overrides:
    """The ``overrides=`` of ``open_reloader``, ``run_reloader`` or ``load``, checked: a
    source of its own, last (above the environment)."""

    entries: tuple[Entry, ...]

    @property
    def name(self) -> str:
        return "overrides"

    @classmethod
    def of(cls, config: type, given: object) -> Overrides | None:
        """``given`` checked against the config class; ``TypeError``/``ValueError`` for a
        usage mistake (see the module doc). None when there is nothing to override."""
        if given is None:
            return None
        if not isinstance(given, Mapping):
            msg = f"overrides must be a mapping such as {{'db.port': 5433}}, not {given!r}"
            raise TypeError(msg)
        entries: dict[tuple[str, ...], Entry] = {}
        for key, value in given.items():
            if not isinstance(key, str):
                msg = f"an override's key is a dotted path such as 'db.port', not {key!r}"
                raise TypeError(msg)
            try:
                parts, _ = split_key(key)
            except _Malformed as exc:
                msg = f"override {key!r} is not a dotted key: {exc}"
                raise ValueError(msg) from None
            if parts in entries:
                msg = f"overrides {key_text(parts)!r} twice (keys written differently)"
                raise ValueError(msg)
            entries[parts] = Entry(parts, value, _target(config, parts, key))
        ordered = sorted(entries.values(), key=lambda e: len(e.parts))  # stable: given order
        _check_nesting(ordered)
        return cls(tuple(ordered)) if ordered else None


def _target(cls: type, parts: tuple[str, ...], key: str) -> Any:
    """The type of the field ``parts`` names; ``ValueError`` if it names none."""
    tp: Any = cls
    for depth, part in enumerate(parts):
        tp = _navigable(_bare(tp), part)
        if tp is Any:
            return Any  # anything goes below
        if _is_class(tp):
            fields = _field_types(tp)
            if part not in fields:
                where = f"{dotted(parts[:depth])} ({tp.__name__})" if depth else tp.__name__
                msg = f"override {key!r}: {where} has no field {part!r}"
                close = difflib.get_close_matches(part, list(fields), n=1)
                if close:
                    msg += f" (did you mean {key_text((*parts[:depth], close[0]))!r}?)"
                raise ValueError(msg)
            tp = fields[part]
        elif _is_mapping(tp):
            args = typing.get_args(tp)
            tp = args[1] if len(args) == 2 else Any
        else:
            what = _expected(tp)
            msg = f"override {key!r}: {dotted(parts[:depth])} is {what}, it has no field {part!r}"
            if what == "a list":
                msg += "; override the whole list"
            raise ValueError(msg)
    return tp


def _check_nesting(entries: Sequence[Entry]) -> None:
    values = {e.parts: e.value for e in entries}
    for entry in entries:
        for cut in range(1, len(entry.parts)):
            outer = entry.parts[:cut]
            if outer in values and not isinstance(values[outer], Mapping):
                msg = (
                    f"override {key_text(entry.parts)!r} sets a key inside "
                    f"{key_text(outer)!r}, which another override sets to a non-mapping"
                )
                raise ValueError(msg)


class OverridesState:
    """The ``Overrides`` source (``_source_state.SourceState``): a layer per entry, made
    once; text values converted for their fields, or the error saying which do not."""

    def __init__(self, source: Overrides, cls: type) -> None:
        self.source = source
        layers: list[Layer] = []
        errors = []
        for entry in source.entries:
            value = entry.value
            if isinstance(value, Text):
                try:
                    value = _convert(value.text, entry.target)
                except _Unconvertible as exc:
                    raw = value.text
                    errors.append(unconvertible(cls, entry.parts, exc, raw, source=entry.name))
                    continue
            data: Any = value
            for part in reversed(entry.parts):
                data = {part: data}
            layers.append(Layer(entry.name, data))
        self._layers = tuple(layers)
        self._error: ConfigError | None = ValidationError(errors) if errors else None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def error(self) -> ConfigError | None:
        return self._error

    def layers(self) -> Sequence[Layer]:
        return self._layers

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        return False  # fixed for the reloader's lifetime

    def refresh_sync(self) -> None:
        pass

    @property
    def waiting(self) -> frozenset[Path]:
        return frozenset()

    def grace_over(self) -> None:
        pass
