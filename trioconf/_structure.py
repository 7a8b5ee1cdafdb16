"""A strict cattrs converter, and its errors turned into FieldErrors that say where.

cattrs' default hooks coerce silently (``bool("false")`` is True, ``int(80.9)`` is 80, ``str``
of anything); a config typo must fail loudly instead, so every scalar, container and class
gets a hook here that accepts only the shapes a JSON/TOML/YAML document can mean.

Config keys are the attribute names (``_private`` stays ``_private``, attrs' init alias is not
used), as cattrs does by default.

Errors: the converter runs with detailed validation, so one pass collects every bad field as a
tree of cattrs ExceptionGroups whose sub-exceptions carry ``AttributeValidationNote`` (a field
name) or ``IterableValidationNote`` (a list index or mapping key) in ``__notes__``. Walking that
tree gives each error's path as a tuple, which is what ``Merged.origins`` and ``Layer.locate``
need; parsing cattrs' ``"@ $.a.b"`` strings back would break on keys containing dots.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import enum
import math
import sys
import types
from collections.abc import Callable, Iterable, Mapping, MutableMapping, MutableSequence, MutableSet
from collections.abc import Sequence as AbcSequence
from collections.abc import Set as AbcSet
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, Union, get_args, get_origin, runtime_checkable

import attrs
import cattrs
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from ._errors import FieldError, ValidationError
from ._layer import Layer
from ._merge import Merged, dotted

T = TypeVar("T")
Hook = Callable[[Any, Any], Any]
_MISSING = object()


class _Invalid(ValueError):
    """A value our hooks reject; the message is meant for the user as is."""


@runtime_checkable
class Describes(Protocol):
    """A layer whose values come from several named places (the env layer: one variable each).

    ``describe(path)`` names the place that supplied the value at ``path``; a FieldError's
    ``source`` uses it instead of the layer's name.
    """

    def describe(self, path: AbcSequence[Any]) -> str: ...


def make_converter(*, allow_nan: bool = False, forbid_unknown: bool = True) -> cattrs.Converter:
    """A converter that accepts only values of the right kind.

    ``allow_nan``: accept NaN and ±infinity for float fields. ``forbid_unknown``: reject keys
    that name no field of an attrs class or dataclass.
    """
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=forbid_unknown)
    # Scalars go through cattrs' singledispatch, which is consulted first and matches
    # subclasses: bool must be registered apart from int, and Enum subclasses of int or str
    # (IntEnum, StrEnum) reach these hooks and are sent on to the enum hook.
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _float_hook(allow_nan))
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(Path, _structure_path)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_structure_hook(dt.time, _structure_time)
    conv.register_structure_hook(enum.Enum, _structure_enum)
    # Generic and class types go through predicates; later registrations win over cattrs'.
    conv.register_structure_hook_factory(_is_literal, lambda t: _structure_literal)
    conv.register_structure_hook_factory(_is_union, lambda t: _union_hook(conv, t))
    conv.register_structure_hook_factory(_is_sequence, lambda t: _sequence_hook(conv, t))
    conv.register_structure_hook_factory(_is_tuple, lambda t: _tuple_hook(conv, t))
    conv.register_structure_hook_factory(_is_mapping, lambda t: _mapping_hook(conv, t))
    conv.register_structure_hook_factory(_is_class, lambda t: _class_hook(conv, t))
    return conv


def unstructure(converter: cattrs.Converter, config: Any) -> Any:
    """``config`` as plain data (dicts, lists, scalars), for diffs and the CLI."""
    return converter.unstructure(config)


def structure(converter: cattrs.Converter, cls: type[T], merged: Merged) -> T:
    """Structure ``merged.data`` into ``cls``.

    Raises ``ValidationError`` holding every ``FieldError`` of the document, each with its
    dotted path, a message, the offending value, the source that supplied it and, when the
    source can tell, its line and column.
    """
    try:
        return converter.structure(merged.data, cls)
    except Exception as exc:
        found: list[tuple[tuple[Any, ...], BaseException]] = []
        _walk(exc, (), found)
        errors = [e for path, leaf in found for e in _field_errors(path, leaf, merged)]
        # Our own rejections and cattrs' bookkeeping need no traceback; anything else (an
        # attrs validator, a schema cattrs cannot handle) is kept as the cause for debugging.
        expected = all(isinstance(leaf, _Invalid | ForbiddenExtraKeysError) for _, leaf in found)
        raise ValidationError(errors) from (None if expected else exc)


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


def _describe(value: Any) -> str:
    """``a float 80.5``, ``a string 'x'``, ``a list``, ``null``: how the user wrote it."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    kind = _KINDS.get(type(value), f"a {type(value).__name__}")
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


