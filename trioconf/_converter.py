"""The strict cattrs converter: hooks that accept only what a config document can mean.

cattrs' default hooks coerce silently (``bool("false")`` is True, ``int(80.9)`` is 80, ``str``
of anything); a config typo must fail loudly instead, so every scalar, container and class
gets a hook here that accepts only the shapes a JSON/TOML/YAML document can mean.

Config keys are the attribute names (``_private`` stays ``_private``, attrs' init alias is not
used), as cattrs does by default.

This module only builds the converter; running it on a merged document and turning its
failures into ``FieldError``s that say where is ``_structure``'s job. The hooks raise
``_Invalid`` (a message meant for the user) and cattrs' own validation errors, noted with the
field name or item index the way cattrs does, so that ``_structure`` can walk one error tree.

Detailed validation is what the error tree needs and what a good document does not: a reload
structures with a fast twin first (``StrictConverter``), whose code is generated per class, and
the detailed converter runs only when that fails. tests/test_fast_path checks that the two
accept exactly the same documents.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import keyword
import linecache
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from ._kinds import (
    _SEQUENCES,
    _describe,
    _expected,
    _is_class,
    _is_literal,
    _is_mapping,
    _is_sequence,
    _is_tuple,
    _is_union,
    _literal_value,
    _origin,
)
from ._types import register_types
from ._units import Unit

Hook = Callable[[Any, Any], Any]
T = TypeVar("T")


class _Invalid(ValueError):
    """A value our hooks reject; the message is meant for the user as is."""


def is_bug(exc: BaseException) -> bool:
    """Raised by trioconf's own code and not one of its deliberate rejections (``_Invalid``).

    Such an exception is a bug in a hook, never a fact about the document: it must propagate
    as it is rather than be reported as a bad value. Whatever else fails while structuring
    was raised elsewhere: cattrs (an unknown key, a missing field), the user's classes
    (validators, converters, post-init hooks) or the constructors of their field types. A
    hook that calls the converter again (a union's members) passes those through.
    """
    if isinstance(exc, _Invalid):
        return False
    tb = exc.__traceback__
    if tb is None:  # built and collected, never raised: someone's deliberate report
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return isinstance(module, str) and (module == "trioconf" or module.startswith("trioconf."))


def _raise_bugs(exc: BaseException) -> None:
    """Raise the first bug (``is_bug``) in a tree of cattrs validation errors, if any."""
    if isinstance(exc, BaseValidationError):
        for sub in exc.exceptions:
            _raise_bugs(sub)
    elif is_bug(exc):
        raise exc


class Prebuilt:
    """A mapping whose values are structured already: the mapping hook takes it as it is.

    A keyed ``Directory`` structures each entry when its file is read; re-structuring ten
    thousand unchanged entries for every one-file change is exactly the cost it avoids.
    """

    __slots__ = ("mapping",)

    def __init__(self, mapping: dict[Any, Any]) -> None:
        self.mapping = mapping


class StrictConverter(cattrs.Converter):
    """The detailed converter, with a fast twin (``fast``) that accepts exactly the same documents.

    Detailed validation builds a tree of every failure with its path, but costs on every
    field of every reload: per-field ``try`` blocks, a dict of results splatted into the
    constructor, a fallback walk of each container. ``fast`` runs the same hooks without any
    of that and stops at the first failure, so ``structure`` tries it first and only runs the
    detailed converter again, from the start, when the document is bad: the detailed run is
    then the one whose errors are reported. Both are built by ``_register`` from the same hook
    functions, the mode changing only how failures are gathered, never what is accepted.

    The hooks of either converter call their own converter's hooks (never ``structure``),
    so the fast-then-detailed switch happens once, at the top.
    """

    def __init__(self, *, allow_nan: bool, forbid_unknown: bool) -> None:
        super().__init__(detailed_validation=True, forbid_extra_keys=forbid_unknown)
        self.fast = cattrs.Converter(detailed_validation=False, forbid_extra_keys=forbid_unknown)
        _register(self, allow_nan=allow_nan, detailed=True)
        _register(self.fast, allow_nan=allow_nan, detailed=False)

    def structure(self, obj: Any, cl: type[T]) -> T:
        """``obj`` as a ``cl``; on bad input, raise the detailed converter's error tree."""
        try:
            return self.fast.structure(obj, cl)
        except Exception:
            # Bad input (or a bug, which the detailed pass meets again and lets through).
            # Out of the ``except`` block, so the detailed error is not chained to this one.
            pass
        return self.structure_detailed(obj, cl)

    def structure_detailed(self, obj: Any, cl: type[T]) -> T:
        """The detailed converter alone: every failure, noted with its path."""
        return super().structure(obj, cl)


Configure = Callable[[cattrs.Converter], None]
"""A user's ``configure(converter)``: registers structure hooks for types of their own."""

_BUILT_IN = (bool, int, float, str)


def make_converter(
    *, allow_nan: bool = False, forbid_unknown: bool = True, configure: Configure | None = None
) -> StrictConverter:
    """A converter that accepts only values of the right kind.

    ``allow_nan``: accept NaN and ±infinity for float fields. ``forbid_unknown``: reject keys
    that name no field of an attrs class or dataclass. ``configure``: the user's hooks,
    registered on both the fast and the detailed converter (so that a reload and the report of
    a bad document agree); the built-in scalar types keep trioconf's strict hooks, and a
    ``configure`` that replaces one is a ``ValueError``.
    """
    converter = StrictConverter(allow_nan=allow_nan, forbid_unknown=forbid_unknown)
    if configure is not None:
        for conv in (converter, converter.fast):
            before = [conv.get_structure_hook(tp) for tp in _BUILT_IN]
            configure(conv)
            after = [conv.get_structure_hook(tp) for tp in _BUILT_IN]
            changed = [
                tp.__name__ for tp, a, b in zip(_BUILT_IN, before, after, strict=True) if a != b
            ]
            if changed:
                msg = (
                    f"converter= must not replace the hooks of {', '.join(changed)}: trioconf "
                    "reads them strictly (no float for an int, no string for a bool); register "
                    "hooks for types of your own"
                )
                raise ValueError(msg)
    return converter


def _register(conv: cattrs.Converter, *, allow_nan: bool, detailed: bool) -> None:
    """Install the strict hooks on ``conv``. ``detailed``: collect every failure, noted with
    its path, instead of raising the first (``conv`` must be made with the same setting)."""
    # Scalars go through cattrs' singledispatch, which is consulted first and matches
    # subclasses: bool must be registered apart from int, and Enum subclasses of int or str
    # (IntEnum, StrEnum) reach these hooks and are sent on to the enum hook.
    exact: dict[type, Hook] = {
        bool: _structure_bool,
        int: _structure_int,
        float: _float_hook(allow_nan),
        str: _structure_str,
    }
    for scalar, scalar_hook in exact.items():
        conv.register_structure_hook(scalar, scalar_hook)
    conv.register_structure_hook(Path, _structure_path)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_structure_hook(dt.time, _structure_time)
    conv.register_structure_hook(enum.Enum, _structure_enum)
    register_types(conv, allow_nan=allow_nan, reject=_Invalid)  # durations, decimals, ...
    # Generic and class types go through predicates; later registrations win over cattrs'.
    conv.register_structure_hook_factory(_is_literal, lambda t: _structure_literal)
    conv.register_structure_hook_factory(_is_union, lambda t: _union_hook(conv, t))
    conv.register_structure_hook_factory(
        _is_sequence, lambda t: _sequence_hook(conv, t, detailed=detailed)
    )
    conv.register_structure_hook_factory(_is_tuple, lambda t: _tuple_hook(conv, t, detailed))
    conv.register_structure_hook_factory(_is_mapping, lambda t: _mapping_hook(conv, t, detailed))
    if detailed:
        # cattrs' generated code, which notes each failure with its field's name.
        conv.register_structure_hook_factory(_is_class, lambda t: _class_hook(conv, t))
    else:
        conv.register_structure_hook_factory(
            _is_class, lambda t: _fast_class_hook(conv, t, exact, allow_nan)
        )


def unstructure(converter: cattrs.Converter, config: Any) -> Any:
    """``config`` as plain data (dicts, lists, scalars), for diffs and the CLI."""
    return converter.unstructure(config)


def _reject(tp: Any, value: Any, why: str = "") -> _Invalid:
    return _Invalid(f"expected {why or _expected(tp)}, got {_describe(value)}")


# ---------------------------------------------------------------------------------------------
# Scalars


def _structure_bool(obj: Any, cl: Any) -> bool:
    if isinstance(obj, bool):
        return obj
    raise _reject(bool, obj)


def _structure_int(obj: Any, cl: Any) -> Any:
    if type(obj) is int and cl is int:  # the common case, first: this runs for every int field
        return obj
    if cl is not int and issubclass(cl, enum.Enum):
        return _structure_enum(obj, cl)
    if isinstance(obj, int) and not isinstance(obj, bool):
        return int(obj)
    raise _reject(int, obj)


def _float_hook(allow_nan: bool) -> Hook:
    def structure_float(obj: Any, cl: Any) -> Any:
        if type(obj) is float and cl is float and (allow_nan or math.isfinite(obj)):
            return obj  # the common case, first
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
    if type(obj) is str and cl is str:  # the common case, first
        return obj
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


def _structure_literal(obj: Any, cl: Any) -> Any:
    for arg in get_args(cl):
        if _same_scalar(_literal_value(arg), obj) or (isinstance(arg, enum.Enum) and arg is obj):
            return arg
    raise _reject(cl, obj)


# ---------------------------------------------------------------------------------------------
# Unions


def _union_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    # A hook the user registered for this very union (``converter=``, e.g. cattrs'
    # ``configure_tagged_union``): cattrs keeps those apart, for its own union factory, which
    # this one replaces; so it consults them as cattrs' would.
    registered = conv._union_struct_registry.get(tp)
    if registered is not None:
        return _registered_union_hook(tp, registered)
    args = get_args(tp)
    nullable = type(None) in args
    members = [_LazyHook(conv, a) for a in args if a is not type(None)]

    def structure_union(obj: Any, cl: Any) -> Any:
        if obj is None and nullable:
            return None
        if len(members) == 1:
            # Optional[X]: let X's own errors through, with their detailed paths.
            return members[0].get()(obj, members[0].tp)
        # Try an exact scalar type first, so int | float keeps an int an int.
        ordered = sorted(members, key=lambda m: type(obj) is not m.tp)
        deep: list[BaseException] = []
        for member in ordered:
            try:
                return member.get()(obj, member.tp)
            except BaseValidationError as exc:
                deep.append(exc)
            except Exception as exc:
                if is_bug(exc):
                    raise
                continue  # the next member may accept it
        # One member took the value's shape and failed inside: its errors say more.
        if len(deep) == 1:
            raise deep[0]
        for failed in deep:  # about to be summed up in one line: no bug may hide in them
            _raise_bugs(failed)
        raise _reject(tp, obj)

    return structure_union


# ---------------------------------------------------------------------------------------------
# Containers


def _registered_union_hook(tp: Any, hook: Hook) -> Hook:
    """A user's hook for a union of classes, with what cattrs' tagged union raises said in
    words: a ``KeyError`` of the tag field (missing) or of its value (no such class)."""
    classes = [a for a in get_args(tp) if _is_class(a)]
    if len(classes) != len(get_args(tp)):
        return hook  # not a union of classes: the user's hook says what it says
    names = ", ".join(c.__name__ for c in classes)

    def structure_registered_union(obj: Any, cl: Any) -> Any:
        if not isinstance(obj, Mapping):
            raise _reject(tp, obj)
        try:
            return hook(obj, cl)
        except KeyError as exc:
            key = exc.args[0] if len(exc.args) == 1 else None
            if not isinstance(key, str):
                raise
            if key in obj.values():
                why = f"{key!r} names none of {names}"
            elif key not in obj:
                why = f"missing field {key!r}, which says which of {names} this is"
            else:
                raise
        raise _Invalid(why)

    return structure_registered_union


def _require_list(tp: Any, obj: Any) -> None:
    # A string is a sequence too: "abc" must not become ["a", "b", "c"].
    # The exact type first: ``list | tuple`` would build a union object on every call.
    if type(obj) is not list and not isinstance(obj, (list, tuple)):
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


_MAX_ITEM_ERRORS = 20


def _all_errors(tp: Any, pairs: Iterable[tuple[Any, Any, _LazyHook]]) -> list[Any]:
    """Structure (index, value, item hook) triples one by one, collecting every failure.

    The hooks' fast paths try a plain comprehension first and come here only when it fails
    (hooks have no side effects, so doing it again is safe). Each failure is noted with its
    index or key the way cattrs does, so the whole document's errors come out at once.
    """
    out: list[Any] = []
    errors: list[Exception] = []
    for index, value, item in pairs:
        if len(errors) >= _MAX_ITEM_ERRORS:
            # Each error costs tens of µs to build and report, in the updater's task: a list
            # of 20,000 wrong items blocked the event loop for a second. The first few say
            # what is wrong; the rest of the container is left unchecked, and said so.
            exc = _Invalid(f"more than {_MAX_ITEM_ERRORS} invalid items; the rest not checked")
            note = IterableValidationNote(f"Structuring {tp!r} @ {index!r}", index, item.tp)
            exc.__notes__ = [note]  # type: ignore[attr-defined]
            errors.append(exc)
            break
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


def _sequence_hook(
    conv: cattrs.Converter, tp: Any, build: type | None = None, *, detailed: bool
) -> Hook:
    build = build or _SEQUENCES[_origin(tp)]
    args = get_args(tp)
    item = _LazyHook(conv, args[0] if args else Any)

    def structure_sequence(obj: Any, cl: Any) -> Any:
        _require_list(tp, obj)
        hook, item_type = item.get(), item.tp
        try:
            items = [hook(v, item_type) for v in obj]
        except Exception:
            if not detailed:  # the fast twin: the detailed converter will say what failed
                raise
            items = _all_errors(tp, ((i, v, item) for i, v in enumerate(obj)))
        if build is list:
            return items
        try:
            return build(items)
        except TypeError:  # set[Any] of mappings or lists
            raise _Invalid(f"set items must be hashable, got {_describe(obj)}") from None

    return structure_sequence


def _tuple_hook(conv: cattrs.Converter, tp: Any, detailed: bool) -> Hook:
    args = get_args(tp)
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        return _sequence_hook(conv, tp, build=tuple, detailed=detailed)
    items = [_LazyHook(conv, a) for a in args]

    def structure_tuple(obj: Any, cl: Any) -> tuple[Any, ...]:
        _require_list(tp, obj)
        if len(obj) != len(args):
            raise _Invalid(f"expected a list of {len(args)} items, got {len(obj)}")
        if not detailed:
            return tuple([item.get()(v, item.tp) for item, v in zip(items, obj, strict=True)])
        return tuple(_all_errors(tp, ((i, v, items[i]) for i, v in enumerate(obj))))

    return structure_tuple


def _mapping_hook(conv: cattrs.Converter, tp: Any, detailed: bool) -> Hook:
    args = get_args(tp)
    key_type, value_type = args if len(args) == 2 else (Any, Any)
    key, value = _LazyHook(conv, key_type), _LazyHook(conv, value_type)

    def structure_mapping(obj: Any, cl: Any) -> dict[Any, Any]:
        if type(obj) is Prebuilt:
            return obj.mapping
        if type(obj) is not dict and not isinstance(obj, Mapping):  # an ABC check is slow
            raise _reject(tp, obj)
        key_hook, value_hook = key.get(), value.get()
        try:
            return {key_hook(k, key_type): value_hook(v, value_type) for k, v in obj.items()}
        except Exception:
            if not detailed:  # the fast twin: the detailed converter will say what failed
                raise
        # Keys and values in one pass: both report failures under the key's path.
        pairs = ((k, x, hook) for k, v in obj.items() for x, hook in ((k, key), (v, value)))
        flat = _all_errors(tp, pairs)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    return structure_mapping


def _class_hook(conv: cattrs.Converter, tp: Any) -> Hook:
    base = conv.gen_structure_attrs_fromdict(tp)

    def structure_class(obj: Any, cl: Any) -> Any:
        # Parsers make plain dicts: the exact-type test spares most calls the ABC check.
        if type(obj) is not dict and not isinstance(obj, Mapping):
            raise _reject(tp, obj)
        return base(obj, cl)

    return structure_class


# ---------------------------------------------------------------------------------------------
# The fast twin's class hook


def _fast_class_hook(
    conv: cattrs.Converter, tp: Any, exact: Mapping[type, Hook], allow_nan: bool
) -> Hook:
    """A structuring function generated for ``tp``, for the fast twin (``StrictConverter``).

    It accepts what cattrs' non-detailed code for ``tp`` behind ``_class_hook``'s mapping
    check accepts, and builds the same instance, but costs less on the reload hot path: a
    bool, int, float or str field whose value already has exactly that type (as parsers make
    them) is taken as it is, which is the first thing its hook would do, instead of calling
    the hook; the mapping check is part of the function instead of a wrapper around it. Only
    plain attrs classes are generated here; anything cattrs' generator does more for (init=False
    or converter fields, generics, Annotated or Final types, aliases as keys, dataclasses) goes
    to cattrs' code.
    """
    fields = _plain_attrs_fields(conv, tp)
    if fields is None:
        return _class_hook(conv, tp)
    allowed = frozenset(a.name for a in fields)
    names: dict[str, Any] = {
        "_cl": tp,
        "_Mapping": Mapping,
        "_reject": _reject,
        "_isfinite": math.isfinite,
        "_allowed": allowed,
        "_extra": ForbiddenExtraKeysError,
    }
    body = [
        # Parsers make plain dicts: the exact-type test spares most calls the ABC check.
        "  if type(o) is not dict and not isinstance(o, _Mapping):",
        "    raise _reject(_cl, o)",
    ]
    if getattr(conv, "forbid_extra_keys", False):
        body += [
            "  if not _allowed.issuperset(o):",
            "    raise _extra('', _cl, set(o) - _allowed)",
        ]
    required: list[str] = []
    optional = False
    for i, a in enumerate(fields):
        # Looked up now, as cattrs' generator does: a hook depends on its type alone.
        hook = conv.get_structure_hook(a.type, cache_result=False)
        names[f"_h{i}"], names[f"_t{i}"] = hook, a.type
        item = _exact_items(conv, a.type, exact)
        if hook == conv._structure_call:  # cattrs calls the type itself for these
            convert = [f"v{i} = _t{i}(v{i})"]
        elif _is_exact(a.type, hook, exact):
            convert = [f"if not ({_exact_test(f'v{i}', a.type, allow_nan)}):"]
            convert.append(f"  v{i} = _h{i}(v{i}, _t{i})")
        elif item is not None:
            # A list of scalars: the sequence hook's own comprehension, with each item's hook
            # inlined as above; anything but a list (a tuple, a wrong value) goes to the hook.
            names[f"_e{i}"], names[f"_i{i}"] = exact[item], item
            test = _exact_test("x", item, allow_nan)
            convert = [
                f"if type(v{i}) is list:",
                f"  v{i} = [x if {test} else _e{i}(x, _i{i}) for x in v{i}]",
                "else:",
                f"  v{i} = _h{i}(v{i}, _t{i})",
            ]
        else:
            convert = [f"v{i} = _h{i}(v{i}, _t{i})"]
        if a.default is attrs.NOTHING:
            body.append(f"  v{i} = o[{a.name!r}]")  # a KeyError when missing, as in cattrs
            body += [f"  {line}" for line in convert]
            required.append(f"{a.alias}=v{i}")
        else:
            if not optional:
                body.append("  res = {}")
                optional = True
            body += [f"  if {a.name!r} in o:", f"    v{i} = o[{a.name!r}]"]
            body += [f"    {line}" for line in convert]
            body.append(f"    res[{a.alias!r}] = v{i}")
    arguments = ", ".join([*required, *(["**res"] if optional else [])])
    body.append(f"  return _cl({arguments})")
    defaults = ", ".join(f"{name}={name}" for name in names)
    # A fixed name: a class made by attrs.make_class may have a name that is no identifier.
    lines = [f"def structure(o, _, *, {defaults}):", *body]
    filename = _cache_source(f"{tp.__module__}.{tp.__qualname__}", lines)
    namespace = dict(names)
    exec(compile("\n".join(lines), filename, "exec"), namespace)
    hook_fn: Hook = namespace["structure"]
    return hook_fn


def _cache_source(name: str, lines: list[str]) -> str:
    """A file name for generated code, its lines in linecache, so tracebacks show them.

    The code for one class differs between converters (``allow_nan``, ``forbid_unknown``):
    each different text gets a name of its own, as cattrs does for its generated code.
    """
    text = [f"{line}\n" for line in lines]
    for count in itertools.count(1):
        filename = f"<trioconf generated structure {name}{f'-{count}' if count > 1 else ''}>"
        entry = (sum(map(len, text)), None, text, filename)
        if linecache.cache.setdefault(filename, entry) == entry:  # new, or the same text
            return filename
    raise AssertionError("unreachable")  # itertools.count never ends


def _exact_test(name: str, tp: type, allow_nan: bool) -> str:
    """Code true when ``name`` holds a value that ``tp``'s scalar hook returns as it is."""
    if tp is float and not allow_nan:
        return f"type({name}) is float and _isfinite({name})"
    return f"type({name}) is {tp.__name__}"


def _exact_items(conv: cattrs.Converter, tp: Any, exact: Mapping[type, Hook]) -> type | None:
    """The item type of ``tp`` if it is a list of one of the ``exact`` scalars, else None.

    ``_register`` gives every such annotation ``_sequence_hook`` (nothing else registers
    hooks on a ``StrictConverter``'s converters), which builds a list of the item hook's
    results: what the generated comprehension builds too.
    """
    if not _is_sequence(tp) or _SEQUENCES[_origin(tp)] is not list:
        return None
    args = get_args(tp)
    # The item type first: looking up a class's hook here, while the hook of a class holding
    # a list of it is being built, would recurse forever on a recursive class.
    if len(args) != 1 or not isinstance(args[0], type) or args[0] not in exact:
        return None
    if not _is_exact(args[0], conv.get_structure_hook(args[0]), exact):
        return None
    item: type = args[0]
    return item


def _is_exact(tp: Any, hook: Hook, exact: Mapping[type, Hook]) -> bool:
    """Whether ``tp`` is one of the ``exact`` scalars and ``hook`` its hook."""
    return isinstance(tp, type) and exact.get(tp) is hook


def _only_units(tp: Any) -> bool:
    """Whether ``Annotated`` type ``tp`` carries nothing but a duration's unit, which only its
    hook reads (cattrs' generator reads nothing of it: the generated code may take it)."""
    return all(isinstance(m, Unit) for m in get_args(tp)[1:])


def _keyword(name: str) -> bool:
    """Whether ``name`` can be passed as a keyword argument in generated code."""
    return name.isidentifier() and not keyword.iskeyword(name)


def _plain_attrs_fields(conv: cattrs.Converter, tp: Any) -> list[Any] | None:
    """``tp``'s fields if ``_fast_class_hook`` can structure it as cattrs would, else None."""
    if not attrs.has(tp) or getattr(tp, "__parameters__", None) or get_origin(tp) is not None:
        return None
    if getattr(conv, "use_alias", False) or conv.type_overrides:
        return None
    if any(isinstance(a.type, str) for a in attrs.fields(tp)):
        attrs.resolve_types(tp)  # PEP 563 annotations, resolved as cattrs does
    fields = list(attrs.fields(tp))
    for a in fields:
        t = a.type
        if not a.init or a.converter is not None or t is None or isinstance(t, TypeVar):
            return None
        if t is Final or get_origin(t) is Final or not _keyword(a.alias):
            return None
        if get_origin(t) is Annotated and not _only_units(t):
            return None  # cattrs reads its own marks (override()) from Annotated fields
        if getattr(t, "__parameters__", None):  # a generic alias with free type variables
            return None
    return fields
