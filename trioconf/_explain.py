"""``Live.explain()`` and ``trioconf check --print``: the effective config, each value's origin.

One line per value the config holds (``_paths.values_below``: its leaves, each item of a list
of structures expanded into the item's leaves, a list of plain values whole), each with the
origin ``Live.origin`` gives for it. Secret values (``trioconf.field(secret=True)``,
``SecretStr``) are ``MASK``. Both forms come from ``rows``, so the text and the JSON say the
same:

- text: ``path = value  # origin``, paths and values padded into columns; a value is written
  as a file would (strings quoted, a ``Path`` as its text, an enum as its value, a duration as
  ``1h30m``, dates in ISO 8601), so what is shown can be pasted back;
- JSON: ``{"db.port": {"value": 5432, "origin": "/etc/app/base.toml:4"}, ...}`` in field order,
  a value JSON has no type for as the same text (without the quotes).

Lines are found one file at a time (``_Positions``): each file's text is read once for all its
values, not once per value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import pathlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ._formats._positions import positions
from ._layer import Layer
from ._marks import MASK, SecretStr, has_secrets, secret_at
from ._merge import dotted
from ._origins import as_origins
from ._paths import Parts, values_below

Format = Literal["text", "json"]

# Past this width a value no longer pushes the origins' column to the right.
_VALUE_COLUMN = 32


@dataclasses.dataclass(frozen=True)
class Row:
    path: str
    value: object  # as JSON holds it: str, int, float, bool, None, or a list of those
    text: str  # as the text form shows it
    origin: str


def explain(config: object, origins: Mapping[str, str], format: str = "text") -> str:
    """The effective ``config`` with each value's origin, as ``text`` or ``json``."""
    if format not in ("text", "json"):
        raise ValueError(f"format must be 'text' or 'json', not {format!r}")
    found = rows(config, origins)
    if format == "json":
        return _json(found)
    return _text(found)


def _json(found: list[Row]) -> str:
    # One value a line, as the text form: readable, and a grep finds a path with its origin.
    lines = [
        f"  {_dumps(row.path)}: {_dumps({'value': row.value, 'origin': row.origin})}"
        for row in found
    ]
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def rows(config: object, origins: Mapping[str, str]) -> list[Row]:
    table = as_origins(origins)
    cls = type(config)
    secrets = has_secrets(cls)
    positions = _Positions()
    out: list[Row] = []
    for parts, value in values_below(config, ()):
        origin = table.find(parts).exact(positions.locate)
        if isinstance(value, SecretStr) or (secrets and secret_at(cls, parts)):
            out.append(Row(dotted(parts), MASK, MASK, origin))
        else:
            out.append(Row(dotted(parts), _plain(value), _shown(value), origin))
    return out


def _text(found: list[Row]) -> str:
    if not found:
        return ""
    path_width = max(len(row.path) for row in found)
    value_width = min(max(len(row.text) for row in found), _VALUE_COLUMN)
    return "\n".join(
        f"{row.path:<{path_width}} = {row.text:<{value_width}}  # {row.origin}" for row in found
    )


def _shown(value: object) -> str:
    """A value as the text form shows it: as a config file would write it."""
    if isinstance(value, float):
        return repr(value)  # nan and inf too, unquoted
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return repr(_plain(value))


def _plain(value: object) -> Any:
    """A value as JSON holds it; a type JSON has none for, as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # JSON has no NaN: "nan", "inf"
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, dt.timedelta):
        return duration(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return str(value)  # Decimal, UUID, IP addresses: their text is what a file writes


def duration(value: dt.timedelta) -> str:
    """A timedelta as trioconf reads durations: ``1h30m``, ``90ms``, ``0s``."""
    micro = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micro < 0 else ""
    micro = abs(micro)
    out = ""
    for unit, size in (("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000)):
        count, micro = divmod(micro, size)
        if count:
            out += f"{count}{unit}"
    ms, us = divmod(micro, 1000)
    out += (f"{ms}ms" if ms else "") + (f"{us}us" if us else "")
    return sign + (out or "0s")


class _Positions:
    """Lines for ``Origin.exact``: each file's text read once for all of its values
    (``_formats._positions``), not once per value as ``Layer.locate`` would."""

    def __init__(self) -> None:
        # By the layer's identity (its ``eq`` is identity); the layer is kept alongside, so
        # that its id is not reused while this lives.
        self._files: dict[int, tuple[Layer, Callable[[Parts], tuple[int, int] | None]]] = {}

    def locate(self, layer: Layer, parts: Parts) -> tuple[int, int] | None:
        if layer.raw is None or layer.format is None:
            return layer.locate(parts)  # no text (env, a user's source): answered at once
        known = self._files.get(id(layer))
        if known is None:
            known = self._files[id(layer)] = (layer, positions(layer.raw, layer.format))
        return known[1](parts)