def _reject(tp: Any, value: Any, why: str = "") -> _Invalid:
    return _Invalid(f"expected {why or _expected(tp)}, got {_describe(value)}")


# ---------------------------------------------------------------------------------------------
# Scalars


def _structure_bool(obj: Any, cl: Any) -> bool:
    if isinstance(obj, bool):
        return obj
    raise _reject(bool, obj)


def _structure_int(obj: Any, cl: Any) -> Any:
    if cl is not int and issubclass(cl, enum.Enum):
        return _structure_enum(obj, cl)
    if isinstance(obj, int) and not isinstance(obj, bool):
        return int(obj)
    raise _reject(int, obj)


def _float_hook(allow_nan: bool) -> Hook:
    def structure_float(obj: Any, cl: Any) -> Any:
        if cl is not float and issubclass(cl, enum.Enum):
            return _structure_enum(obj, cl)
        if isinstance(obj, bool) or not isinstance(obj, int | float):
            raise _reject(float, obj)
        try:
            value = float(obj)
        except OverflowError:  # an int too large for a float
            raise _reject(float, obj, "a number in float range") from None
        if not allow_nan and not math.isfinite(value):
            raise _reject(float, obj, "a finite number (NaN and infinity need allow_nan=True)")
        return value

    return structure_float


def _structure_str(obj: Any, cl: Any) -> Any:
    if cl is not str and issubclass(cl, enum.Enum):
        return _structure_enum(obj, cl)
    if isinstance(obj, str):
        return str(obj)
    raise _reject(str, obj)


def _structure_path(obj: Any, cl: Any) -> Path:
    if isinstance(obj, str):
        return Path(obj)
    if isinstance(obj, Path):
        return obj
    raise _reject(Path, obj)


def _structure_datetime(obj: Any, cl: Any) -> dt.datetime:
    if isinstance(obj, dt.datetime):
        return obj
    if isinstance(obj, str):
        try:
            return dt.datetime.fromisoformat(_zulu(obj))
        except ValueError:
            pass
    raise _reject(dt.datetime, obj, "a datetime (native or an ISO 8601 string)")


def _structure_date(obj: Any, cl: Any) -> dt.date:
    # datetime is a subclass of date: a timestamp is not accepted where a day is meant.
    if isinstance(obj, dt.date) and not isinstance(obj, dt.datetime):
        return obj
    if isinstance(obj, str):
        try:
            return dt.date.fromisoformat(obj)
        except ValueError:
            pass
    raise _reject(dt.date, obj, "a date (native or an ISO 8601 string)")


def _structure_time(obj: Any, cl: Any) -> dt.time:
    if isinstance(obj, dt.time):
        return obj
    if isinstance(obj, str):
        try:
            return dt.time.fromisoformat(_zulu(obj))
        except ValueError:
            pass
    raise _reject(dt.time, obj, "a time (native or an ISO 8601 string)")


def _zulu(text: str) -> str:
    # Python 3.10's fromisoformat does not know the "Z" suffix that TOML and most people use.
    if sys.version_info < (3, 11) and text.endswith(("Z", "z")):
        return text[:-1] + "+00:00"
    return text


def _same_scalar(a: Any, b: Any) -> bool:
    # Typed: 1 does not match True or 1.0, so Literal[1] and an IntEnum stay strict.
    return type(a) is type(b) and bool(a == b)


