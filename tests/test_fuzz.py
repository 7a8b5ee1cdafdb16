"""Fuzzing parse → merge → structure: whatever the bytes, the only exception is ConfigError.

The documents come three ways: arbitrary bytes; structured documents (JSON-like values whose
keys are mostly the schema's own field names, so structuring gets deep) serialized as JSON,
TOML or YAML; and those serializations with bytes flipped, inserted and deleted. Each is run
through the internal pipeline directly (fast: hundreds of examples a second) and, with fewer
examples, through ``trioconf.load`` on a real file. A failure here is a trioconf bug: a parser's
surprise exception escaping, a recursion error, a crash in error reporting.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import pathlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import trioconf
from trioconf._converter import make_converter
from trioconf._env import env_layer
from trioconf._formats import parse
from trioconf._layer import Layer
from trioconf._merge import merge
from trioconf._structure import structure


@attrs.frozen
class Leaf:
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    label: str = ""
    mode: Literal["fast", "slow"] = "fast"
    maybe: int | None = None


@attrs.frozen
class Root:
    name: str = ""
    leaf: Leaf = Leaf()
    items: list[int] = attrs.field(factory=list)
    table: dict[str, float] = attrs.field(factory=dict)
    children: list[Leaf] = attrs.field(factory=list)
    spare: Leaf | None = None
    level: Literal[1, 2, 3] = 1
    words: tuple[str, ...] = ()
    ports: frozenset[int] = frozenset()
    when: datetime.datetime | None = None
    home: pathlib.Path = pathlib.Path()
    extra: dict[str, Any] = attrs.field(factory=dict)
    pair: tuple[int, str] = (0, "")


FIELD_NAMES = sorted({f.name for f in attrs.fields(Root)} | {f.name for f in attrs.fields(Leaf)})
FORMATS: tuple[Literal["json", "toml", "yaml"], ...] = ("json", "toml", "yaml")
CONVERTERS = {nan: make_converter(allow_nan=nan) for nan in (False, True)}

# Keys: mostly the schema's names, so documents reach deep into the converter; sometimes
# anything (unknown keys, empty, unicode, dots).
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    st.text(max_size=12),
    st.sampled_from(["fast", "slow", "yes", "no", "1", "2024-01-01", "12:00:00"]),
)
documents = st.dictionaries(
    keys,
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    ),
    max_size=8,
)


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer (tomli has none): nested tables become ``[a.b]`` sections
    half of the time and inline tables otherwise. None has no TOML form: it is left out."""

    def key(k: str) -> str:
        return json.dumps(k)

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else {math.inf: "inf", -math.inf: "-inf"}.get(v, repr(v))
        if isinstance(v, int | str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
        items = (f"{key(k)} = {value(x)}" for k, x in v.items() if x is not None)
        return "{" + ", ".join(items) + "}"

    lines, sections = [], []
    for k, v in data.items():
        if v is None:
            continue
        if isinstance(v, dict) and len(k) % 2 == 0:
            sections.append(f"[{key(k)}]")
            sections.extend(f"{key(kk)} = {value(x)}" for kk, x in v.items() if x is not None)
        else:
            lines.append(f"{key(k)} = {value(v)}")
    return "\n".join(lines + sections) + "\n"


def to_yaml(data: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


SERIALIZE: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": json.dumps,
    "toml": to_toml,
    "yaml": to_yaml,
}


def pipeline(layers: list[tuple[bytes, str]], allow_nan: bool) -> Root | None:
    """parse → merge → structure, as the loader does; None when a layer is refused."""
    parsed = []
    for index, (raw, fmt) in enumerate(layers):
        data = parse(raw, fmt, f"layer{index}.{fmt}", allow_nan)  # type: ignore[arg-type]
        parsed.append(Layer(f"layer{index}.{fmt}", data, raw, fmt))  # type: ignore[arg-type]
    return structure(CONVERTERS[allow_nan], Root, merge(parsed))


def only_config_errors(layers: list[tuple[bytes, str]], allow_nan: bool = False) -> None:
    error: trioconf.ConfigError | None = None
    try:
        config = pipeline(layers, allow_nan)
    except trioconf.ConfigError as exc:
        error = exc
    else:
        assert isinstance(config, Root)
    text = str(error)  # reporting must not fail either
    if isinstance(error, trioconf.ValidationError):
        assert error.errors
        for field_error in error.errors:
            assert field_error.source is not None
            assert field_error.source in text


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    """Flip, insert and delete a few bytes, the way a bad save or a bad disk would."""
    buffer = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        where = data.draw(st.integers(0, len(buffer)))
        if op == "insert" or not buffer:
            chunk = data.draw(st.binary(min_size=1, max_size=3) | st.sampled_from(INTERESTING))
            buffer[where:where] = chunk
        elif op == "flip":
            buffer[min(where, len(buffer) - 1)] ^= data.draw(st.integers(1, 255))
        else:
            del buffer[where : where + data.draw(st.integers(1, 8))]
    return bytes(buffer)


# Bytes that mean something to one of the parsers.
INTERESTING = [b"[", b"{", b"]", b"}", b'"', b"'", b"&a ", b"*a", b"<<: ", b"\n  ", b"---\n",
               b"%YAML 1.1\n", b"!!python/object ", b"NaN", b"1e999", b"\xff", b"\x00", b"\\u",
               b"[[x]]\n", b"=", b":", b",", b"#", b"..."]  # fmt: skip

FAST = settings(max_examples=200, deadline=None)
SLOW = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(raw=st.binary(max_size=300), fmt=st.sampled_from(FORMATS), allow_nan=st.booleans())
@example(raw=b"\xef\xbb\xbf", fmt="json", allow_nan=False)  # a BOM alone
@example(raw=b"a: 1e5\n", fmt="yaml", allow_nan=False)  # warned under -W error once
@example(raw=b"x = 1\n" + b"a." * 2000 + b"b = 1\n", fmt="toml", allow_nan=False)
def test_arbitrary_bytes(raw: bytes, fmt: str, allow_nan: bool) -> None:
    only_config_errors([(raw, fmt)], allow_nan)


@FAST
@given(doc=documents, fmt=st.sampled_from(FORMATS), allow_nan=st.booleans())
@example(doc={"leaf": {"ratio": 1e5}}, fmt="yaml", allow_nan=False)
@example(doc={"items": [2**70]}, fmt="json", allow_nan=False)
@example(doc={"table": {"x": 2**70}}, fmt="yaml", allow_nan=False)
def test_structured_documents(doc: dict[str, Any], fmt: str, allow_nan: bool) -> None:
    raw = SERIALIZE[fmt](doc).encode()
    only_config_errors([(raw, fmt)], allow_nan)


@FAST
@given(doc=documents, fmt=st.sampled_from(FORMATS), data=st.data())
def test_mutated_documents(doc: dict[str, Any], fmt: str, data: st.DataObject) -> None:
    raw = mutate(SERIALIZE[fmt](doc).encode(), data)
    only_config_errors([(raw, fmt)], data.draw(st.booleans()))


@settings(max_examples=80, deadline=None)
@given(
    layers=st.lists(st.tuples(documents, st.sampled_from(FORMATS)), min_size=2, max_size=3),
    allow_nan=st.booleans(),
)
def test_layered_documents(layers: list[tuple[dict[str, Any], str]], allow_nan: bool) -> None:
    only_config_errors([(SERIALIZE[fmt](doc).encode(), fmt) for doc, fmt in layers], allow_nan)


# Environment variable names built from the schema's names (nested with ``__``), in any case,
# and values that each conversion path reads: numbers, booleans, JSON text, null.
env_names = st.lists(st.sampled_from([*FIELD_NAMES, "x", ""]), min_size=1, max_size=3).map(
    lambda parts: "APP_" + "__".join(parts).upper()
)
env_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["1", "-0", "1e999", "nan", "true", "No", "null", "[1, 2]", '{"count": 1}',
                     "[[[[[[[[]]]]]]]]", "9" * 5000, "tcp://10.0.0.1:80", "2024-01-01T00:00Z",
                     "{", '{"a": NaN}', "[" * 2000 + "]" * 2000]),
    documents.map(json.dumps),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)).map(json.dumps),
)  # fmt: skip


