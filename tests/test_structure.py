"""Tests for trioconf._structure: the strict converter and its FieldErrors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

import attrs
import pytest
from attrs import validators as v
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trioconf import _converter
from trioconf._converter import make_converter, unstructure
from trioconf._errors import FieldError, ValidationError
from trioconf._formats import parse
from trioconf._layer import Layer
from trioconf._merge import merge
from trioconf._structure import structure


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Server:
    port: int
    host: str = "localhost"


@attrs.frozen
class Tenant:
    limit: int


@dataclasses.dataclass(frozen=True)
class Database:
    url: str
    pool: int = 5


@attrs.frozen
class App:
    server: Server
    servers: list[Server] = attrs.Factory(list)
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    db: Database | None = None
    debug: bool = False
    ratio: float = 1.0
    name: str = "app"


def errors_of(cls: type, *docs: dict[str, Any], **options: bool) -> list[FieldError]:
    layers = [Layer(f"layer{i}.toml", doc) for i, doc in enumerate(docs)]
    with pytest.raises(ValidationError) as info:
        structure(make_converter(**options), cls, merge(layers))
    return list(info.value.errors)


def load(cls: type, doc: dict[str, Any], **options: bool) -> Any:
    return structure(make_converter(**options), cls, merge([Layer("doc", doc)]))


def one(cls: type, doc: dict[str, Any], **options: bool) -> FieldError:
    [error] = errors_of(cls, doc, **options)
    return error


# ---------------------------------------------------------------------------------------------
# Strictness, one type at a time: a wrapper class with a single field ``v``.


def holder(tp: Any) -> type:
    return attrs.make_class("Holder", {"v": attrs.field(type=tp)})


ACCEPTED = [
    (bool, True, True),
    (bool, False, False),
    (int, 80, 80),
    (int, -(2**70), -(2**70)),
    (float, 1.5, 1.5),
    (float, 2, 2.0),
    (str, "x", "x"),
    (Path, "/etc/app.toml", Path("/etc/app.toml")),
    (Color, "red", Color.RED),
    (Level, 2, Level.HIGH),
    (Literal["a", "b"], "b", "b"),
    (Literal[1, 2], 2, 2),
    (Optional[int], None, None),  # noqa: UP045 -- typing.Union, not types.UnionType
    (int | None, 3, 3),
    (int | str, 3, 3),
    (int | str, "3", "3"),
    (int | float, 3, 3),
    (float | int, 3, 3),
    (list[int], [1, 2], [1, 2]),
    (Sequence[int], [1, 2], [1, 2]),
    (tuple[int, ...], [1, 2], (1, 2)),
    (tuple[int, str], [1, "a"], (1, "a")),
    (set[int], [1, 2, 2], {1, 2}),
    (frozenset[str], ["a"], frozenset({"a"})),
    (dict[str, int], {"a": 1}, {"a": 1}),
    (Mapping[str, int], {"a": 1}, {"a": 1}),
    (dt.datetime, dt.datetime(2024, 1, 2, 3, 4), dt.datetime(2024, 1, 2, 3, 4)),
    (dt.datetime, "2024-01-02T03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5)),
    (dt.datetime, "2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
    (dt.date, dt.date(2024, 1, 2), dt.date(2024, 1, 2)),
    (dt.date, "2024-01-02", dt.date(2024, 1, 2)),
    (dt.time, dt.time(3, 4), dt.time(3, 4)),
    (dt.time, "03:04:05", dt.time(3, 4, 5)),
    (Any, {"x": [1]}, {"x": [1]}),
]


@pytest.mark.parametrize(("tp", "value", "expected"), ACCEPTED)
def test_accepts(tp: Any, value: Any, expected: Any) -> None:
    result = load(holder(tp), {"v": value}).v
    assert result == expected
    assert type(result) is type(expected)


REJECTED = [
    (bool, "false", "expected a boolean, got a string 'false'"),
    (bool, 1, "expected a boolean, got an int 1"),
    (bool, "no", "expected a boolean, got a string 'no'"),  # YAML 1.2 reads `no` as a string
    (int, 80.5, "expected an int, got a float 80.5"),
    (int, 80.0, "expected an int, got a float 80.0"),
    (int, True, "expected an int, got a boolean True"),
    (int, "80", "expected an int, got a string '80'"),
    (float, "1.5", "expected a number, got a string '1.5'"),
    (float, True, "expected a number, got a boolean True"),
    (float, math.nan, "expected a finite number"),
    (float, math.inf, "expected a finite number"),
    (float, -math.inf, "expected a finite number"),
    (float, 10**400, "expected a number in float range"),
    (str, 5, "expected a string, got an int 5"),
    (str, None, "expected a string, got null"),
    (str, ["a"], "expected a string, got a list"),
    (Path, 5, "expected a path string, got an int 5"),
    (Color, "green", "expected one of 'red', 'blue', got a string 'green'"),
    (Color, "RED", "expected one of 'red', 'blue'"),
    (Level, True, "expected one of 1, 2, got a boolean True"),
    (Level, "1", "expected one of 1, 2, got a string '1'"),
    (Literal["a", "b"], "c", "expected one of 'a', 'b', got a string 'c'"),
    (Literal[1, 2], True, "expected one of 1, 2, got a boolean True"),
    (Literal[1, 2], 1.0, "expected one of 1, 2, got a float 1.0"),
    (int, None, "expected an int, got null"),
    (int | str, 1.5, "expected an int or a string, got a float 1.5"),
    (list[int], "abc", "expected a list, got a string 'abc'"),
    (list[int], {"a": 1}, "expected a list, got a mapping"),
    (tuple[int, str], [1], "expected a list of 2 items, got 1"),
    (set[int], "ab", "expected a list, got a string 'ab'"),
    (dict[str, int], [1], "expected a mapping, got a list"),
    (dict[str, int], "x", "expected a mapping, got a string 'x'"),
    (dt.datetime, "yesterday", "expected a datetime"),
    (dt.datetime, dt.date(2024, 1, 2), "expected a datetime"),
    (dt.date, dt.datetime(2024, 1, 2, 3, 4), "expected a date"),
    (dt.date, 20240102, "expected a date"),
    (dt.time, "25:00", "expected a time"),
    (Server, 5, "expected a mapping (for Server), got an int 5"),
    (Server, None, "expected a mapping (for Server), got null"),
]


@pytest.mark.parametrize(("tp", "value", "message"), REJECTED)
def test_rejects(tp: Any, value: Any, message: str) -> None:
    error = one(holder(tp), {"v": value})
    assert error.path == "v"
    assert error.message.startswith(message)
    assert error.value == value or (isinstance(value, float) and math.isnan(value))
    assert error.source == "layer0.toml"


def test_nan_and_infinity_with_allow_nan() -> None:
    assert math.isnan(load(holder(float), {"v": math.nan}, allow_nan=True).v)
    assert load(holder(float), {"v": -math.inf}, allow_nan=True).v == -math.inf


def test_item_errors_inside_containers() -> None:
    errors = errors_of(holder(dict[str, list[int]]), {"v": {"a": [1, "x", 2.5], "b": 3}})
    assert [(e.path, e.message) for e in errors] == [
        ("v.a[1]", "expected an int, got a string 'x'"),
        ("v.a[2]", "expected an int, got a float 2.5"),
        ("v.b", "expected a list, got an int 3"),
    ]
    errors = errors_of(holder(dict[int, str]), {"v": {"1": "a"}})
    assert [(e.path, e.message) for e in errors] == [("v.1", "expected an int, got a string '1'")]


# ---------------------------------------------------------------------------------------------
# Whole documents


def test_every_error_of_the_document_at_once() -> None:
    doc = {"server": {"port": "80"}, "debug": "yes", "ratio": "high"}
    errors = errors_of(App, doc)
    assert [e.path for e in errors] == ["server.port", "debug", "ratio"]
    assert [e.value for e in errors] == ["80", "yes", "high"]
    assert all(e.source == "layer0.toml" for e in errors)
    assert all(e.line is None and e.column is None for e in errors)  # no raw text to point into


def test_paths_of_list_items_and_dict_entries() -> None:
    doc = {
        "server": {"port": 1},
        "servers": [{"port": 1}, {"port": 2.5}],
        "tenants": {"acme": {"limit": "lots"}},
    }
    errors = errors_of(App, doc)
    assert [(e.path, e.value) for e in errors] == [
        ("servers[1].port", 2.5),
        ("tenants.acme.limit", "lots"),
    ]


def test_the_layer_that_supplied_the_value_is_blamed() -> None:
    base = {"server": {"port": 80, "host": "h"}, "ratio": 0.5, "name": "base"}
    local = {"server": {"port": "eighty"}, "name": 7}
    errors = errors_of(App, base, local)
    assert [(e.path, e.source) for e in errors] == [
        ("server.port", "layer1.toml"),
        ("name", "layer1.toml"),
    ]
    # The other way round, the later (good) value hides the earlier bad one entirely.
    assert load(App, {"server": {"port": 1}}).server.port == 1
    merged = merge([Layer("a", {"server": {"port": "x"}}), Layer("b", {"server": {"port": 2}})])
    assert structure(make_converter(), App, merged).server == Server(port=2)


def test_missing_required_field() -> None:
    errors = errors_of(App, {"name": "x"}, {"servers": [{"host": "h"}]})
    assert [(e.path, e.message, e.source, e.value) for e in errors] == [
        ("server", "missing required field", None, None),  # top level: no enclosing layer
        ("servers[0].port", "missing required field", "layer1.toml", None),
    ]
    error = one(App, {"server": {"host": "h"}})
    assert error.path == "server.port"
    assert error.source == "layer0.toml"
    [db_error] = errors_of(App, {"server": {"port": 1}}, {"db": {"pool": 2}})
    assert (db_error.path, db_error.message, db_error.source) == (
        "db.url",
        "missing required field",
        "layer1.toml",
    )


def test_unknown_keys_are_rejected_with_a_suggestion() -> None:
    errors = errors_of(App, {"server": {"port": 1, "prot": 2}, "debgu": True, "zzz": 1})
    assert [(e.path, e.message, e.value) for e in errors] == [
        ("server.prot", "unknown key 'prot' (did you mean 'port'?)", 2),
        ("debgu", "unknown key 'debgu' (did you mean 'debug'?)", True),
        (
            "zzz",
            "unknown key 'zzz' (known keys: server, servers, tenants, db, debug, ratio, name)",
            1,
        ),
    ]


def test_unknown_keys_in_a_dataclass_and_when_allowed() -> None:
    error = one(App, {"server": {"port": 1}, "db": {"url": "u", "pol": 1}})
    assert (error.path, error.message) == ("db.pol", "unknown key 'pol' (did you mean 'pool'?)")
    app = load(App, {"server": {"port": 1, "extra": 1}, "db": {"url": "u"}}, forbid_unknown=False)
    assert app.server == Server(port=1)
    assert app.db == Database(url="u")


@attrs.frozen
class Private:
    _secret: int = 0


def test_keys_are_attribute_names() -> None:
    assert load(Private, {"_secret": 3}) == Private(secret=3)
    error = one(Private, {"secret": 3})
    assert error.message == "unknown key 'secret' (did you mean '_secret'?)"


@attrs.frozen
class Computed:
    port: int = 80
    url: str = attrs.field(init=False, default="")


def test_a_key_naming_a_field_the_class_sets_itself_says_so() -> None:
    error = one(Computed, {"port": 1, "url": "x"})
    assert (error.path, error.message) == (
        "url",
        "key 'url' names a field Computed sets itself (init=False): no file sets it",
    )
    # Not offered as a suggestion either.
    assert one(Computed, {"urls": 1}).message == "unknown key 'urls' (known keys: port)"


# ---------------------------------------------------------------------------------------------
# The user's code that runs while classes are built: validators, converters, post-init hooks.
# Its failures are bad data, reported where the exception points; trioconf's own are bugs.


def toml_layer(text: str, name: str = "v.toml") -> Layer:
    raw = text.encode()
    return Layer(name, parse(raw, "toml", name), raw=raw, format="toml")


def normalized_url(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme.isalpha():
        msg = f"not a URL: {text!r}"
        raise ValueError(msg)
    return f"{scheme.lower()}://{rest}"


@attrs.frozen
class Limits:
    low: int = 1
    high: int = 10

    def __attrs_post_init__(self) -> None:
        if self.low > self.high:
            msg = f"low ({self.low}) must not exceed high ({self.high})"
            raise ValueError(msg)


@dataclasses.dataclass(frozen=True)
class Dsn:
    url: str = "pg://localhost"

    def __post_init__(self) -> None:
        if not self.url.startswith("pg://"):
            msg = f"url must start with pg://, got {self.url!r}"
            raise ValueError(msg)


PLANS = {"free": 0, "team": 10}


@attrs.frozen
class RangedServer:
    port: int = attrs.field(validator=v.in_(range(1, 65536)))
    host: str = "localhost"


@attrs.frozen
class Guarded:
    port: int = attrs.field(default=8080, validator=v.in_(range(1, 65536)))
    mode: int | str = attrs.field(default=1, validator=v.instance_of(int))
    host: str = attrs.field(default="localhost", validator=v.matches_re(r"[a-z.]+"))
    workers: int = attrs.field(default=1, validator=v.ge(1))
    name: str = attrs.field(default="app", validator=v.max_len(8))
    tags: list[str] = attrs.field(factory=list, validator=v.deep_iterable(v.in_(["a", "b"])))
    level: int | None = attrs.field(default=None, validator=v.optional(v.in_([1, 2])))
    either: int = attrs.field(default=1, validator=v.or_(v.in_([1]), v.in_([2])))
    url: str = attrs.field(default="http://localhost", converter=normalized_url)
    _even: int = attrs.field(default=0)
    plan: str = attrs.field(default="free")
    limits: Limits = Limits()
    dsn: Dsn = Dsn()
    servers: list[RangedServer] = attrs.Factory(list)

    @_even.validator
    def _check_even(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value % 2:
            msg = "must be even"
            raise ValueError(msg)

    @plan.validator
    def _check_plan(self, attribute: attrs.Attribute[str], value: str) -> None:
        PLANS[value]  # a lookup, and its KeyError


# Each bad value on line 2, after a comment: a file with other lines, not a one-liner.
USER_CODE_FAILURES = [
    # attrs' validators whose exception carries the Attribute and the value: house wording.
    ("port = 70000", "v.toml:2:1: port: 70000 is not in range(1, 65536)"),
    ('mode = "x"', "v.toml:2:1: mode: expected an int, got a string 'x'"),
    ('host = "Bad Host"', "v.toml:2:1: host: 'Bad Host' does not match '[a-z.]+'"),
    ('tags = ["a", "zz"]', "v.toml:2:1: tags: 'zz' is not in ['a', 'b']"),
    ("level = 3", "v.toml:2:1: level: 3 is not in [1, 2]"),
    # Those that raise a message alone, placed by the generated __init__'s running line.
    ("workers = 0", "v.toml:2:1: workers: must be >= 1: 0"),
    ('name = "much too long"', "v.toml:2:1: name: Length of 'name' must be <= 8: 13"),
    (
        "either = 3",
        "v.toml:2:1: either: None of (<in_ validator with options [1]>, "
        "<in_ validator with options [2]>) satisfied for value 3",
    ),
    # A user's validators and converter: their own messages, at their field.
    ("_even = 3", "v.toml:2:1: _even: must be even"),
    ('plan = "gold"', "v.toml:2:1: plan: KeyError: 'gold'"),
    ('url = "localhost:80"', "v.toml:2:1: url: not a URL: 'localhost:80'"),
    # Post-init hooks name no field: the class's own table, at its header line.
    ("[limits]\nlow = 5\nhigh = 1", "v.toml:2:1: limits: low (5) must not exceed high (1)"),
    ('[dsn]\nurl = "my://x"', "v.toml:2:1: dsn: url must start with pg://, got 'my://x'"),
    (
        "[[servers]]\nport = 1\n[[servers]]\nport = 0\nhost = 'h'",
        "v.toml:5:1: servers[1].port: 0 is not in range(1, 65536)",
    ),
]


@pytest.mark.parametrize(("text", "line"), USER_CODE_FAILURES)
def test_user_code_failures_are_field_errors_where_they_point(text: str, line: str) -> None:
    layer = toml_layer(f"# service\n{text}\n")
    with pytest.raises(ValidationError) as info:
        structure(make_converter(), Guarded, merge([layer]))
    [error] = info.value.errors
    assert str(error) == line
    assert info.value.__cause__ is not None  # the validator's traceback, for debugging


@attrs.frozen
class Ranged:
    server: RangedServer


def test_attrs_validator_values_and_layers() -> None:
    base = Layer("base.json", {"server": {"port": 80, "host": "h"}})
    local = toml_layer('[server]\nhost = "h2"\nport = 70000\n', "local.toml")
    with pytest.raises(ValidationError) as info:
        structure(make_converter(), Ranged, merge([base, local]))
    [error] = info.value.errors
    assert (error.path, error.value, error.source, error.line) == (
        "server.port",
        70000,
        "local.toml",
        3,
    )
    # The default failing its own validator: the enclosing table is pointed at.
    [error] = errors_of(Ranged, {"server": {"host": "h"}})
    assert (error.path, error.message) == ("server.port", "missing required field")


@attrs.frozen
class Window:
    start: int = 0
    end: int = 10

    def __attrs_post_init__(self) -> None:
        if self.start >= self.end:
            msg = "the window is empty"
            raise RuntimeError(msg)


def test_the_config_class_itself_at_the_top_level() -> None:
    # No table to point at: the highest-precedence source that supplied any of it.
    base, local = Layer("base.toml", {"start": 1}), toml_layer("# local\nend = 1\n", "l.toml")
    with pytest.raises(ValidationError) as info:
        structure(make_converter(), Window, merge([base, local, Layer("empty", {})]))
    [error] = info.value.errors
    assert str(error) == "l.toml: (top level): RuntimeError: the window is empty"
    assert (error.path, error.line) == ("", None)


class Unrelated(Exception):
    pass


@attrs.frozen
class Hand:
    """A hand-written __init__, as cattrs calls it."""

    port: int

    def __init__(self, port: int) -> None:
        if port == 0:
            raise Unrelated
        self.__attrs_init__(port)


def test_a_hand_written_init_and_an_exception_without_message() -> None:
    error = one(holder(Hand), {"v": {"port": 0}})
    assert (error.path, error.message) == ("v", "Unrelated")


def test_a_message_of_several_lines_stays_on_one() -> None:
    # Each error is one ``file:line:col: path: message`` line in the ValidationError's list.
    @attrs.frozen
    class Wordy:
        a: int = attrs.field(default=0)

        @a.validator
        def _check(self, attribute: attrs.Attribute[int], value: int) -> None:
            if value:
                msg = f"a must be 0:\n  got {value}\n\n  (see the manual)\n"
                raise ValueError(msg)

    error = one(Wordy, {"a": 3})
    assert error.message == "a must be 0: got 3 (see the manual)"


def test_a_validator_that_names_its_attribute_is_believed() -> None:
    # A cross-field check on ``end`` that blames ``start``, the documented attrs way.
    @attrs.frozen
    class Span:
        start: int = 0
        end: int = attrs.field(default=1)

        @end.validator
        def _after(self, attribute: attrs.Attribute[int], value: int) -> None:
            if value <= self.start:
                msg = f"start must be below end ({value})"
                raise ValueError(msg, attrs.fields(Span).start)

    error = one(Span, {"start": 5, "end": 2})
    assert (error.path, error.message, error.value) == ("start", "start must be below end (2)", 5)


def test_a_union_member_whose_validator_fails() -> None:
    @attrs.frozen
    class Either:
        a: RangedServer | int

    error = one(Either, {"a": {"port": 0}})
    assert (error.path, error.message) == ("a.port", "0 is not in range(1, 65536)")


def test_a_bug_in_a_hook_propagates_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hook that hits an AttributeError is trioconf's bug, not a bad value: reporting it as
    # "invalid field" would send the user hunting for a typo that is not there. Everywhere a
    # hook runs: a field, a union member, a list item, a mapping value.
    @attrs.frozen
    class Celsius:
        celsius: float

    @attrs.frozen
    class Kelvin:
        kelvin: float

    monkeypatch.setattr(_converter, "math", types.SimpleNamespace())
    for tp, value in [
        (Celsius | Kelvin, {"kelvin": 1.5}),  # both members fail deep inside
        (float, 1.5),
        (float | str, 1.5),
        (list[float], [1.5]),
        (dict[str, float], {"k": 1.5}),
    ]:
        with pytest.raises(AttributeError, match="isfinite") as info:
            structure(make_converter(), holder(tp), merge([Layer("f", {"v": value})]))
        tb = info.value.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        assert tb is not None
        assert tb.tb_frame.f_globals["__name__"] == "trioconf._converter"


def test_a_type_cattrs_cannot_structure_is_reported_not_raised() -> None:
    # The schema's fault, not the document's; it stays a ValidationError naming the type
    # (the reloader keeps running), without cattrs' advice to register a hook.
    error = one(holder(Opaque), {"v": "x"})
    assert error.message.startswith("unsupported field type Opaque")
    assert "hook" not in error.message
    assert load(holder(Opaque | None), {"v": None}).v is None
    error = one(holder(Opaque | None), {"v": "x"})
    assert (error.path, error.message[:30]) == ("v", "unsupported field type Opaque:")


class Opaque:
    """A plain class: no structure hook, no attrs, nothing trioconf knows how to fill."""


@attrs.frozen
class Shapes:
    a: Server | Tenant
    b: Server | None = None


def test_unions_of_classes() -> None:
    assert load(Shapes, {"a": {"limit": 1}}).a == Tenant(limit=1)
    assert load(Shapes, {"a": {"port": 1}}).a == Server(port=1)
    error = one(Shapes, {"a": {"port": 1}, "b": {"port": "x"}})
    assert (error.path, error.message) == ("b.port", "expected an int, got a string 'x'")
    error = one(Shapes, {"a": 3})
    assert error.message.startswith("expected a mapping (for Server) or a mapping (for Tenant)")


def test_unstructure_round_trips() -> None:
    app = load(
        App,
        {
            "server": {"port": 1},
            "servers": [{"port": 2, "host": "h"}],
            "tenants": {"acme": {"limit": 3}},
            "db": {"url": "u"},
        },
    )
    plain = unstructure(make_converter(), app)
    assert plain["servers"] == [{"port": 2, "host": "h"}]
    assert plain["db"] == {"url": "u", "pool": 5}
    assert load(App, plain) == app


def test_positions_come_from_the_layer() -> None:
    # Positions are asked of the layer that supplied the value, for the value's own path,
    # falling back to the enclosing mapping for a missing field.
    asked: list[tuple[Any, ...]] = []

    @attrs.frozen(eq=False)
    class Pointing(Layer):
        def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
            asked.append(tuple(path))
            return (len(path), 7) if path and path[-1] != "port" else None

    layer = Pointing("p.json", {"server": {"host": 5}})
    with pytest.raises(ValidationError) as info:
        structure(make_converter(), App, merge([layer]))
    found = {(e.path, e.line, e.column) for e in info.value.errors}
    assert found == {("server.host", 2, 7), ("server.port", 1, 7)}
    assert ("server", "port") in asked


def test_positions_in_a_json_file() -> None:
    # Real positions from trioconf._formats (a colleague's module; skipped if it is absent).
    # Entries are located at their key; a missing field at its enclosing mapping's key.
    pytest.importorskip("trioconf._formats")
    raw = b'{\n  "server": {\n    "port": "80"\n  },\n  "debug": 1,\n  "db": {"pool": 1}\n}\n'
    data = {"server": {"port": "80"}, "debug": 1, "db": {"pool": 1}}
    layer = Layer("app.json", data, raw=raw, format="json")
    with pytest.raises(ValidationError) as info:
        structure(make_converter(), App, merge([layer]))
    positions = {e.path: (e.line, e.column) for e in info.value.errors}
    assert positions == {"server.port": (3, 5), "debug": (5, 3), "db.url": (6, 3)}
    assert str(info.value.errors[0]).startswith("app.json:3:5: server.port: expected an int")


# ---------------------------------------------------------------------------------------------
# Anything JSON can say either structures or fails with ValidationError.


@attrs.frozen
class Leaf:
    n: int
    tags: frozenset[str] = frozenset()


@attrs.frozen
class Sample:
    name: str
    leaves: list[Leaf] = attrs.Factory(list)
    by_key: dict[str, Leaf] = attrs.Factory(dict)
    pair: tuple[int, float] = (0, 0.0)
    mode: Literal["a", "b"] = "a"
    color: Color = Color.RED
    maybe: Leaf | None = None
    when: dt.date | None = None
    flag: bool = False


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.sampled_from(["a", "red", "2024-01-02", "n", "tags"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "leaves", "by_key", "pair", "n", "tags", "maybe", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)
sample_docs = st.dictionaries(
    st.sampled_from([f.name for f in attrs.fields(Sample)] + ["nmae"]), json_values, max_size=6
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(sample_docs, st.booleans(), st.booleans())
def test_structuring_succeeds_or_raises_validation_error(
    doc: dict[str, Any], allow_nan: bool, forbid_unknown: bool
) -> None:
    converter = make_converter(allow_nan=allow_nan, forbid_unknown=forbid_unknown)
    merged = merge([Layer("a", doc)])
    errors: tuple[FieldError, ...] = ()
    try:
        result = structure(converter, Sample, merged)
    except ValidationError as exc:
        errors = exc.errors
    else:
        assert isinstance(result, Sample)
        return
    assert errors
    for error in errors:
        assert isinstance(error, FieldError)
        assert error.message
        assert error.source in (None, "a")


@attrs.frozen
class Node:
    name: str
    children: list[Node] = attrs.Factory(list)


def test_recursive_classes_and_deep_paths() -> None:
    def tree(leaf: object) -> dict[str, Any]:
        return {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}, leaf]}]}

    error = one(Node, tree({"name": 1}))
    assert (error.path, error.value) == ("children[0].children[1].name", 1)
    assert load(Node, tree({"name": "d"})).children[0].children[1] == Node(name="d")


def test_tuple_item_errors() -> None:
    errors = errors_of(holder(tuple[int, str]), {"v": ["x", 2]})
    assert [(e.path, e.message) for e in errors] == [
        ("v[0]", "expected an int, got a string 'x'"),
        ("v[1]", "expected a string, got an int 2"),
    ]
    error = one(holder(set[Any]), {"v": [[1], [2]]})
    assert error.message.startswith("set items must be hashable")


def test_an_attribute_of_another_class_is_not_blamed() -> None:
    # A validator that builds another class: its failure names *that* class's ``port``.
    @attrs.frozen
    class Upstream:
        port: int = attrs.field(validator=v.in_(range(1024, 65536)))

    def _reachable(instance: Any, attribute: Any, value: str) -> None:
        Upstream(port=int(value.rpartition(":")[2]))

    @attrs.frozen
    class Proxy:
        port: int = 8080
        upstream: str = attrs.field(default="localhost:8081", validator=_reachable)

    error = one(Proxy, {"upstream": "localhost:80"})
    assert (error.path, error.message) == ("upstream", "80 is not in range(1024, 65536)")
