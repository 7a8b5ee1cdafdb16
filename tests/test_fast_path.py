"""The strict converter's fast twin accepts exactly what its detailed converter accepts.

``StrictConverter.structure`` returns whatever the fast twin builds and asks the detailed
converter only when the fast one fails, so a document the fast twin wrongly accepted would
never be checked strictly. Here both run on the same documents, for schemas covering every
kind of hook (and both the generated class code and cattrs' own, for classes it does not
generate), and must agree: both fail, or both build the same value with the same types.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import pathlib
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import trioconf
from trioconf._converter import StrictConverter, make_converter


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Leaf:
    count: int
    ratio: float
    flag: bool
    label: str


@attrs.frozen
class Defaults:
    count: int = 0
    ratio: float = 0.5
    flag: bool = False
    label: str = "x"
    _private: int = 1
    named: str = attrs.field(default="n", alias="other")
    items: list[int] = attrs.Factory(list)


@attrs.frozen
class Lists:
    ints: list[int] = attrs.Factory(list)
    floats: list[float] = attrs.Factory(list)
    strs: Sequence[str] = ()
    bools: list[bool] = attrs.Factory(list)
    anys: list[Any] = attrs.Factory(list)
    leaves: list[Leaf] = attrs.Factory(list)
    nested: list[list[int]] = attrs.Factory(list)
    words: tuple[str, ...] = ()
    pair: tuple[int, str] = (0, "")
    ports: frozenset[int] = frozenset()
    anyset: set[Any] = attrs.Factory(set)


@attrs.frozen
class Unions:
    maybe: int | None = None
    number: int | float = 0
    text_or_int: str | int = ""
    leaf_or_none: Leaf | None = None
    either: Leaf | Defaults | None = None
    level: Literal[1, 2, "three"] = 1
    color: Color = Color.RED
    grade: Level = Level.LOW
    flag: Literal[True] | None = None


@attrs.frozen
class Others:
    table: dict[str, float] = attrs.Factory(dict)
    loose: dict[str, Any] = attrs.Factory(dict)
    mapping: Mapping[str, list[int]] = attrs.Factory(dict)
    when: datetime.datetime | None = None
    day: datetime.date | None = None
    moment: datetime.time | None = None
    home: pathlib.Path = pathlib.Path()
    anything: Any = None


def _positive(instance: Any, attribute: Any, value: int) -> None:
    if value <= 0:
        raise ValueError("must be positive")


@attrs.frozen
class Validated:
    size: int = attrs.field(default=1, validator=_positive)
    doubled: int = attrs.field(default=2, converter=lambda v: v * 2)  # cattrs' generator
    derived: int = attrs.field(init=False, default=0)  # cattrs' generator


@attrs.frozen
class Durations:
    seconds: Annotated[datetime.timedelta, trioconf.unit("s")] = datetime.timedelta(0)
    maybe: Annotated[datetime.timedelta, trioconf.unit("ms")] | None = None
    many: list[Annotated[datetime.timedelta, trioconf.unit("h")]] = attrs.Factory(list)
    plain: datetime.timedelta = datetime.timedelta(0)


@dataclasses.dataclass(frozen=True)
class Data:  # cattrs' generator
    count: int = 0
    label: str = ""


@attrs.frozen
class Root:
    name: str
    leaf: Leaf
    defaults: Defaults = Defaults()
    lists: Lists = Lists()
    unions: Unions = Unions()
    others: Others = Others()
    validated: Validated = Validated()
    data: Data = Data()
    children: list[Root] = attrs.Factory(list)


def _fields(cls: Any) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return [a.name for a in attrs.fields(cls)]


CLASSES = (Root, Leaf, Defaults, Lists, Unions, Others, Validated, Data, Durations)
NAMES = sorted({name for cls in CLASSES for name in _fields(cls)} | {"other", "private", "zzz"})
CONVERTERS = {
    (nan, forbid): make_converter(allow_nan=nan, forbid_unknown=forbid)
    for nan in (False, True)
    for forbid in (False, True)
}

keys = st.one_of(st.sampled_from(NAMES), st.text(max_size=4))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    st.text(max_size=6),
    st.sampled_from(["red", "blue", "three", "1", "true", "2024-01-02", "12:00:00", "Z"]),
    st.sampled_from([1.0, 2.0, 0.0, 1, 2, True, False]),
    st.just(datetime.datetime(2024, 1, 2, 3, 4, 5)),
    st.just(datetime.date(2024, 1, 2)),
    st.just(Color.RED),
    st.just(pathlib.Path("/tmp")),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),  # what no parser makes: the hooks' slow paths
        st.dictionaries(keys, inner, max_size=5),
        st.dictionaries(keys, inner, max_size=3).map(types.MappingProxyType),
    ),
    max_leaves=25,
)
documents = st.dictionaries(keys, values, max_size=10)


def shaped(tp: Any, right_odds: int = 3, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for annotation ``tp``: of the right shape ``right_odds`` times as often as one
    rule away from it (a float for an int, an int for a bool or float, a string for anything)
    or anything at all, so that documents get deep and, with high odds, many are accepted."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is int:
        right = st.integers(min_value=-(2**70), max_value=2**70)
        near = st.sampled_from([1.0, True, "1", Level.LOW])
    elif tp is float:
        right = st.floats()
        near = st.one_of(st.integers(min_value=-(2**1100), max_value=2**1100), st.booleans())
    elif tp is bool:
        right, near = st.booleans(), st.sampled_from([0, 1, "true", None])
    elif tp is str:
        right, near = st.text(max_size=3), st.sampled_from([1, b"a", Color.RED, None])
    elif tp is Any:
        return values
    elif tp is type(None):
        return st.none()
    elif origin is Annotated or tp is datetime.timedelta:  # durations, with a unit or without
        right = st.one_of(
            st.integers(min_value=-(2**40), max_value=2**40),
            st.floats(),  # NaN, infinity and floats too large for a timedelta included
            st.sampled_from(["90s", "1h30m", "PT2M", "-5m", datetime.timedelta(seconds=3)]),
        )
        near = st.sampled_from([True, "90", "1y", None, [1]])
    elif origin is Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        choices = list(args) if origin is Literal else [*tp, *(m.value for m in tp)]
        right, near = st.sampled_from(choices), st.sampled_from([1.0, True, "RED", 3, "1"])
    elif origin in (Union, types.UnionType):
        return st.one_of([shaped(a, right_odds, depth) for a in args])
    elif origin is tuple and args and args[-1] is not Ellipsis:
        right = st.tuples(*(shaped(a, right_odds, depth) for a in args)).map(list)
        near = st.lists(shaped(args[0], right_odds, depth), max_size=3)
    elif origin in (list, tuple, set, frozenset, Sequence):
        right = st.lists(shaped(args[0], right_odds, depth), max_size=3)
        near = right.map(tuple) | st.text(max_size=2)
    elif origin in (dict, Mapping):
        right = st.dictionaries(st.text(max_size=2), shaped(args[1], right_odds, depth), max_size=3)
        near = st.lists(st.text(max_size=2), max_size=2)
    elif attrs.has(tp) or dataclasses.is_dataclass(tp):
        if tp is Root and depth >= 2:
            return st.just({"name": "leaf", "leaf": _leaf()})
        hints = get_type_hints(tp, include_extras=True)
        fields = attrs.fields(tp) if attrs.has(tp) else dataclasses.fields(tp)
        required, optional = {}, {}
        for f in fields:
            strategy = shaped(hints[f.name], right_odds, depth + 1)
            no_default = f.default is attrs.NOTHING or f.default is dataclasses.MISSING
            if no_default:
                required[f.name] = strategy
            else:  # init=False fields too: cattrs takes them for unknown keys
                optional[f.name] = strategy
        right = st.fixed_dictionaries(required, optional=optional)
        near = right.map(lambda d: {**d, "zzz": 1}) | right.map(types.MappingProxyType)
    else:  # datetimes, dates, times, paths
        right = st.sampled_from(
            [
                datetime.datetime(2024, 1, 2, 3, 4, 5),
                datetime.date(2024, 1, 2),
                datetime.time(12),
                "2024-01-02T03:04:05Z",
                "2024-01-02",
                "12:00:00",
                "/tmp",
                pathlib.Path("/tmp"),
            ]
        )
        near = st.sampled_from([1, "yesterday", None])
    wrong = near | scalars
    # Not one_of(right, right, ...): hypothesis does not weigh a branch by its repetitions.
    return st.integers(0, right_odds).flatmap(lambda n: right if n else wrong)


def _leaf(**overrides: Any) -> dict[str, Any]:
    return {"count": 1, "ratio": 0.5, "flag": True, "label": "a", **overrides}


def _outcome(converter: StrictConverter, fast: bool, doc: Any, cls: type) -> tuple[bool, Any]:
    structure = converter.fast.structure if fast else converter.structure_detailed
    try:
        return True, structure(doc, cls)
    except Exception as exc:  # any failure: only whether both fail is compared
        return False, exc


def typed_equal(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down: an int where the detailed converter made
    a float compares equal but is wrong. NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if attrs.has(type(a)):
        return all(
            typed_equal(getattr(a, f.name), getattr(b, f.name)) for f in attrs.fields(type(a))
        )
    if dataclasses.is_dataclass(a):
        return all(
            typed_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(typed_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(typed_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _agree(doc: Any, cls: type, allow_nan: bool, forbid_unknown: bool) -> bool:
    """Assert both converters agree on ``doc``; whether it was accepted."""
    converter = CONVERTERS[allow_nan, forbid_unknown]
    fast_ok, fast = _outcome(converter, True, doc, cls)
    detailed_ok, detailed = _outcome(converter, False, doc, cls)
    assert fast_ok == detailed_ok, (doc, fast, detailed)
    if fast_ok:
        assert typed_equal(fast, detailed), (doc, fast, detailed)
    return fast_ok


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=400, deadline=None)
@given(documents, st.sampled_from(CLASSES), st.booleans(), st.booleans())
@example({"count": 1, "ratio": 1, "flag": True, "label": "a"}, Leaf, False, True)
@example({"count": 1.0, "ratio": 1.0, "flag": True, "label": "a"}, Leaf, False, True)
@example({"count": True, "ratio": 1.0, "flag": True, "label": "a"}, Leaf, False, True)
@example({"count": 1, "ratio": 1.0, "flag": 1, "label": "a"}, Leaf, False, True)
@example({"count": 1, "ratio": 1.0, "flag": True, "label": 1}, Leaf, False, True)
@example({"count": 1, "ratio": math.nan, "flag": True, "label": "a"}, Leaf, False, True)
@example({"count": 1, "ratio": math.inf, "flag": True, "label": "a"}, Leaf, True, True)
@example({"count": 1, "ratio": 2**1100, "flag": True, "label": "a"}, Leaf, True, True)
@example({"floats": [1.0, math.nan]}, Lists, False, True)
@example({"floats": [1.0, 1]}, Lists, False, True)
@example({"ints": [1, True]}, Lists, False, True)
@example({"strs": "abc"}, Lists, False, True)
@example({"strs": ("a", "b")}, Lists, False, True)
@example({"bools": [0]}, Lists, False, True)
@example({"anyset": [[1], [2]]}, Lists, False, True)
@example({"zzz": 1}, Defaults, False, True)
@example({"zzz": 1}, Defaults, False, False)
@example({"private": 1}, Defaults, False, True)
@example({"other": "a"}, Defaults, False, True)
@example({"_private": 2, "named": "b"}, Defaults, False, True)
@example({"number": 1.0, "text_or_int": 2, "level": "three"}, Unions, False, True)
@example({"level": True}, Unions, False, True)
@example({"grade": 1, "color": "red"}, Unions, False, True)
@example({"grade": True}, Unions, False, True)
@example({"either": {"count": 1}}, Unions, False, True)
@example({"size": 0}, Validated, False, True)
@example({"derived": 1}, Validated, False, True)
@example({"count": "1"}, Data, False, True)
@example({"seconds": 90, "maybe": 1.5, "many": [1, "2m"], "plain": "PT1S"}, Durations, False, True)
@example({"seconds": True}, Durations, False, True)
@example({"plain": 90}, Durations, False, True)
@example({"many": [1, math.inf]}, Durations, False, True)
@example({"name": "a", "leaf": "not a mapping"}, Root, False, True)
@example({"name": "a", "leaf": [("count", 1)]}, Root, False, False)
def test_fast_and_detailed_agree(
    doc: dict[str, Any], cls: type, allow_nan: bool, forbid_unknown: bool
) -> None:
    _agree(doc, cls, allow_nan, forbid_unknown)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=400, deadline=None)
@given(
    st.data(), st.sampled_from(CLASSES), st.sampled_from([3, 30, 300]), st.booleans(), st.booleans()
)
def test_fast_and_detailed_agree_on_shaped_documents(
    data: st.DataObject, cls: type, right_odds: int, allow_nan: bool, forbid_unknown: bool
) -> None:
    _agree(data.draw(shaped(cls, right_odds)), cls, allow_nan, forbid_unknown)


@pytest.mark.parametrize("allow_nan", [False, True])
@pytest.mark.parametrize("forbid_unknown", [False, True])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 1),
        ("name", b"a"),
        ("leaf", None),
        ("leaf", "count"),
        ("leaf", ["count"]),
        ("leaf", _leaf(count=1.0)),
        ("leaf", _leaf(count=2**80)),
        ("leaf", _leaf(count=True)),
        ("leaf", _leaf(count=Level.HIGH)),
        ("leaf", _leaf(ratio=True)),
        ("leaf", _leaf(ratio=3)),
        ("leaf", _leaf(ratio=math.nan)),
        ("leaf", _leaf(ratio=-math.inf)),
        ("leaf", _leaf(flag="false")),
        ("leaf", _leaf(flag=0)),
        ("leaf", _leaf(label=None)),
        ("leaf", _leaf(extra=1)),
        ("lists", {"ints": [1, 2.0]}),
        ("lists", {"floats": [1.5, math.inf]}),
        ("lists", {"floats": [2**2000]}),
        ("lists", {"bools": ["yes"]}),
        ("lists", {"strs": [1]}),
        ("lists", {"leaves": [_leaf(), _leaf(count="1")]}),
        ("lists", {"nested": [[1], [1.5]]}),
        ("lists", {"words": "ab"}),
        ("lists", {"pair": [1, "a", 2]}),
        ("lists", {"pair": ["1", "a"]}),
        ("lists", {"ports": [1, 1, True]}),
        ("unions", {"maybe": 1.5}),
        ("unions", {"number": "1"}),
        ("unions", {"number": math.nan}),
        ("unions", {"leaf_or_none": {}}),
        ("unions", {"level": 1.0}),
        ("unions", {"color": "green"}),
        ("unions", {"grade": 3}),
        ("others", {"table": {"a": 1}}),
        ("others", {"table": {"a": "1.0"}}),
        ("others", {"loose": {"a": [1, {"b": None}]}}),
        ("others", {"when": "2024-01-02T03:04:05Z", "day": "2024-01-02", "moment": "12:00"}),
        ("others", {"day": datetime.datetime(2024, 1, 2)}),
        ("others", {"when": "yesterday"}),
        ("others", {"home": 1}),
        ("validated", {"size": -1}),
        ("validated", {"doubled": 3}),
        ("data", {"count": 1, "label": 2}),
        ("children", [{"name": "c", "leaf": _leaf()}, {"name": "d", "leaf": _leaf(count="x")}]),
    ],
)
def test_agree_on_each_rule(field: str, value: Any, allow_nan: bool, forbid_unknown: bool) -> None:
    """One field of a valid document changed at a time, for each strictness rule."""
    doc = {"name": "root", "leaf": _leaf(), field: value}
    _agree(doc, Root, allow_nan, forbid_unknown)


def test_a_valid_document_is_accepted_by_both() -> None:
    doc = {
        "name": "root",
        "leaf": _leaf(),
        "defaults": {"count": 2, "_private": 3, "named": "m", "items": [1]},
        "lists": {"floats": [1.5], "strs": ["a"], "bools": [True], "leaves": [_leaf()]},
        "unions": {"number": 1, "text_or_int": 2, "either": _leaf(), "level": "three"},
        "others": {"table": {"a": 1.5}, "when": "2024-01-02T03:04:05+00:00"},
        "validated": {"size": 2, "doubled": 3},
        "data": {"count": 4},
        "children": [{"name": "c", "leaf": _leaf()}],
    }
    for (allow_nan, forbid_unknown), converter in CONVERTERS.items():
        assert _agree(doc, Root, allow_nan, forbid_unknown)
        root = converter.structure(doc, Root)
        assert type(root.unions.number) is int
        assert root.validated.doubled == 6
        assert root.defaults == Defaults(count=2, private=3, other="m", items=[1])


def test_plain_classes_get_generated_code() -> None:
    """The generator covers the usual config classes (or these tests would test cattrs')."""
    fast = make_converter().fast
    for cls in (Root, Leaf, Defaults, Lists, Unions, Others, Durations):
        code = fast.get_structure_hook(cls).__code__
        assert code.co_filename.startswith("<trioconf generated"), cls
    for cls in (Validated, Data):
        code = fast.get_structure_hook(cls).__code__
        assert not code.co_filename.startswith("<trioconf generated"), cls