def _structure_enum(obj: Any, cl: Any) -> Any:
    if isinstance(obj, cl):
        return obj
    for member in cl:
        if _same_scalar(member.value, obj):
            return member
    raise _reject(cl, obj)


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal_value(arg: Any) -> Any:
    return arg.value if isinstance(arg, enum.Enum) else arg


def _structure_literal(obj: Any, cl: Any) -> Any:
    for arg in get_args(cl):
        if _same_scalar(_literal_value(arg), obj) or (isinstance(arg, enum.Enum) and arg is obj):
            return arg
    raise _reject(cl, obj)


# ---------------------------------------------------------------------------------------------
# Unions


_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in _UNION_ORIGINS


def _union_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    args = get_args(tp)
    nullable = type(None) in args
    members = [a for a in args if a is not type(None)]

    def structure_union(obj: Any, cl: Any) -> Any:
        if obj is None and nullable:
            return None
        if len(members) == 1:
            # Optional[X]: let X's own errors through, with their detailed paths.
            return conv.structure(obj, members[0])
        # Try an exact scalar type first, so int | float keeps an int an int.
        ordered = sorted(members, key=lambda m: type(obj) is not m)
        deep: list[BaseException] = []
        for member in ordered:
            try:
                return conv.structure(obj, member)
            except BaseValidationError as exc:
                deep.append(exc)
            except Exception:  # the next member may accept it
                continue
        # One member took the value's shape and failed inside: its errors say more.
        if len(deep) == 1:
            raise deep[0]
        raise _reject(tp, obj)

    return structure_union


# ---------------------------------------------------------------------------------------------
# Containers


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


def _require_list(tp: Any, obj: Any) -> None:
    # A string is a sequence too: "abc" must not become ["a", "b", "c"].
    if not isinstance(obj, list | tuple):
        raise _reject(tp, obj)


class _LazyHook:
    """The hook for one item type, looked up on first use: looking it up while the
    container's own hook is being built would recurse forever on a recursive class."""

    __slots__ = ("conv", "hook", "tp")

    def __init__(self, conv: cattrs.Converter, tp: Any) -> None:
        self.conv = conv
        self.tp = tp
        self.hook: Hook | None = None

    def get(self) -> Hook:
        if self.hook is None:
            self.hook = self.conv.get_structure_hook(self.tp)
        return self.hook


def _all_errors(tp: Any, pairs: Iterable[tuple[Any, Any, _LazyHook]]) -> list[Any]:
    """Structure (index, value, item hook) triples one by one, collecting every failure.

    The hooks' fast paths try a plain comprehension first and come here only when it fails
    (hooks have no side effects, so doing it again is safe). Each failure is noted with its
    index or key the way cattrs does, so the whole document's errors come out at once.
    """
    out: list[Any] = []
    errors: list[Exception] = []
    for index, value, item in pairs:
        try:
            out.append(item.get()(value, item.tp))
        except Exception as exc:
            note = IterableValidationNote(f"Structuring {tp!r} @ {index!r}", index, item.tp)
            # cattrs' own convention (add_note is 3.11+): its error tree is walked by notes.
            exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return out


def _sequence_hook(conv: cattrs.Converter, tp: Any, build: type | None = None) -> Hook:
    build = build or _SEQUENCES[_origin(tp)]
    args = get_args(tp)
    item = _LazyHook(conv, args[0] if args else Any)

    def structure_sequence(obj: Any, cl: Any) -> Any:
        _require_list(tp, obj)
        hook, item_type = item.get(), item.tp
        try:
            items = [hook(v, item_type) for v in obj]
        except Exception:
            items = _all_errors(tp, ((i, v, item) for i, v in enumerate(obj)))
        if build is list:
            return items
        try:
            return build(items)
        except TypeError:  # set[Any] of mappings or lists
            raise _Invalid(f"set items must be hashable, got {_describe(obj)}") from None

    return structure_sequence


def _tuple_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    args = get_args(tp)
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        return _sequence_hook(conv, tp, build=tuple)
    items = [_LazyHook(conv, a) for a in args]

    def structure_tuple(obj: Any, cl: Any) -> tuple[Any, ...]:
        _require_list(tp, obj)
        if len(obj) != len(args):
            raise _Invalid(f"expected a list of {len(args)} items, got {len(obj)}")
        return tuple(_all_errors(tp, ((i, v, items[i]) for i, v in enumerate(obj))))

    return structure_tuple