@FAST
@given(
    environ=st.dictionaries(env_names, env_values, max_size=5),
    doc=documents,
    fmt=st.sampled_from(FORMATS),
    strict=st.booleans(),
)
@example(
    environ={"APP_EXTRA": '{"a": ' + "[" * 900 + "]" * 900 + "}"}, doc={}, fmt="json", strict=False
)  # merge and structure recursed into a RecursionError
@example(
    environ={"APP_ITEMS": "[" * 100_000 + "]" * 100_000}, doc={}, fmt="json", strict=False
)  # json.loads raised RecursionError
def test_environment_layer(
    environ: dict[str, str], doc: dict[str, Any], fmt: str, strict: bool
) -> None:
    """The env layer over a file layer: conversion, placement, merge and structure."""
    try:
        file_layer = Layer("base", parse(SERIALIZE[fmt](doc).encode(), fmt, "base"), None, None)  # type: ignore[arg-type]
        layers = [file_layer, env_layer(Root, "APP_", environ, strict=strict)]
        structure(CONVERTERS[False], Root, merge(layers))
    except trioconf.ConfigError as exc:
        str(exc)


def test_a_valid_document_structures() -> None:
    # The pipeline above can succeed: the fuzzing is not only ever exercising refusals.
    doc = {"name": "n", "leaf": {"count": 2, "ratio": 1e5, "mode": "slow"}, "items": [1, 2]}
    for fmt in FORMATS:
        config = pipeline([(SERIALIZE[fmt](doc).encode(), fmt)], allow_nan=False)
        assert config == Root(name="n", leaf=Leaf(count=2, ratio=1e5, mode="slow"), items=[1, 2])
    # YAML 1.2 floats without a dot: the C loader once warned on them as YAML 1.1, and under
    # -W error (this suite's setting) the warning became a ParseError.
    config = pipeline([(b"leaf: {ratio: 1e5, count: 1}\nitems: [0x1f]\n", "yaml")], False)
    assert config == Root(leaf=Leaf(ratio=1e5, count=1), items=[31])


