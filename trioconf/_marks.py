"""What a config class says about its fields beyond their types: secret, restart-only.

``trioconf.field(secret=True, restart_only=True, ...)`` is ``attrs.field`` with trioconf's marks
in its metadata; ``SecretStr`` is a value that is secret by its type. The display code (errors,
``watch``, ``explain``) asks ``secret_at(cls, path)`` before it shows a value, and the updater
asks ``restart_only_paths(cls)`` which values a running service keeps until it restarts.

Marks are found by walking the class's annotations along a path: attrs and dataclass fields by
name, mapping values under any key, sequence items under any index, every arm of a union. A
mark on a field covers everything below it (a ``dict[str, str]`` marked secret hides every
value in it). The walk depends only on the class and the path, so its answers are cached.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Final, get_args, get_origin

import attrs

from ._kinds import _is_class, _is_mapping, _is_sequence, _is_tuple, _is_union

#: What is shown instead of a secret value, everywhere trioconf displays one.
MASK: Final = "**********"

_KEY: Final = "trioconf"


class SecretStr:
    """A string that does not show itself: ``repr``, ``str`` and f-strings print ``**********``.

    Read the value with :meth:`get_secret_value`. Two ``SecretStr`` are equal when their values
    are (so a rotated password is still a change), and one is never equal to a plain ``str``.
    It is deliberately not a ``str`` subclass: a subclass would leak through ``str()``,
    ``"%s"``, ``json.dumps`` and every API that takes a string. A field of this type is secret
    wherever trioconf displays values (errors, ``watch``, ``explain``), as if it were marked
    with ``trioconf.field(secret=True)``.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"SecretStr takes a str, not {type(value).__name__}")
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretStr):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((SecretStr, self._value))

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"SecretStr({MASK!r})"

    def __str__(self) -> str:
        return MASK


@attrs.frozen
class Marks:
    secret: bool = False
    restart_only: bool = False


_NONE: Final = Marks()


def field(
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    secret: bool = False,
    restart_only: bool = False,
    **kwargs: Any,
) -> Any:
    """``attrs.field`` with trioconf's marks; every other keyword is passed to ``attrs.field``.

    ``secret=True``: the value is never displayed by trioconf (errors, log lines, ``watch``,
    ``check``, :meth:`Live.explain`), and ``repr=False`` is set so the class's own repr leaves
    it out; a ``str`` field marked secret also accepts the ``<PREFIX><FIELD>_FILE`` environment
    variable. ``restart_only=True``: a running reloader keeps the value it started with; a
    change on disk waits in :attr:`Live.restart_pending` until the service restarts.
    """
    if not isinstance(secret, bool) or not isinstance(restart_only, bool):
        raise TypeError("secret= and restart_only= take True or False")
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[_KEY] = Marks(secret=secret, restart_only=restart_only)
    if secret:
        if kwargs.get("repr") not in (None, False):
            raise ValueError("a secret field cannot set repr=: its value must not be shown")
        kwargs["repr"] = False
    return attrs.field(default=default, factory=factory, metadata=metadata, **kwargs)


def marks_of(attribute: Any) -> Marks:
    """The marks of one attrs attribute or dataclass field (none when it has none)."""
    metadata = getattr(attribute, "metadata", None) or {}
    found = metadata.get(_KEY)
    return found if isinstance(found, Marks) else _NONE


def fields_of(tp: Any) -> dict[str, tuple[Any, Marks]]:
    """A class's fields by config key: (resolved annotation, marks)."""
    return _fields_of(tp)


def field_types(tp: Any) -> dict[str, Any]:
    """A class's fields by config key: the resolved annotation (Annotated kept), or the raw
    one where annotations do not resolve (the converter reports those)."""
    return {name: annotation for name, (annotation, _) in _fields_of(tp).items()}


