"""Parse and structure, per format, for a ~150-field nested config.

The same data (5 sections x 2 subsections x 15 leaves: int, float, str, bool, list[str]) is
written as JSON, TOML and YAML (parsed by the pure-Python loader and by the C one). Per format:

* what a user would do instead: the library's parser alone, then followed by a plain cattrs
  converter or by pydantic v2 ``model_validate`` on equivalent models (and pydantic's own
  ``model_validate_json`` for JSON);
* trioconf: ``parse`` (decoding, the parser, the checks for what a config must not hold),
  the strict converter's structuring of what it parsed, and the two together, bytes in, typed
  snapshot out: the work one changed file costs a reload.

Also the YAML C loader's speed-up against the pure one by document size. Median per call.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import attrs
import cattrs
import tomli

from trioconf._converter import make_converter
from trioconf._formats import _yaml as trioconf_yaml
from trioconf._formats._parse import parse as trioconf_parse
from trioconf._sources import Format

from .readpath import per_call

SECTIONS = [f"section{i}" for i in range(5)]
# Sections in the YAML size ladder: 30 fields (~35 lines), 150 and 1,500 (~1,650 lines).
YAML_SIZES = (1, 5, 50)
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


def data(sections: int = len(SECTIONS)) -> dict[str, Any]:
    """The nested config: 150 fields with the default 5 sections."""
    return {
        f"section{i}": {
            sub: {f"f{j}": _leaf_value(i, j) for j in range(LEAVES)} for sub in SUBSECTIONS
        }
        for i in range(sections)
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


@contextmanager
def pure_yaml() -> Iterator[None]:
    """Make trioconf's YAML parsing take its pure-Python path, as without ``ruamel.yaml.clib``.

    trioconf picks the C loader when its module-level ``_CSafeLoader`` is set (both the
    pre-scan and the load check it), so clearing it is what uninstalling the extension does.
    """
    saved = trioconf_yaml._CSafeLoader
    trioconf_yaml._CSafeLoader = None
    try:
        yield
    finally:
        trioconf_yaml._CSafeLoader = saved


def _yaml_loader(pure: bool) -> Callable[[str], Any]:
    """What a user would write: one ``YAML(typ="safe")`` instance, reused. Without
    ``pure=True`` ruamel.yaml runs its C parser when ``ruamel.yaml.clib`` is installed."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True) if pure else YAML(typ="safe")
    return yaml.load


@attrs.frozen
class _Format:
    fmt: Format
    library: str
    parser: Callable[[str], Any]
    pure_yaml: bool = False


def _formats() -> dict[str, _Format]:
    formats = {
        "JSON": _Format("json", "json", json.loads),
        "TOML": _Format("toml", f"tomli {importlib.metadata.version('tomli')}", tomli.loads),
    }
    if sys.version_info >= (3, 11):
        import tomllib

        formats["TOML, stdlib"] = _Format("toml", "tomllib", tomllib.loads)
    formats["YAML, pure Python"] = _Format(
        "yaml", "ruamel.yaml safe, pure", _yaml_loader(pure=True), pure_yaml=True
    )
    if trioconf_yaml.yaml_c_loader_available():
        formats["YAML, C loader"] = _Format(
            "yaml", "ruamel.yaml safe + clib", _yaml_loader(pure=False)
        )
    return formats


def run(quick: bool) -> dict[str, Any]:
    """Seconds per call: per format (``parse``), per structurer (``structure``), and the YAML
    C loader's speed-up by document size (``yaml_sizes``)."""
    # A quick run (CI's smoke run) only checks that every path runs: ~20 ms per figure.
    repeat, budget = (1, 0.02) if quick else (7, 0.2)

    def time_it(stmt: Callable[[], object]) -> float:
        return per_call(stmt, repeat, budget=budget)

    tree = data()
    docs = documents(tree)
    big = attrs_model()
    plain = cattrs.Converter()
    strict = make_converter()
    try:
        model: Any = pydantic_model()
    except ImportError:
        model = None
    rows: dict[str, Any] = {"fields": sum(1 for _ in _leaves(tree)), "parse": {}, "structure": {}}
    for name, f in _formats().items():
        text = docs[f.fmt]
        raw = text.encode()
        parser = f.parser
        with pure_yaml() if f.pure_yaml else nullcontext():
            # Same data from every path before anything is timed.
            assert parser(text) == tree, name
            assert trioconf_parse(raw, f.fmt, "bench") == tree, name
            entry: dict[str, Any] = {"library": f.library, "bytes": len(raw)}
            entry["parser"] = time_it(lambda p=parser, t=text: p(t))
            entry["parser + cattrs"] = time_it(lambda p=parser, t=text: plain.structure(p(t), big))
            if model is not None:
                entry["parser + pydantic"] = time_it(
                    lambda p=parser, t=text: model.model_validate(p(t))
                )
                if f.fmt == "json":
                    entry["pydantic json"] = time_it(lambda r=raw: model.model_validate_json(r))
            if name != "TOML, stdlib":  # trioconf parses TOML with tomli on every Python
                entry["trioconf.parse"] = time_it(
                    lambda r=raw, t=f.fmt: trioconf_parse(r, t, "bench")
                )
                parsed = trioconf_parse(raw, f.fmt, "bench")
                entry["trioconf structure"] = time_it(lambda d=parsed: strict.structure(d, big))
                entry["trioconf end-to-end"] = time_it(
                    lambda r=raw, t=f.fmt: strict.structure(trioconf_parse(r, t, "bench"), big)
                )
        rows["parse"][name] = entry
    assert plain.structure(tree, big) == strict.structure(tree, big)
    rows["structure"]["cattrs, plain Converter"] = time_it(lambda: plain.structure(tree, big))
    rows["structure"]["cattrs, trioconf's strict converter"] = time_it(
        lambda: strict.structure(tree, big)
    )
    if model is not None:
        model.model_validate(tree)
        rows["structure"]["pydantic v2 model_validate"] = time_it(
            lambda: model.model_validate(tree)
        )
    if trioconf_yaml.yaml_c_loader_available():
        rows["yaml_sizes"] = yaml_sizes(time_it)
    return rows


def yaml_sizes(time_it: Callable[[Callable[[], object]], float]) -> list[dict[str, Any]]:
    """trioconf.parse on YAML of growing size, with the C loader and with the pure one."""
    out = []
    for sections in YAML_SIZES:
        tree = data(sections)
        raw = documents(tree)["yaml"].encode()
        c_loader = time_it(lambda r=raw: trioconf_parse(r, "yaml", "bench"))
        with pure_yaml():
            pure = time_it(lambda r=raw: trioconf_parse(r, "yaml", "bench"))
        out.append(
            {
                "fields": sum(1 for _ in _leaves(tree)),
                "bytes": len(raw),
                "lines": raw.count(b"\n"),
                "pure": pure,
                "c": c_loader,
            }
        )
    return out


def _leaves(tree: Any) -> Any:
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _leaves(v)
    else:
        yield tree