def _mapping_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    args = get_args(tp)
    key_type, value_type = args if len(args) == 2 else (Any, Any)
    key, value = _LazyHook(conv, key_type), _LazyHook(conv, value_type)

    def structure_mapping(obj: Any, cl: Any) -> dict[Any, Any]:
        if not isinstance(obj, Mapping):
            raise _reject(tp, obj)
        key_hook, value_hook = key.get(), value.get()
        try:
            return {key_hook(k, key_type): value_hook(v, value_type) for k, v in obj.items()}
        except Exception:
            pass
        # Keys and values in one pass: both report failures under the key's path.
        pairs = ((k, x, hook) for k, v in obj.items() for x, hook in ((k, key), (v, value)))
        flat = _all_errors(tp, pairs)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    return structure_mapping


def _class_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    base = conv.gen_structure_attrs_fromdict(tp)

    def structure_class(obj: Any, cl: Any) -> Any:
        if not isinstance(obj, Mapping):
            raise _reject(tp, obj)
        return base(obj, cl)

    return structure_class


# ---------------------------------------------------------------------------------------------
# From cattrs' exception tree to FieldErrors


def _walk(
    exc: BaseException, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], BaseException]]
) -> None:
    """Flatten cattrs' exception tree into (path tuple, leaf exception) pairs."""
    if isinstance(exc, ClassValidationError):
        with_name, without = exc.group_exceptions()
        for sub, attr_note in with_name:
            _walk(sub, (*path, attr_note.name), out)
    elif isinstance(exc, IterableValidationError):
        with_index, without = exc.group_exceptions()
        for sub, item_note in with_index:
            _walk(sub, (*path, item_note.index), out)
    else:
        out.append((path, exc))
        return
    for sub in without:
        _walk(sub, path, out)


def _field_errors(path: tuple[Any, ...], exc: BaseException, merged: Merged) -> list[FieldError]:
    if isinstance(exc, ForbiddenExtraKeysError):
        return [
            _field_error((*path, key), _unknown_key(key, exc.cl), merged)
            for key in sorted(exc.extra_fields, key=str)
        ]
    if type(exc) is KeyError and path and exc.args == (path[-1],):
        return [_field_error(path, "missing required field", merged)]
    if isinstance(exc, _Invalid):
        return [_field_error(path, str(exc), merged)]
    return [_field_error(path, str(exc) or type(exc).__name__, merged)]


def _unknown_key(key: str, cl: type) -> str:
    names = [f.name for f in _fields(cl)]
    close = difflib.get_close_matches(str(key), names, n=1)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    known = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"unknown key {key!r} (known keys: {known})" if names else f"unknown key {key!r}"


def _fields(cl: type) -> tuple[Any, ...]:
    if attrs.has(cl):
        return tuple(attrs.fields(cl))
    if dataclasses.is_dataclass(cl):
        return dataclasses.fields(cl)
    return ()


def _field_error(path: tuple[Any, ...], message: str, merged: Merged) -> FieldError:
    value = _lookup(merged.data, path)
    layer = merged.origin(path)
    line = column = None
    if layer is not None:
        position = layer.locate(path)
        if position is None:
            # A missing field or an unlocatable item: point at the nearest enclosing value
            # the layer supplied.
            position = layer.locate(_present_prefix(merged, path))
        if position is not None:
            line, column = position
    return FieldError(
        path=dotted(path),
        message=message,
        value=None if value is _MISSING else value,
        source=_source_name(layer, path),
        line=line,
        column=column,
    )


def _lookup(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def _present_prefix(merged: Merged, path: tuple[Any, ...]) -> tuple[Any, ...]:
    prefix = path
    while prefix and prefix not in merged.origins:
        prefix = prefix[:-1]
    return prefix


def _source_name(layer: Layer | None, path: tuple[Any, ...]) -> str | None:
    if layer is None:
        return None
    if isinstance(layer, Describes):
        return layer.describe(path)
    return layer.name
