"""How etcd keys become a layer: a prefix's keys as fields, or one key holding a document.

``Prefix``: ``/app/db/port`` under the prefix ``/app/`` is the field ``db.port``. Values are
text, converted for the field they land on exactly as environment variables are (``_env``:
``5432`` is a number for an ``int`` field and stays text for a ``str`` one, ``true``/``yes`` a
boolean, a list or a mapping is JSON), so the strict structuring sees the types a file would
give. Field names match exactly, or else ignoring case; a mapping field's keys are taken as
written (etcd keys are case-sensitive). A key naming no field is given as text: the strict
structuring reports it as an unknown field, naming the key (or ignores it under
``forbid_unknown=False``), as it does a file's unknown key. Shallower keys apply first, so
``/app/db`` = ``{"port": 1}`` plus ``/app/db/port`` = ``2`` gives port 2.

``Document``: the key's value is a JSON, TOML or YAML document, parsed like a file's, its
errors naming the key and the line.

Both remember, for the layer they built last, which key and revision each value came from
(``origin``). Conversions and parses are kept per key and revision: a watch event re-converts
only the keys it changed.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from typing import Any

from .._anchor import apply, from_env, plan
from .._env import _bare, _convert, _navigable, _Unconvertible, unconvertible
from .._errors import ConfigError, FieldError, MissingSourceError, ValidationError
from .._formats import NotInline, locate, parse
from .._kinds import _expected, _is_class, _is_mapping
from .._marks import field_types as _field_types
from .._merge import dotted
from .._sources import Format
from ._wire import KeyValue

Path = tuple[str, ...]


def describe(entry: KeyValue) -> str:
    """``etcd key /app/db/port (revision 17)``: how errors and origins name a key."""
    return f"etcd key {_text(entry.key)} (revision {entry.mod_revision})"


def _text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class Prefix:
    """The keys under ``prefix`` as the fields of the config class."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._origins: dict[Path, KeyValue] = {}
        # key -> (the entry converted, for which class, giving path and value or error)
        self._converted: dict[bytes, tuple[KeyValue, type, Path, Any, FieldError | None]] = {}

    def build(self, cls: type, keys: Mapping[bytes, KeyValue]) -> dict[str, Any]:
        """The layer's data; ``ValidationError`` listing every key that does not convert."""
        errors: list[FieldError] = []
        placed: list[tuple[Path, Any, KeyValue]] = []
        converted = {}
        for key, entry in keys.items():
            cached = self._converted.get(key)
            if cached is None or cached[0] != entry or cached[1] is not cls:
                cached = (entry, cls, *self._convert(cls, entry))
            converted[key] = cached
            _, _, path, value, error = cached
            if error is not None:
                errors.append(error)
            else:
                placed.append((path, value, entry))
        self._converted = converted  # deleted keys leave the cache with their key
        data: dict[str, Any] = {}
        origins: dict[Path, KeyValue] = {}
        # Shallow before deep: a key inside a JSON mapping given by a shallower key sets a
        # field of it. Then by path, so the outcome does not depend on etcd's key order.
        for path, value, entry in sorted(placed, key=lambda p: (len(p[0]), p[0])):
            error = _place(data, origins, path, value, entry)
            if error is not None:
                errors.append(error)
        if errors:
            raise ValidationError(errors)
        paths = plan(cls)
        if paths is not None:
            data = apply(data, paths, from_env)  # ``~`` in a Path value, as for the environment
        self._origins = origins
        return data

    def _convert(self, cls: type, entry: KeyValue) -> tuple[Path, Any, FieldError | None]:
        key = _text(entry.key)
        where = describe(entry)
        segments = tuple(key[len(self.prefix) :].split("/"))
        if any(not s for s in segments):
            reason = f"key {key} has an empty name segment (// or a trailing /): no field"
            return segments, None, FieldError(key, reason, source=where)
        try:
            text = (entry.value or b"").decode("utf-8")
        except UnicodeDecodeError:
            return segments, None, FieldError(dotted(segments), "not UTF-8 text", source=where)
        path, tp, known = _resolve(cls, segments)
        if not known:
            return path, text, None  # the structuring says it is unknown, naming the key
        if tp is None:
            reason = f"key {key} reaches into {dotted(path[:-1])}, which has no fields"
            return path, None, FieldError(dotted(path), reason, source=where)
        try:
            return path, _convert(text, tp), None
        except _Unconvertible as exc:
            return path, None, unconvertible(cls, path, exc, text, source=where)

    def origin(self, path: Path) -> KeyValue | None:
        """The key that gave the value at ``path`` (or the value containing it)."""
        for depth in range(len(path), 0, -1):
            entry = self._origins.get(path[:depth])
            if entry is not None:
                return entry
        return None


