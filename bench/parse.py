"""Parse and structure, per format, for a ~150-field nested config.

The same data (5 sections x 2 subsections x 15 leaves: int, float, str, bool, list[str]) is
written as JSON, TOML and YAML. For each: the bare parser, trioconf's ``parse`` (the parser plus
its checks for what a config must not hold), and structuring the parsed data with a plain cattrs
converter, trioconf's strict converter and pydantic v2 on equivalent models. Median per call.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import attrs
import cattrs
import tomli

from trioconf._converter import make_converter
from trioconf._formats import _yaml as trioconf_yaml
from trioconf._formats._parse import parse as trioconf_parse

from .readpath import per_call

SECTIONS = [f"section{i}" for i in range(5)]
SUBSECTIONS = ["alpha", "beta"]
LEAVES = 15


def _leaf_type(j: int) -> type:
    return (int, float, str, bool, list)[j % 5]


def _leaf_value(i: int, j: int) -> Any:
    kind = _leaf_type(j)
    if kind is int:
        return i * 100 + j
    if kind is float:
        return i + j / 8
    if kind is str:
        return f"value-{i}-{j}"
    if kind is bool:
        return j % 2 == 0
    return [f"item{k}" for k in range(3)]


def data() -> dict[str, Any]:
    return {
        s: {sub: {f"f{j}": _leaf_value(i, j) for j in range(LEAVES)} for sub in SUBSECTIONS}
        for i, s in enumerate(SECTIONS)
    }


def _annotation(j: int) -> Any:
    kind = _leaf_type(j)
    return list[str] if kind is list else kind


def attrs_model() -> type:
    leaf = attrs.make_class(
        "Leaf",
        {f"f{j}": attrs.field(type=_annotation(j)) for j in range(LEAVES)},
        frozen=True,
    )
    section = attrs.make_class(
        "Section", {sub: attrs.field(type=leaf) for sub in SUBSECTIONS}, frozen=True
    )
    return attrs.make_class("Big", {s: attrs.field(type=section) for s in SECTIONS}, frozen=True)


def pydantic_model() -> Any:
    import pydantic

    leaf = pydantic.create_model("Leaf", **{f"f{j}": (_annotation(j), ...) for j in range(LEAVES)})  # type: ignore[call-overload]
    section = pydantic.create_model("Section", **{sub: (leaf, ...) for sub in SUBSECTIONS})  # type: ignore[call-overload]
    return pydantic.create_model("Big", **{s: (section, ...) for s in SECTIONS})  # type: ignore[call-overload]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def documents(tree: dict[str, Any]) -> dict[str, str]:
    from ruamel.yaml import YAML

    toml_lines = []
    for s, subs in tree.items():
        for sub, leaves in subs.items():
            toml_lines.append(f"[{s}.{sub}]")
            toml_lines += [f"{k} = {_toml_value(v)}" for k, v in leaves.items()]
            toml_lines.append("")
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(tree, out)
    return {
        "json": json.dumps(tree, indent=2),
        "toml": "\n".join(toml_lines),
        "yaml": out.getvalue(),
    }


def _yaml_pure(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def run(quick: bool) -> dict[str, Any]:
    """Seconds per call, by row (a format or a structurer) and column."""
    repeat = 3 if quick else 7
    tree = data()
    docs = documents(tree)
    for fmt, text in docs.items():
        assert trioconf_parse(text.encode(), fmt, fmt) == tree, fmt  # type: ignore[arg-type]
    assert _yaml_pure(docs["yaml"]) == tree
    parsers: dict[str, tuple[str, Any, str]] = {
        "JSON": ("json", json.loads, "json"),
        "TOML": (
            "toml",
            tomli.loads,
            f"tomli {tomli.__version__ if hasattr(tomli, '__version__') else ''}".strip(),
        ),
        "YAML, pure Python": ("yaml", _yaml_pure, "ruamel.yaml safe, pure"),
    }
    if trioconf_yaml.yaml_c_loader_available():
        parsers["YAML, C loader"] = (
            "yaml",
            lambda t: trioconf_yaml._yaml_load(t, pure=False),
            "ruamel.yaml.clib CSafeLoader",
        )
    if sys.version_info >= (3, 11):
        import tomllib

        parsers["TOML, stdlib tomllib"] = ("toml", tomllib.loads, "tomllib")
    rows: dict[str, Any] = {"fields": sum(1 for _ in _leaves(tree)), "parse": {}, "structure": {}}
    for name, (fmt, parser, library) in parsers.items():
        raw = docs[fmt].encode()
        text = docs[fmt]
        entry = {"library": library, "bytes": len(raw)}
        entry["parser"] = per_call(lambda p=parser, t=text: p(t), repeat)
        if name in ("JSON", "TOML", "YAML, C loader"):
            # trioconf.parse runs the C loader itself when it is importable.
            entry["trioconf.parse"] = per_call(
                lambda r=raw, f=fmt: trioconf_parse(r, f, "bench"), repeat
            )
        rows["parse"][name] = entry
    big = attrs_model()
    plain = cattrs.Converter()
    strict = make_converter()
    assert plain.structure(tree, big) == strict.structure(tree, big)
    rows["structure"]["cattrs, plain Converter"] = per_call(
        lambda: plain.structure(tree, big), repeat
    )
    rows["structure"]["cattrs, trioconf's strict converter"] = per_call(
        lambda: strict.structure(tree, big), repeat
    )
    try:
        model = pydantic_model()
    except ImportError:
        pass
    else:
        model.model_validate(tree)
        rows["structure"]["pydantic v2 model_validate"] = per_call(
            lambda: model.model_validate(tree), repeat
        )
    return rows


def _leaves(tree: Any) -> Any:
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _leaves(v)
    else:
        yield tree
