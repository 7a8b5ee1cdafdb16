"""Tests for trioconf._merge: layered merge with provenance, and document diffs."""

from __future__ import annotations

import copy
import datetime
import math
import types
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trioconf._layer import Layer
from trioconf._merge import changed_paths, dotted, merge, same

# Few distinct keys, so layers overlap often and replace each other's mappings and scalars.
keys = st.sampled_from(["a", "b", "c", "db", "port"])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=3)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=8,
)
documents = st.dictionaries(keys, values, max_size=4)
layer_lists = st.lists(documents, max_size=3).map(
    lambda docs: [Layer(name=f"layer{i}", data=d) for i, d in enumerate(docs)]
)


def naive_merge(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The obvious reference: deep-copy, then overlay recursively."""

    def overlay(base: Any, top: Any) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            out = dict(base)
            for k, v in top.items():
                out[k] = overlay(base[k], v) if k in base else copy.deepcopy(v)
            return out
        return copy.deepcopy(top)

    result: dict[str, Any] = {}
    for doc in docs:
        result = overlay(result, doc)
    return result


def naive_origins(layers: Sequence[Layer]) -> dict[tuple[Any, ...], str]:
    """A different algorithm for the reference: replay the layers, forgetting the origins of
    a subtree whenever it is replaced whole."""
    origins: dict[tuple[Any, ...], str] = {}
    state: dict[str, Any] = {}

    def forget(prefix: tuple[Any, ...]) -> None:
        for path in [p for p in origins if p[: len(prefix)] == prefix]:
            del origins[path]

    def claim(value: Any, prefix: tuple[Any, ...], name: str) -> None:
        origins[prefix] = name
        if isinstance(value, dict):
            for k, v in value.items():
                claim(v, (*prefix, k), name)

    def apply(
        target: dict[str, Any], source: dict[str, Any], prefix: tuple[Any, ...], name: str
    ) -> None:
        for k, v in source.items():
            path = (*prefix, k)
            if isinstance(v, dict) and isinstance(target.get(k), dict):
                origins[path] = name
                apply(target[k], v, path, name)
            else:
                forget(path)
                target[k] = copy.deepcopy(v)
                claim(v, path, name)

    for layer in layers:
        apply(state, dict(layer.data), (), layer.name)
    return origins


# The machine is shared and noisy: generation speed is not what these tests are about.
relaxed = settings(suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(layer_lists)
def test_merge_equals_naive_reference(layers: list[Layer]) -> None:
    assert merge(layers).data == naive_merge([dict(layer.data) for layer in layers])


@relaxed
@given(layer_lists)
def test_origins_match_a_replay_of_the_layers(layers: list[Layer]) -> None:
    merged = merge(layers)
    got = {path: layer.name for path, layer in merged.origins.items()}
    assert got == naive_origins(layers)


@relaxed
@given(layer_lists)
def test_merge_does_not_alias_or_mutate_layer_data(layers: list[Layer]) -> None:
    before = copy.deepcopy([dict(layer.data) for layer in layers])
    merged = merge(layers)

    def scribble(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                scribble(v)
            node["scribbled"] = 1
        elif isinstance(node, list):
            for v in node:
                scribble(v)
            node.append("scribbled")

    scribble(merged.data)
    assert [dict(layer.data) for layer in layers] == before
    assert merge(layers).data == naive_merge(before)


@relaxed
@given(layer_lists, st.data())
def test_removing_a_key_from_a_layer_removes_it_from_the_merge(
    layers: list[Layer], data: st.DataObject
) -> None:
    # Rebuilt from scratch: merging the edited layers gives what a fresh merge of them gives,
    # and a key held by no layer any more is gone.
    if not layers or not layers[-1].data:
        return
    last = layers[-1]
    key = data.draw(st.sampled_from(sorted(last.data)))
    merge(layers)  # an earlier merge must leave nothing behind
    edited = {k: v for k, v in last.data.items() if k != key}
    new_layers = [*layers[:-1], Layer(name=last.name, data=edited)]
    merged = merge(new_layers)
    assert merged.data == naive_merge([dict(layer.data) for layer in new_layers])
    if all(key not in layer.data for layer in new_layers):
        assert key not in merged.data


def test_nested_merge_and_origins() -> None:
    base = Layer("base.toml", {"db": {"host": "h", "port": 1}, "hosts": ["a", "b"], "x": 1})
    local = Layer("local.yaml", {"db": {"port": 2}, "hosts": ["c"], "x": {"y": 1}})
    merged = merge([base, local])
    assert merged.data == {"db": {"host": "h", "port": 2}, "hosts": ["c"], "x": {"y": 1}}
    names = {p: layer.name for p, layer in merged.origins.items()}
    assert names == {
        ("db",): "local.yaml",
        ("db", "host"): "base.toml",
        ("db", "port"): "local.yaml",
        ("hosts",): "local.yaml",
        ("x",): "local.yaml",
        ("x", "y"): "local.yaml",
    }
    assert merged.origin(("hosts", 0)) is local
    assert merged.origin(("db", "missing")) is local
    assert merged.origin(("nothing",)) is None


def test_scalar_between_mappings_drops_the_older_mapping() -> None:
    layers = [Layer("1", {"db": {"port": 1}}), Layer("2", {"db": 5}), Layer("3", {"db": {"h": 1}})]
    merged = merge(layers)
    assert merged.data == {"db": {"h": 1}}
    assert set(merged.origins) == {("db",), ("db", "h")}


def test_empty() -> None:
    merged = merge([])
    assert merged.data == {}
    assert merged.origins == {}


def test_dotted() -> None:
    assert dotted(("servers", 1, "port")) == "servers[1].port"
    assert dotted(("tenants", "acme", "limit")) == "tenants.acme.limit"
    assert dotted((0,)) == "[0]"
    assert dotted(()) == ""


def test_changed_paths_examples() -> None:
    old = {"db": {"port": 1, "host": "h"}, "hosts": ["a", "b"], "gone": {"a": 1, "b": {"c": 2}}}
    new = {"db": {"port": 2, "host": "h"}, "hosts": ["a", "c"], "added": 1, "e": {}}
    assert changed_paths(old, new) == {"db.port", "hosts", "gone.a", "gone.b.c", "added", "e"}
    assert changed_paths({"x": 1}, {"x": {"y": 2}}) == {"x", "x.y"}
    assert changed_paths({"x": 1}, {"x": 1.0}) == {"x"}
    assert changed_paths({"x": 1}, {"x": True}) == {"x"}
    assert changed_paths({"x": math.nan}, {"x": math.nan}) == frozenset()


@relaxed
@given(values)
def test_changed_paths_of_a_document_with_itself_is_empty(doc: Any) -> None:
    assert changed_paths(doc, doc) == frozenset()
    assert changed_paths(doc, copy.deepcopy(doc)) == frozenset()


@relaxed
@given(documents, documents)
def test_changed_paths_empty_iff_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (changed_paths(a, b) == frozenset()) == same(a, b)
    assert changed_paths(a, b) == changed_paths(b, a)


# Without floats and bools, typed equality is plain equality.
plain_values = st.recursive(
    st.integers(0, 3) | st.text(max_size=2),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)


@relaxed
@given(st.dictionaries(keys, plain_values), st.dictionaries(keys, plain_values))
def test_changed_paths_empty_iff_python_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (changed_paths(a, b) == frozenset()) == (a == b)


@relaxed
@given(documents, documents)
def test_changed_paths_name_exactly_the_differing_leaves(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    # Every reported path resolves in a or b; every leaf path not reported is equal in both.
    def leaf_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> dict[str, Any]:
        if isinstance(doc, dict) and doc:
            out: dict[str, Any] = {}
            for k, v in doc.items():
                out.update(leaf_paths(v, (*prefix, k)))
            return out
        return {dotted(prefix): doc}

    la, lb = leaf_paths(a), leaf_paths(b)
    changed = changed_paths(a, b)
    assert changed <= la.keys() | lb.keys()
    for path in (la.keys() & lb.keys()) - changed:
        assert same(la[path], lb[path])


def test_merge_copies_every_kind_of_container_into_plain_ones() -> None:
    """The copy's fast paths are for parsers' exact types; any other Mapping or sequence a
    layer holds is still copied (into a dict or list), never aliased, and anything else kept."""

    class Table(dict[str, Any]):
        pass

    when = datetime.datetime(2024, 1, 2)
    inner = [1, {"x": (2, 3)}]
    data = {
        "proxy": types.MappingProxyType({"a": inner, "b": Table(c=[4])}),
        "pair": (inner, when),
        "flag": True,
        "none": None,
    }
    merged = merge([Layer("a", {"proxy": {"old": 1}}), Layer("b", data)])
    assert merged.data == {
        "proxy": {"old": 1, "a": [1, {"x": [2, 3]}], "b": {"c": [4]}},
        "pair": [[1, {"x": [2, 3]}], when],
        "flag": True,
        "none": None,
    }
    assert type(merged.data["proxy"]["b"]) is dict
    assert merged.data["proxy"]["a"] is not inner
    assert merged.data["pair"][0] is not inner
    assert merged.data["pair"][1] is when