@functools.cache
def _fields_of(tp: type) -> dict[str, tuple[Any, Marks]]:
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception:  # unresolvable forward references: the converter reports those
        hints = {}
    fields: Any = attrs.fields(tp) if attrs.has(tp) else dataclasses.fields(tp)
    return {f.name: (hints.get(f.name, f.type), marks_of(f)) for f in fields}


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _below(tp: Any, part: Hashable) -> list[tuple[Any, Marks]]:
    """The annotations (and field marks) that the value at ``part`` under a ``tp`` may have."""
    tp = _strip(tp)
    if _is_union(tp):
        return [found for arm in get_args(tp) for found in _below(arm, part)]
    if _is_class(tp):
        entry = _fields_of(tp).get(str(part))
        return [entry] if entry is not None else []
    args = get_args(tp)
    if _is_mapping(tp):
        return [(args[1] if len(args) == 2 else Any, _NONE)]
    if _is_sequence(tp):
        return [(args[0] if args else Any, _NONE)]
    if _is_tuple(tp) and isinstance(part, int) and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return [(args[0], _NONE)]
        return [(args[part], _NONE)] if 0 <= part < len(args) else []
    return []


def _is_secret_type(tp: Any) -> bool:
    tp = _strip(tp)
    if _is_union(tp):
        return any(_is_secret_type(arm) for arm in get_args(tp))
    return tp is SecretStr


@functools.lru_cache(maxsize=4096)
def _secret_at(cls: Any, path: tuple[Hashable, ...]) -> bool:
    current = [cls]
    for part in path:
        if any(_is_secret_type(tp) for tp in current):
            return True
        below = [found for tp in current for found in _below(tp, part)]
        if any(marks.secret for _, marks in below):
            return True
        if not below:
            # A path the class does not explain (a mapping key with a dot in it, read from a
            # dotted string): mask when anything below could be secret. Unsure means hidden.
            return any(_has_secrets(tp, frozenset()) for tp in current)
        current = [tp for tp, _ in below]
    return any(_is_secret_type(tp) for tp in current)


def secret_at(cls: Any, path: tuple[Hashable, ...] | str) -> bool:
    """Whether the value at ``path`` (a tuple of keys and indexes, or dotted) is secret, or lies
    inside a secret value, in a config of class ``cls``."""
    if isinstance(path, str):  # "servers[0].password", as errors and ``changed`` spell it
        steps = path.replace("[", ".").replace("]", "").split(".")
        path = tuple(int(p) if p.isdigit() else p for p in steps if p)
    try:
        return _secret_at(cls, path)
    except TypeError:  # an unhashable annotation somewhere: nothing to cache, walk again
        return _secret_at.__wrapped__(cls, path)


def has_secrets(cls: Any) -> bool:
    """Whether any value of a ``cls`` can be secret (so display code can skip the walk)."""
    return _has_secrets(cls, frozenset())


def _has_secrets(tp: Any, seen: frozenset[Any]) -> bool:
    tp = _strip(tp)
    if _is_secret_type(tp):
        return True
    if _is_class(tp):
        if tp in seen:
            return False
        return any(
            marks.secret or _has_secrets(inner, seen | {tp})
            for inner, marks in _fields_of(tp).values()
        )
    return any(_has_secrets(arg, seen) for arg in get_args(tp) if arg is not Ellipsis)


def restart_only_paths(cls: Any) -> tuple[tuple[str | None, ...], ...]:
    """The paths of the fields marked ``restart_only``, as tuples of keys where ``None`` stands
    for any key or index (a field inside the entries of a mapping or a list)."""
    found: list[tuple[str | None, ...]] = []
    _collect_restart_only(cls, (), frozenset(), found)
    return tuple(found)


def _collect_restart_only(
    tp: Any, prefix: tuple[str | None, ...], seen: frozenset[Any], out: list[tuple[str | None, ...]]
) -> None:
    tp = _strip(tp)
    if _is_class(tp):
        if tp in seen:
            return
        for name, (inner, marks) in _fields_of(tp).items():
            if marks.restart_only:
                out.append((*prefix, name))
            else:
                _collect_restart_only(inner, (*prefix, name), seen | {tp}, out)
    elif _is_union(tp):
        for arm in get_args(tp):
            _collect_restart_only(arm, prefix, seen, out)
    elif _is_mapping(tp) or _is_sequence(tp) or _is_tuple(tp):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        for arg in args[-1:] if _is_mapping(tp) else args:
            _collect_restart_only(arg, (*prefix, None), seen, out)
