"""Field types spelled as text: durations, decimals, UUIDs and IP addresses (issue 10, "Field
types and hooks"), through every format and the environment, strict, and the same on the
reload's fast pass as on the detailed one."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest

import trioconf
from trioconf._converter import make_converter
from trioconf._types import parse_duration


@attrs.frozen
class Service:
    timeout: dt.timedelta = dt.timedelta(seconds=30)
    price: decimal.Decimal = decimal.Decimal(0)
    id: uuid.UUID | None = None
    bind: ipaddress.IPv4Address | None = None
    allowed: list[ipaddress.IPv4Network] = attrs.Factory(list)
    v6: ipaddress.IPv6Interface | None = None


ID = "12345678-1234-5678-1234-567812345678"
EXPECTED = Service(
    timeout=dt.timedelta(hours=1, minutes=30),
    price=decimal.Decimal("19.99"),
    id=uuid.UUID(ID),
    bind=ipaddress.IPv4Address("10.0.0.5"),
    allowed=[ipaddress.IPv4Network("10.0.0.0/8"), ipaddress.IPv4Network("192.168.0.0/16")],
    v6=ipaddress.IPv6Interface("2001:db8::1/64"),
)
VALUES = {
    "timeout": "1h30m",
    "price": "19.99",
    "id": ID,
    "bind": "10.0.0.5",
    "allowed": ["10.0.0.0/8", "192.168.0.0/16"],
    "v6": "2001:db8::1/64",
}


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_every_format_gives_the_types(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"service.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(VALUES))
    elif fmt == "toml":
        path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in VALUES.items()) + "\n")
    else:
        path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in VALUES.items()) + "\n")
    assert trioconf.load(Service, path) == EXPECTED


def test_the_environment_gives_the_types() -> None:
    environ = {
        f"SVC_{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in VALUES.items()
    }
    assert trioconf.load(Service, env_prefix="SVC_", environ=environ) == EXPECTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", dt.timedelta(seconds=90)),
        ("5m", dt.timedelta(minutes=5)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5h", dt.timedelta(minutes=90)),
        ("250ms", dt.timedelta(milliseconds=250)),
        ("2d12h", dt.timedelta(days=2, hours=12)),
        ("1w", dt.timedelta(weeks=1)),
        ("10us", dt.timedelta(microseconds=10)),
        ("-5m", dt.timedelta(minutes=-5)),
        (" 30s ", dt.timedelta(seconds=30)),
        ("PT1H30M", dt.timedelta(hours=1, minutes=30)),
        ("pt90s", dt.timedelta(seconds=90)),
        ("P2D", dt.timedelta(days=2)),
        ("P1DT0.5S", dt.timedelta(days=1, milliseconds=500)),
        ("P1W", dt.timedelta(weeks=1)),
        # Refused: no unit, units of the calendar, empty parts, spaces inside, upper case.
        ("90", None),
        ("1y", None),
        ("P1M", None),
        ("P1Y", None),
        ("P", None),
        ("PT", None),
        ("P1DT", None),
        ("", None),
        ("-", None),
        ("5 m", None),
        ("1H30M", None),
        ("1h 30m", None),
    ],
)
def test_durations(text: str, expected: dt.timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("timeout", 90, "a duration such as '90s'"),  # a bare number has no unit
        ("timeout", "1y", "a duration"),
        ("price", "abc", "a decimal number"),
        ("price", True, "a decimal number"),
        ("price", "NaN", "a finite decimal"),
        ("id", 5, "a UUID string"),
        ("id", "not-a-uuid", "a UUID string"),
        ("bind", 167772161, "an IPv4Address string"),  # no integers for addresses
        ("bind", "300.1.1.1", "Octet 300 (> 255) not permitted"),
        ("allowed", ["192.168.1.1/16"], "has host bits set"),
        ("v6", "10.0.0.1/8", "an IPv6Interface"),
    ],
)
def test_refusals_name_the_field_file_and_line(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    path = tmp_path / "service.json"
    path.write_text(json.dumps({field: value}))
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Service, path)
    (error,) = info.value.errors
    assert error.path.split("[")[0] == field
    assert error.source == str(path)
    assert error.line == 1
    assert says in error.message


def test_decimals_keep_the_number_as_written() -> None:
    converter = make_converter()
    assert converter.structure(0.1, decimal.Decimal) == decimal.Decimal("0.1")  # not 0.1000...55
    assert converter.structure(7, decimal.Decimal) == decimal.Decimal(7)
    assert converter.structure("1e3", decimal.Decimal) == decimal.Decimal("1e3")
    nan = make_converter(allow_nan=True).structure("NaN", decimal.Decimal)
    assert nan.is_nan()


VALUES_TO_TRY: list[tuple[type[Any], object]] = [
    (dt.timedelta, "90s"),
    (dt.timedelta, 90),
    (dt.timedelta, "1y"),
    (decimal.Decimal, "19.99"),
    (decimal.Decimal, 19.99),
    (decimal.Decimal, "x"),
    (decimal.Decimal, False),
    (uuid.UUID, ID),
    (uuid.UUID, 5),
    (ipaddress.IPv4Address, "10.0.0.1"),
    (ipaddress.IPv4Address, "10.0.0.256"),
    (ipaddress.IPv6Network, "2001:db8::/32"),
    (ipaddress.IPv4Network, "10.0.0.1/8"),
]


@pytest.mark.parametrize(("tp", "value"), VALUES_TO_TRY)
def test_the_fast_pass_agrees_with_the_detailed_one(tp: type[Any], value: object) -> None:
    converter = make_converter()

    def outcome(structure: Any) -> object:
        try:
            return structure(value, tp)
        except Exception:
            return "refused"

    assert outcome(converter.fast.structure) == outcome(converter.structure_detailed)
