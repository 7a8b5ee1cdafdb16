"""A duration field's unit: ``Annotated[timedelta, trioconf.unit("s")]`` reads ``90`` as 90 s.

A bare number has no unit, so a plain ``timedelta`` field refuses one (``_types``). A field
that declares its unit takes a number as that many units, and still takes a duration string.
The marker is only metadata: the converter (``_types.register_types``) and the env layer
(``_env``) look for it in a field's ``Annotated`` type, so fields without it never reach
this code.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, get_args, get_origin

import attrs

# The suffixes a duration string knows (``_types._UNITS``), with the words messages use.
_SIZES: Final[dict[str, tuple[dt.timedelta, str]]] = {
    "us": (dt.timedelta(microseconds=1), "microseconds"),
    "ms": (dt.timedelta(milliseconds=1), "milliseconds"),
    "s": (dt.timedelta(seconds=1), "seconds"),
    "m": (dt.timedelta(minutes=1), "minutes"),
    "h": (dt.timedelta(hours=1), "hours"),
    "d": (dt.timedelta(days=1), "days"),
    "w": (dt.timedelta(weeks=1), "weeks"),
}


@attrs.frozen(repr=False)
class Unit:
    """What ``trioconf.unit(name)`` returns: the unit of a bare number in a duration field."""

    name: str
    size: dt.timedelta
    words: str  # "seconds": how messages say it

    def __repr__(self) -> str:
        return f"trioconf.unit({self.name!r})"


class MisplacedUnit(TypeError):
    """A ``unit`` where it means nothing; ``check_structurable`` says so before anything runs."""


def unit(name: str) -> Unit:
    """The unit of a ``timedelta`` field, for ``Annotated``: a bare number is that many units.

    ``timeout: Annotated[timedelta, trioconf.unit("s")]`` reads ``timeout = 90`` as 90
    seconds and ``timeout = 1.5`` as 1.5 seconds (from the environment too:
    ``APP_TIMEOUT=90``); a duration string (``"2m"``, ``"PT2M"``) still reads as written, and
    a boolean is refused. ``name`` is one of ``"us"``, ``"ms"``, ``"s"``, ``"m"``, ``"h"``,
    ``"d"``, ``"w"`` (anything else is a ``ValueError``, raised here). A plain ``timedelta``
    field refuses a bare number.
    """
    if not isinstance(name, str):
        msg = f"unit() takes a unit name such as 's', not {name!r}"
        raise TypeError(msg)
    found = _SIZES.get(name)
    if found is None:
        known = ", ".join(repr(n) for n in _SIZES)
        msg = f"unknown duration unit {name!r}: one of {known}"
        raise ValueError(msg)
    return Unit(name, *found)


def has_unit(tp: Any) -> bool:
    """Whether ``tp`` is an ``Annotated`` type carrying a ``unit`` (the converter's predicate:
    cheap, and false for every other annotation)."""
    return get_origin(tp) is Annotated and any(isinstance(m, Unit) for m in get_args(tp)[1:])


def unit_of(tp: Any) -> Unit | None:
    """The unit ``tp`` declares (``Annotated[timedelta, unit(...)]``), None if it has none.

    A unit anywhere else is a usage mistake, a ``TypeError``: on another type (``int``, or
    ``timedelta | None``, whose unit goes inside: ``Annotated[timedelta, unit("s")] | None``),
    or two of them on one type.
    """
    if not has_unit(tp):
        return None
    base, *metadata = get_args(tp)
    units = [m for m in metadata if isinstance(m, Unit)]
    if base is not dt.timedelta:
        msg = (
            f"{units[0]!r} is for timedelta fields, not {_name(base)}: write "
            f"Annotated[timedelta, {units[0]!r}] (inside Optional[...] or list[...] if need be)"
        )
        raise MisplacedUnit(msg)
    if len(units) > 1:
        msg = f"Annotated[timedelta, ...] declares two units ({units[0]!r}, {units[1]!r})"
        raise MisplacedUnit(msg)
    found: Unit = units[0]
    return found


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)
