"""Field types spelled as text: durations, decimals, UUIDs and IP addresses (issue 10, "Field
types and hooks"), through every format and the environment, strict, and the same on the
reload's fast pass as on the detailed one."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import attrs
import pytest
import trio
from support import PATIENCE, write_atomic

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
        # Past timedelta.max: no duration (not an OverflowError escaping the loader).
        ("99999999999w", None),
        ("P99999999999D", None),
    ],
)
def test_durations(text: str, expected: dt.timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("timeout", 90, "a duration such as '90s'"),  # a bare number has no unit
        ("timeout", "1y", "a duration"),
        ("timeout", "99999999999w", "a duration"),
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


VALUES_TO_TRY: list[tuple[Any, object]] = [
    (dt.timedelta, "90s"),
    (dt.timedelta, 90),
    (dt.timedelta, "1y"),
    (Annotated[dt.timedelta, trioconf.unit("s")], 90),
    (Annotated[dt.timedelta, trioconf.unit("s")], 1.5),
    (Annotated[dt.timedelta, trioconf.unit("s")], "90s"),
    (Annotated[dt.timedelta, trioconf.unit("s")], True),
    (Annotated[dt.timedelta, trioconf.unit("s")], "90"),
    (Annotated[dt.timedelta, trioconf.unit("h")], 10**9),
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
def test_the_fast_pass_agrees_with_the_detailed_one(tp: Any, value: object) -> None:
    converter = make_converter()

    def outcome(structure: Any) -> object:
        try:
            return structure(value, tp)
        except Exception:
            return "refused"

    assert outcome(converter.fast.structure) == outcome(converter.structure_detailed)


# --- durations whose field declares its unit ------------------------------------------------

Seconds = Annotated[dt.timedelta, trioconf.unit("s")]


@attrs.frozen
class Timeouts:
    connect: Seconds = dt.timedelta(0)
    read: Annotated[dt.timedelta, trioconf.unit("ms")] | None = None
    backoff: list[Annotated[dt.timedelta, trioconf.unit("m")]] = attrs.Factory(list)
    total: dt.timedelta = dt.timedelta(0)  # no unit: a bare number stays refused


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_a_bare_number_is_a_number_of_the_fields_unit(tmp_path: Path, fmt: str) -> None:
    values = {"connect": 90, "read": 1.5, "backoff": [1, "30s", 0.5], "total": "PT2M"}
    path = tmp_path / f"timeouts.{fmt}"
    if fmt == "toml":
        path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items()) + "\n")
    else:  # JSON is YAML
        path.write_text(json.dumps(values))
    assert trioconf.load(Timeouts, path) == Timeouts(
        connect=dt.timedelta(seconds=90),
        read=dt.timedelta(microseconds=1500),
        backoff=[dt.timedelta(minutes=1), dt.timedelta(seconds=30), dt.timedelta(seconds=30)],
        total=dt.timedelta(minutes=2),
    )


def test_the_environment_gives_a_number_of_the_fields_unit() -> None:
    environ = {"APP_CONNECT": "90", "APP_READ": "2.5", "APP_BACKOFF": '[2, "1h"]'}
    assert trioconf.load(Timeouts, env_prefix="APP_", environ=environ) == Timeouts(
        connect=dt.timedelta(seconds=90),
        read=dt.timedelta(microseconds=2500),
        backoff=[dt.timedelta(minutes=2), dt.timedelta(hours=1)],
    )
    environ = {"APP_CONNECT": "2m", "APP_READ": "PT1S"}  # duration text still reads as written
    config = trioconf.load(Timeouts, env_prefix="APP_", environ=environ)
    assert (config.connect, config.read) == (dt.timedelta(minutes=2), dt.timedelta(seconds=1))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("connect", True, "expected a number of seconds or a duration such as '90s'"),
        ("connect", "90", "got a string '90'"),  # a string is a duration string, or nothing
        ("connect", 1e300, "a finite number of seconds, up to timedelta.max"),
        ("read", False, "a number of milliseconds or a duration"),
        ("backoff", [1, None], "a number of minutes"),
        ("total", 90, "(a bare number needs the field's unit: Annotated[timedelta,"),
        ("total", 1.5, "got a float 1.5 (a bare number needs the field's unit"),
    ],
)
def test_what_a_duration_field_with_a_unit_refuses(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    path = tmp_path / "timeouts.json"
    path.write_text(json.dumps({field: value}))
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Timeouts, path)
    (error,) = info.value.errors
    assert error.path.split("[")[0] == field
    assert error.line == 1
    assert says in error.message


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"APP_CONNECT": "true"}, "a number of seconds or a duration"),
        ({"APP_CONNECT": "nan"}, "a finite number of seconds"),
        ({"APP_TOTAL": "90"}, "got a string '90' (a bare number needs the field's unit"),
    ],
)
def test_what_the_environment_may_not_give_a_duration(environ: dict[str, str], says: str) -> None:
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Timeouts, env_prefix="APP_", environ=environ)
    (error,) = info.value.errors
    assert error.source == f"env {next(iter(environ))}"
    assert says in error.message


def test_a_unit_is_checked_where_it_is_written() -> None:
    assert repr(trioconf.unit("ms")) == "trioconf.unit('ms')"
    with pytest.raises(ValueError, match="unknown duration unit 'sec': one of 'us', 'ms', 's'"):
        trioconf.unit("sec")
    with pytest.raises(TypeError, match="unit name such as 's', not 1"):
        trioconf.unit(1)  # type: ignore[arg-type]


@attrs.frozen
class UnitOnAnInt:
    port: int | Annotated[int, trioconf.unit("s")] = 0


@attrs.frozen
class UnitOutsideOptional:
    timeout: Annotated[dt.timedelta | None, trioconf.unit("s")] = None


@attrs.frozen
class TwoUnits:
    timeout: Annotated[dt.timedelta, trioconf.unit("s"), trioconf.unit("ms")] = dt.timedelta(0)


@pytest.mark.parametrize(
    ("cls", "says"),
    [
        (UnitOnAnInt, "trioconf.unit('s') is for timedelta fields, not int"),
        (UnitOutsideOptional, "trioconf.unit('s') is for timedelta fields, not "),
        (
            TwoUnits,
            "Annotated[timedelta, ...] declares two units "
            "(trioconf.unit('s'), trioconf.unit('ms'))",
        ),
    ],
)
async def test_a_misplaced_unit_is_refused_before_anything_is_read(
    tmp_path: Path, cls: type[Any], says: str
) -> None:
    missing = tmp_path / "missing.toml"  # never read: the class is refused first
    with pytest.raises(TypeError, match=re.escape(f"{cls.__name__} cannot be loaded: {says}")):
        trioconf.load(cls, missing)
    with pytest.raises(TypeError, match=re.escape(says)):
        async with trioconf.open_reloader(cls, missing):
            pass  # pragma: no cover


def test_a_class_with_units_gets_the_fast_generated_code() -> None:
    """The unit is read by the field's hook alone: the class keeps the generated fast code."""
    hook = make_converter().fast.get_structure_hook(Timeouts)
    assert hook.__code__.co_filename.startswith("<trioconf generated")