@SLOW
@given(
    doc=documents,
    fmt=st.sampled_from(FORMATS),
    how=st.sampled_from(["serialized", "mutated", "bytes"]),
    data=st.data(),
)
def test_load_from_a_real_file(
    tmp_path: Path, doc: dict[str, Any], fmt: str, how: str, data: st.DataObject
) -> None:
    """The public one-shot path: read from disk, parse, merge, structure."""
    raw = SERIALIZE[fmt](doc).encode()
    if how == "mutated":
        raw = mutate(raw, data)
    elif how == "bytes":
        raw = data.draw(st.binary(max_size=200))
    path = tmp_path / f"fuzz.{fmt}"
    path.write_bytes(raw)
    message = ""
    try:
        config = trioconf.load(Root, path, allow_nan=data.draw(st.booleans()))
    except trioconf.ConfigError as exc:
        message = str(exc)
    else:
        assert isinstance(config, Root)
    assert not message or str(path) in message  # every error names the file


@pytest.mark.parametrize("fmt", FORMATS)
def test_serializers_round_trip(fmt: str) -> None:
    # The writers above must produce what the parsers read back, or the structured fuzzing
    # would only ever test syntax errors.
    doc = {"name": "x", "leaf": {"count": 1, "label": "a\"b'\\c"}, "items": [1, 2], "t": {}}
    assert parse(SERIALIZE[fmt](doc).encode(), fmt, "rt") == doc  # type: ignore[arg-type]
