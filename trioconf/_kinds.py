"""What a field's type annotation expects, and how values and types are named in messages.

Both the strict converter (``_converter``) and the env layer (``_env``, which must guess how to
read a variable's text from the field it feeds) classify annotations the same way: a literal, a
union, a list-like sequence, a fixed tuple, a mapping or an attrs/dataclass class. Keeping that
classification, and the wording of "expected X, got Y", in one place of its own lets both use
it without the env layer depending on the converter's hooks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
from collections.abc import Mapping, MutableMapping, MutableSequence, MutableSet
from collections.abc import Sequence as AbcSequence
from collections.abc import Set as AbcSet
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import attrs

# ---------------------------------------------------------------------------------------------
# Describing values and types in messages


_KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "an int",
    float: "a float",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    dt.datetime: "a datetime",
    dt.date: "a date",
    dt.time: "a time",
}


def _kind(value: Any) -> str:
    """``a float``, ``a string``, ``a list``, ``null``: what the user wrote, without its value."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def _describe(value: Any) -> str:
    """``a float 80.5``, ``a string 'x'``, ``a list``, ``null``: how the user wrote it."""
    kind = _kind(value)
    if value is None or isinstance(value, Mapping | list | tuple):
        return kind
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def _expected(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if tp is float:
        return "a number"
    if tp is Path:
        return "a path string"
    if tp in _KINDS:
        return _KINDS[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    if _is_literal(tp):
        return "one of " + ", ".join(repr(_literal_value(a)) for a in get_args(tp))
    if _is_union(tp):
        return " or ".join(_expected(a) for a in get_args(tp))
    if _is_sequence(tp) or _is_tuple(tp):
        return "a list"
    if _is_class(tp):
        return f"a mapping (for {tp.__name__})"
    if _is_mapping(tp):
        return "a mapping"
    return f"a {getattr(tp, '__name__', repr(tp))}"


# ---------------------------------------------------------------------------------------------
# Classifying annotations


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal_value(arg: Any) -> Any:
    return arg.value if isinstance(arg, enum.Enum) else arg


_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in _UNION_ORIGINS


_SEQUENCES: dict[Any, type] = {
    list: list,
    AbcSequence: list,
    MutableSequence: list,
    set: set,
    MutableSet: set,
    frozenset: frozenset,
    AbcSet: frozenset,
}
_MAPPINGS = (dict, Mapping, MutableMapping)


def _origin(tp: Any) -> Any:
    return get_origin(tp) or tp


def _is_sequence(tp: Any) -> bool:
    try:
        return _origin(tp) in _SEQUENCES
    except TypeError:  # unhashable annotations
        return False


def _is_tuple(tp: Any) -> bool:
    return _origin(tp) is tuple


def _is_mapping(tp: Any) -> bool:
    return _origin(tp) in _MAPPINGS


def _is_class(tp: Any) -> bool:
    return isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp))
