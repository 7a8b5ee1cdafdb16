"""A ``Decimal`` field's number as the file writes it, not as the float the parser made.

JSON, TOML and YAML parsers read ``19.990000000000000001`` as a float, which keeps 17
significant digits. Parsing every number as a decimal would slow every document, and hand
``float`` fields a ``Decimal``; instead, where a layer is made, the floats at the positions the
config class types as ``Decimal`` are read again from the file's text: the literal at that
value's position (``_formats.positions``, one pass over the text, only when such a float is
there) becomes a ``Decimal``. A class without ``Decimal`` fields has no plan and pays nothing;
one whose decimals are strings or integers pays a walk to them and nothing more.

The literal is used only when it reads as the very float the parser made: anything this does
not find or understand (an unusual key spelling, a YAML tag) keeps the float, which the
converter turns into a ``Decimal`` through its shortest repr, as before.
"""

from __future__ import annotations

import codecs
import decimal
import math
import re
from typing import Any

from . import _typeplan
from ._formats._positions import Positions, positions
from ._sources import Format
from ._typeplan import Change, Plan

# A key (bare, or quoted), dotted in TOML, then its separator: skipped to reach an entry's
# value, since ``positions`` places a mapping entry at its key.
_KEY = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)"""
_ENTRY = re.compile(rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*[ \t]*[:=][ \t]*")
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*)?(?:\.[\d_]*)?(?:[eE][-+]?\d[\d_]*)?")


def _takes_number(tp: Any) -> bool:
    # In a union with Decimal, a float is a float's (the converter tries the exact type first).
    return tp is float or tp is Any


def plan(tp: Any) -> Plan | None:
    """Where ``Decimal`` values lie in a ``tp``; None when nowhere."""
    return _typeplan.plan(tp, decimal.Decimal, _takes_number)


def as_written(raw: bytes, fmt: Format) -> Change:
    """A float at a ``Decimal`` position → the ``Decimal`` its literal in ``raw`` spells."""
    found: list[tuple[str, list[int], Positions]] = []  # read on the first float, once

    def exact(value: Any, path: tuple[Any, ...]) -> Any:
        if type(value) is not float or not math.isfinite(value) or not path:
            return value
        if not found:
            text = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
            decoded = text.decode("utf-8", "replace")
            starts = [0, *(m.end() for m in re.finditer("\n", decoded))]
            found.append((decoded, starts, positions(raw, fmt)))
        decoded, starts, position = found[0]
        where = position(path)
        if where is None or where[0] > len(starts):
            return value
        offset = starts[where[0] - 1] + where[1] - 1
        if isinstance(path[-1], str):  # an entry: its value follows its key
            entry = _ENTRY.match(decoded, offset)
            if entry is None:
                return value
            offset = entry.end()
        literal = _NUMBER.match(decoded, offset)
        return _decimal(literal.group() if literal else "", value)

    return exact


def _decimal(literal: str, value: float) -> Any:
    """``literal`` as a Decimal if it spells ``value``; else ``value`` itself."""
    try:
        number = decimal.Decimal(literal)
    except decimal.InvalidOperation:
        return value
    return number if float(number) == value else value
