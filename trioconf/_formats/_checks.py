"""Walks of the parsed tree: what the formats allow but a config must not hold.

A non-mapping top level, non-string keys (YAML ``1:``), NaN and infinity, values of types the
later stages do not know, and nesting deeper than ``MAX_DEPTH``. ``_is_clean`` answers yes or
no cheaply for the common, clean case; ``_check_tree`` runs only after a no, to name the path
and position of the first problem. Both iterate with an explicit stack: the tree may be deep.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, NoReturn

from .._errors import ParseError
from .._sources import Format
from ._limits import MAX_DEPTH
from ._locate import _locate_text
from ._position import Path
from ._yaml_locate import _yaml_odd_key

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


def _is_clean(data: Any, allow_nan: bool, string_keys: bool = False) -> bool:
    """The fast check of the common case: no paths built, no reasons, just yes or no.

    It costs about as much as json.loads itself on a typical config, where the walk that names
    the bad path (``_check_tree``) costs twice that; that one runs only when this says no.
    ``string_keys``: the parser can only make string keys (JSON, TOML), so they are not
    looked at, which is a third of the walk over a config of small tables.
    """
    if type(data) is not dict:
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if type(container) is dict:
            if not (string_keys or all(type(key) is str for key in container)):
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
