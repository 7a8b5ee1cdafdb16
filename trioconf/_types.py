"""Field types a config document spells as text: durations, decimals, UUIDs, IP addresses.

JSON, TOML and YAML have no such values, so each arrives as a string (a decimal as a number
too), and each hook accepts only what its type means: ``"90s"`` is a duration, ``90`` is not
(a bare number has no unit, unless the field declares one: ``_units``), ``"10.0.0.1"`` is an
address, ``167772161`` is not. The message of a refusal says what would be accepted. The
strict converter installs these on both of its converters (``_converter._register``), so a
reload's fast pass and the detailed pass that reports a bad document agree.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

import cattrs

from ._kinds import _describe, _kind
from ._marks import SecretStr
from ._units import has_unit, unit_of

Hook = Callable[[Any, Any], Any]


def register_types(conv: cattrs.Converter, *, allow_nan: bool, reject: type[ValueError]) -> None:
    """Install the hooks on ``conv``; ``reject`` is the converter's own rejection class, so
    that a refusal here reads like any other (and is never taken for a trioconf bug)."""

    def refuse(expected: str, obj: Any) -> ValueError:
        return reject(f"expected {expected}, got {_describe(obj)}")

    def structure_timedelta(obj: Any, cl: Any) -> dt.timedelta:
        if isinstance(obj, dt.timedelta):
            return obj
        if isinstance(obj, str):
            found = parse_duration(obj)
            if found is not None:
                return found
        if _is_number(obj) or _is_numeric_text(obj):
            # The field's author can say what a bare number means; the message says how.
            # (Text too: an environment variable's ``APP_TIMEOUT=90`` is a string.)
            raise reject(f"expected {DURATION}, got {_describe(obj)} ({NO_UNIT})")
        raise refuse(DURATION, obj)

    def unit_hook(tp: Any) -> Hook:
        # ``Annotated[timedelta, unit(...)]`` (cattrs' own Annotated hook would drop the unit).
        # Misuse (a unit on an int) is a TypeError here, when the class is first checked.
        found = unit_of(tp)
        assert found is not None  # has_unit(tp) chose this factory
        size, expected = found.size, f"a number of {found.words} or {DURATION}"

        def structure_in_units(obj: Any, cl: Any) -> dt.timedelta:
            if _is_number(obj):
                try:
                    return obj * size  # type: ignore[no-any-return]
                except (OverflowError, ValueError):  # NaN, infinity, past timedelta.max
                    finite = f"a finite number of {found.words}, up to timedelta.max"
                    raise refuse(finite, obj) from None
            if isinstance(obj, dt.timedelta):
                return obj
            if isinstance(obj, str):
                parsed = parse_duration(obj)
                if parsed is not None:
                    return parsed
            raise refuse(expected, obj)

        return structure_in_units

    def structure_decimal(obj: Any, cl: Any) -> decimal.Decimal:
        if isinstance(obj, bool):
            raise refuse(DECIMAL, obj)
        if isinstance(obj, decimal.Decimal):
            value = obj
        elif isinstance(obj, int):
            value = decimal.Decimal(obj)
        elif isinstance(obj, float):
            # A file's number arrives as a Decimal of its text (``_exact``); a float still here
            # (an Any-typed layer, a user's source) is taken by its shortest repr: the number
            # as written, up to a float's 17 significant digits.
            value = decimal.Decimal(repr(obj))
        elif isinstance(obj, str):
            try:
                value = decimal.Decimal(obj.strip())
            except decimal.InvalidOperation:
                raise refuse(DECIMAL, obj) from None
        else:
            raise refuse(DECIMAL, obj)
        if not (allow_nan or value.is_finite()):
            raise refuse("a finite decimal (NaN and infinity need allow_nan=True)", obj)
        return value

    def structure_uuid(obj: Any, cl: Any) -> uuid.UUID:
        if isinstance(obj, uuid.UUID):
            return obj
        if isinstance(obj, str):
            try:
                return uuid.UUID(obj)
            except ValueError:
                pass
        raise refuse("a UUID string ('12345678-1234-5678-1234-567812345678')", obj)

    def ip_hook(kind: type[Any], example: str) -> Hook:
        def structure_ip(obj: Any, cl: Any) -> Any:
            if isinstance(obj, kind):
                return obj
            if isinstance(obj, str):
                try:
                    return kind(obj.strip())
                except ValueError as exc:
                    # ipaddress says what is wrong ("has host bits set", an octet too large).
                    raise reject(f"expected {_article(kind)} ({example}): {exc}") from None
            raise refuse(f"{_article(kind)} string ({example})", obj)

        return structure_ip

    def structure_secret(obj: Any, cl: Any) -> SecretStr:
        if isinstance(obj, SecretStr):
            return obj
        if isinstance(obj, str):
            return SecretStr(obj)
        # Only the kind: the value may be the secret itself (a number-only password).
        raise reject(f"expected a string, got {_kind(obj)}")

    conv.register_structure_hook(SecretStr, structure_secret)
    conv.register_unstructure_hook(SecretStr, lambda value: value)  # diffs compare it as it is
    conv.register_structure_hook(dt.timedelta, structure_timedelta)
    conv.register_structure_hook_factory(has_unit, unit_hook)
    conv.register_structure_hook(decimal.Decimal, structure_decimal)
    conv.register_structure_hook(uuid.UUID, structure_uuid)
    for kind, example in IP_TYPES.items():
        conv.register_structure_hook(kind, ip_hook(kind, example))


DURATION = "a duration such as '90s', '5m', '1h30m', '250ms' or ISO 8601 'PT1H30M'"
NO_UNIT = "a bare number needs the field's unit: Annotated[timedelta, trioconf.unit('s')]"
DECIMAL = "a decimal number (a string such as '19.99', or a number)"

IP_TYPES: dict[type[Any], str] = {
    ipaddress.IPv4Address: "'10.0.0.1'",
    ipaddress.IPv6Address: "'2001:db8::1'",
    ipaddress.IPv4Network: "'10.0.0.0/8'",
    ipaddress.IPv6Network: "'2001:db8::/32'",
    ipaddress.IPv4Interface: "'10.0.0.1/8'",
    ipaddress.IPv6Interface: "'2001:db8::1/64'",
}


def _is_number(obj: Any) -> bool:
    return isinstance(obj, int | float) and not isinstance(obj, bool)


def _is_numeric_text(obj: Any) -> bool:
    if not isinstance(obj, str):
        return False
    try:
        float(obj)
    except ValueError:
        return False
    return True


def _article(kind: type[Any]) -> str:
    name = kind.__name__
    return f"an {name}" if name[0] in "AEIOU" else f"a {name}"


_UNITS = {
    "w": dt.timedelta(weeks=1),
    "d": dt.timedelta(days=1),
    "h": dt.timedelta(hours=1),
    "m": dt.timedelta(minutes=1),
    "s": dt.timedelta(seconds=1),
    "ms": dt.timedelta(milliseconds=1),
    "us": dt.timedelta(microseconds=1),
}
_NUMBER = r"\d+(?:\.\d+)?"
_SHORT = re.compile(rf"(?:({_NUMBER})(w|d|h|ms|us|m|s))+")
_SHORT_PART = re.compile(rf"({_NUMBER})(w|d|h|ms|us|m|s)")
# ISO 8601 durations without years and months, whose length depends on the calendar.
_ISO = re.compile(
    rf"P(?:({_NUMBER})W)?(?:({_NUMBER})D)?(?:T(?:({_NUMBER})H)?(?:({_NUMBER})M)?(?:({_NUMBER})S)?)?"
)


def parse_duration(text: str) -> dt.timedelta | None:
    """``text`` as a duration: Go-style units (``1h30m``, ``90s``, ``250ms``, ``1.5h``; a
    leading ``-`` for a negative one) or an ISO 8601 duration (``PT1H30M``, ``P2D``, ``P1W``);
    None if it is neither. Years and months are refused: their length depends on the date."""
    body = text.strip()
    sign = 1
    if body.startswith("-"):
        sign, body = -1, body[1:]
    if not body:
        return None
    total: dt.timedelta | None = None
    try:
        if _SHORT.fullmatch(body):
            parts = _SHORT_PART.findall(body)
            total = sum((float(n) * _UNITS[u] for n, u in parts), dt.timedelta())
        else:
            iso = _ISO.fullmatch(body.upper())
            if iso and body.upper() not in ("P", "PT") and not body.upper().endswith("T"):
                weeks, days, hours, minutes, seconds = (
                    float(g) if g else 0.0 for g in iso.groups()
                )
                total = dt.timedelta(
                    weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds
                )
    except OverflowError:
        # "99999999999w" is past timedelta.max: no duration, refused like any other text
        # (a bare OverflowError would escape the loader as a bug instead of a field error).
        return None
    if total is None or not math.isfinite(total.total_seconds()):
        return None
    return sign * total