def _resolve(cls: type, segments: Path) -> tuple[Path, Any, bool]:
    """The field path ``segments`` name, its type, and whether it names a field at all.

    A name that matches no field gives ``known`` False and the segments as written from there
    on; a name below a value that has no fields gives the type None."""
    tp: Any = cls
    path: list[str] = []
    for i, segment in enumerate(segments):
        tp = _navigable(_bare(tp), segment.lower())
        if _is_class(tp):
            fields = _field_types(tp)
            name = segment if segment in fields else None
            if name is None:
                folded = [f for f in fields if f.lower() == segment.lower()]
                name = folded[0] if len(folded) == 1 else None
            if name is None:
                return (*path, *segments[i:]), Any, False
            path.append(name)
            tp = fields[name]
        elif _is_mapping(tp):
            args = typing.get_args(tp)
            path.append(segment)
            tp = args[1] if len(args) == 2 else Any
        elif tp is Any:
            path.append(segment)
        else:
            return (*path, segment), None, True
    return tuple(path), tp, True


def _place(
    data: dict[str, Any], origins: dict[Path, KeyValue], path: Path, value: Any, entry: KeyValue
) -> FieldError | None:
    node = data
    for depth, part in enumerate(path[:-1]):
        inner = node.get(part)
        if inner is None:
            inner = node[part] = {}
        elif not isinstance(inner, dict):
            owner = origins.get(path[: depth + 1])
            by = f"{_text(owner.key)} sets it to {_expected(type(inner))}" if owner else ""
            reason = f"cannot set a field inside {dotted(path[: depth + 1])}: {by}"
            return FieldError(dotted(path), reason.rstrip(": "), source=describe(entry))
        node = inner
    # A copy: a JSON container is kept converted per key, and a deeper key may set inside it.
    node[path[-1]] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    origins[path] = entry
    return None


class Document:
    """One key whose value is a whole document."""

    def __init__(self, key: str, fmt: Format) -> None:
        self.key = key
        self.format: Format = fmt
        self._entry: KeyValue | None = None
        self._parsed: tuple[KeyValue, dict[str, Any]] | None = None

    async def build(self, keys: Mapping[bytes, KeyValue], revision: int) -> dict[str, Any]:
        entry = keys.get(self.key.encode())
        if entry is None:
            reason = f"the key does not exist (revision {revision})"
            raise MissingSourceError(f"etcd key {self.key}", reason)
        if self._parsed is None or self._parsed[0] != entry:
            data = await _parse(entry.value or b"", self.format, f"etcd key {self.key}")
            self._parsed = (entry, data)
        self._entry = entry
        return self._parsed[1]

    def origin(self, path: Path) -> str | None:
        entry = self._entry
        if entry is None:
            return None
        where = f"etcd key {self.key}"
        position = _locate(entry.value or b"", self.format, path) if path else None
        if position is not None:
            where += f":{position[0]}"
        return f"{where} (revision {entry.mod_revision})"


async def _parse(raw: bytes, fmt: Format, source: str) -> dict[str, Any]:
    try:
        return parse(raw, fmt, source, inline=True)
    except NotInline:
        # A large YAML document the C loader refused: the pure loader takes a while, and the
        # event loop must not wait for it.
        import trio

        return await trio.to_thread.run_sync(parse, raw, fmt, source)
    except ConfigError:
        raise


def _locate(raw: bytes, fmt: Format, path: Path) -> tuple[int, int] | None:
    # Origins spell a list's index as a string; the locator wants it as a number.
    numbered = tuple(int(p) if p.isdigit() else p for p in path)
    return locate(raw, fmt, numbered) or locate(raw, fmt, path)