async def test_a_reload_reads_a_new_number_in_the_fields_unit(tmp_path: Path) -> None:
    path = tmp_path / "timeouts.toml"
    path.write_text("connect = 90\n")
    async with trioconf.open_reloader(Timeouts, path, debounce=0) as live:
        assert live.current.connect == dt.timedelta(seconds=90)
        write_atomic(path, "connect = 2.5\n")
        with trio.fail_after(PATIENCE):
            config = await live.wait_value(lambda c: c.connect != dt.timedelta(seconds=90))
        assert config.connect == dt.timedelta(seconds=2.5)
        assert live.last_error is None


# --- decimals as written ----------------------------------------------------------------------


@attrs.frozen
class Priced:
    price: decimal.Decimal


@attrs.frozen
class Prices:
    price: decimal.Decimal = decimal.Decimal(0)
    tiers: list[decimal.Decimal] = attrs.Factory(list)
    table: dict[str, decimal.Decimal] = attrs.Factory(dict)
    items: dict[str, Priced] = attrs.Factory(dict)
    either: float | decimal.Decimal = 0.0  # a float is a float's: the exact type first
    ratio: float = 0.0


# More digits than a float keeps: through a float, each would come out rounded.
LONG = "19.990000000000000001"
TINY = "-1.00000000000000000000001E-30"
DOCUMENTS = {
    "toml": f"price = {LONG}\ntiers = [0.1, {TINY}, 3, '2.50']\n"
    "table.a = 1_000.000_000_000_000_000_000_1\n"
    f"either = {LONG}\nratio = {LONG}\n\n[items.x]\nprice = {LONG}\n",
    "json": f'{{"price": {LONG}, "tiers": [0.1, {TINY}, 3, "2.50"], "table": {{"a": '
    f'1000.0000000000000000001}}, "either": {LONG}, "ratio": {LONG}, "items": {{"x": {{"price"'
    f": {LONG}}}}}}}",
    "yaml": f"price: {LONG}\ntiers:\n  - 0.1\n  - {TINY}\n  - 3\n  - '2.50'\ntable: {{'a': "
    f"1000.0000000000000000001}}\neither: {LONG}\nratio: {LONG}\nitems:\n  x:\n    price: {LONG}\n",
}


@pytest.mark.parametrize("fmt", ["json", "toml", "yaml"])
def test_decimals_keep_every_digit_as_written(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"prices.{fmt}"
    path.write_text(DOCUMENTS[fmt])
    config = trioconf.load(Prices, path)
    exact = decimal.Decimal(LONG)
    assert config.price == exact
    assert config.tiers == [
        decimal.Decimal("0.1"),
        decimal.Decimal(TINY),
        3,
        decimal.Decimal("2.50"),
    ]
    assert config.table == {"a": decimal.Decimal("1000.0000000000000000001")}
    assert config.items == {"x": Priced(exact)}
    assert (config.either, config.ratio) == (float(LONG), float(LONG))
    assert type(config.either) is float  # the union's float took it, as before


async def test_decimals_as_written_in_folders_and_on_reload(tmp_path: Path) -> None:
    folder = tmp_path / "items.d"
    folder.mkdir()
    (folder / "x.toml").write_text(f"price = {LONG}\n")
    path = tmp_path / "prices.json"
    path.write_text(f'{{"price": {LONG}}}')
    source = trioconf.Directory(folder, key="items")
    async with trioconf.open_reloader(Prices, path, source, debounce=0) as live:
        assert live.current.price == decimal.Decimal(LONG)
        assert live.current.items == {"x": Priced(decimal.Decimal(LONG))}
        write_atomic(path, '{"price": 0.30000000000000000001}')
        with trio.fail_after(PATIENCE):
            config = await live.wait_value(lambda c: c.price != decimal.Decimal(LONG))
        assert config.price == decimal.Decimal("0.30000000000000000001")


def test_a_class_without_decimals_is_not_walked_for_them() -> None:
    from trioconf._exact import plan

    assert plan(Service) is not None
    assert plan(Timeouts) is None
    assert plan(Prices) is not None
