"""The YAML C loader against the pure-Python one: same data, same errors, on a broad corpus.

trioconf parses YAML with the C loader of ``ruamel.yaml.clib`` whenever it is importable (about
ten times faster) and with the pure one otherwise; a user must not be able to tell which ran
from anything but the time it took. Each document of the corpus goes through ``parse`` twice:
as installed (the C loader) and with ``_yaml._CSafeLoader`` cleared, which is exactly the state
of a machine without the extension (the event pre-scan and the load both fall back to the pure
parser). Data are compared by ``repr``, so that types count (``True`` is not ``1``) and NaN
equals NaN; bad documents must fail with the same reason at the same line and column.

Documents with a ``%YAML 1.1`` directive are the exception by design: the C parser ignores the
directive (``yes`` stays a string), so trioconf sends them to the pure loader.
"""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml import main as yaml_main

from trioconf._errors import ParseError
from trioconf._formats import _yaml as formats_yaml
from trioconf._formats import parse, yaml_c_loader_available

pytestmark = pytest.mark.skipif(
    not yaml_c_loader_available(), reason="ruamel.yaml.clib is not installed"
)


def doc(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


# Documents both loaders must read to the same data. Every top level is a mapping (a config).
GOOD = {
    # --- scalars: YAML 1.2 core schema, and the YAML 1.1 forms it reads differently
    "bools-1.2": doc("a: true", "b: false", "c: True", "d: FALSE", "e: TRUE"),
    "bools-1.1-words": doc(
        "a: yes", "b: no", "c: on", "d: off", "e: y", "f: n", "g: Yes", "h: OFF"
    ),
    "null-forms": doc("a: ~", "b: null", "c: Null", "d: NULL", "e:", "f: ''", "g: 'null'"),
    "ints": doc("a: 0", "b: -0", "c: +12", "d: 1_000", "e: 123456789012345678901234567890"),
    "octal-1.2-and-1.1": doc("a: 0o17", "b: 017", "c: 0o0", "d: 08", "e: 0777"),
    "hex-and-binary": doc("a: 0x1F", "b: 0xff", "c: 0b101", "d: -0x1"),
    "floats": doc("a: 1.5", "b: -2.5e3", "c: 1e5", "d: 1E-3", "e: .5", "f: 6.", "g: 1.10"),
    "float-exponent-forms": doc("a: 1.0e+5", "b: 1e+5", "c: 12e03", "d: -1.2E-7"),
    "infinities": doc("a: .inf", "b: -.Inf", "c: +.INF"),
    "nan": doc("a: .nan", "b: .NaN", "c: .NAN"),
    "sexagesimal-1.1": doc("a: 1:20", "b: 190:20:30", "c: 1:20.5", "d: -1:30"),
    "timestamps": doc(
        "a: 2001-12-14t21:59:43.10-05:00",
        "b: 2001-12-14 21:59:43.10 -5",
        "c: 2002-12-14",
        "d: 2001-12-15T02:59:43.1Z",
        "e: 2001-12-14 21:59:43.10",
        "f: 2024-02-29T00:00:00+01:30",
    ),
    "not-quite-timestamps": doc("a: 2001-1-1", "b: 2001-13-01x", "c: '2002-12-14'", "d: 20:03"),
    "numbers-as-strings": doc("a: '123'", 'b: "1.5"', "c: 1.2.3", "d: 0x", "e: 1e", "f: +"),
    "version-like": doc("a: 1.10", "b: 3.10", "c: v1.2", "d: 1.0.0"),
    "plain-special-words": doc("a: NaN", "b: inf", "c: Infinity", "d: none", "e: nil"),
    # --- strings and quoting
    "quoting": doc(
        "a: 'single ''quoted'''",
        'b: "double \\t tab \\u00e9 \\x41 \\\\ \\" end"',
        "c: plain text, with:colons - and dashes",
        'd: "line\\nbreak"',
        "e: '  spaces kept  '",
        "f: 'a # not a comment'",
    ),
    "escapes": doc(r'a: "\0\a\b\e\f\r\v\N\_\L\P"', r'b: "\U0001F600"', r'c: "\/"'),
    "multi-line": doc(
        "literal: |",
        "  line one",
        "    indented",
        "  line three",
        "literal_strip: |-",
        "  no newline",
        "literal_keep: |+",
        "  kept",
        "",
        "folded: >",
        "  folded",
        "  into one",
        "",
        "  new paragraph",
        "folded_strip: >-",
        "  a",
        "  b",
        "indicator: |2",
        "   two spaces of indent kept",
        "last: end",
    ),
    "multi-line-plain-and-quoted": doc(
        "plain: this is",
        "  a multi line",
        "  plain scalar",
        'quoted: "first',
        '  second"',
        "single: 'x",
        "",
        "  y'",
    ),
    "unicode": doc(
        "name: Zoë",
        "cjk: 日本語",
        "emoji: 😀",
        "rtl: שלום",
        "κλειδί: value",
        '"quoted ✓ key": 1',
        "combining: e\u0301",
    ),
    "bom": b"\xef\xbb\xbfa: 1\n",
    "crlf": b"a: 1\r\nb:\r\n  c: two\r\n",
    # --- structure
    "flow": doc("list: [1, two, 3.0, {k: v}, [a, b]]", "map: {a: 1, b: [x, y], c: {d: e}}"),
    "flow-multi-line": doc("list: [", "  1,", "  2,", "]", "map: {", "  a: 1,", "  b: 2", "}"),
    "block": doc(
        "list:", "- 1", "- two", "- - nested", "  - seq", "- k: v", "  k2: v2", "empty_list: []"
    ),
    "block-indented-seq": doc("list:", "  - a", "  - b", "map:", "    deep:", "        x: 1"),
    "empty-values": doc("a:", "b: {}", "c: []", "d: ''", 'e: ""', "f:", "  - ", "  -", "g: ~"),
    "complex-key-syntax": doc("? explicit key", ": value", "? |", "  block key", ": 2"),
    "deep-nesting": doc(*[("  " * i) + f"level{i}:" for i in range(60)], ("  " * 60) + "leaf: 1"),
    "deep-flow-nesting": ("a: " + "[" * 50 + "1" + "]" * 50 + "\n").encode(),
    "comments": doc(
        "# a comment first",
        "a: 1  # trailing",
        "# between",
        "b:  # on a key",
        "  - x  # in a list",
        "  # inside",
        "  - y",
        "c: 'has # inside'",
        "d: value#not-a-comment",
        "# last",
    ),
    "document-markers": doc("---", "a: 1", "..."),
    "document-marker-with-comment": doc("--- # start", "a: 1"),
    # --- anchors, aliases, merge keys
    "anchors-and-aliases": doc(
        "base: &b {x: 1, y: 2}",
        "again: *b",
        "scalar: &s shared",
        "list: [*s, *s]",
        "seq: &q [1, 2]",
        "seq_again: *q",
    ),
    "merge-key": doc("base: &b {x: 1, y: 2}", "use:", "  <<: *b", "  y: 3"),
    "merge-key-list": doc(
        "one: &o {a: 1, b: 1}",
        "two: &t {b: 2, c: 2}",
        "both:",
        "  <<: [*o, *t]",
        "  d: 4",
    ),
    "merge-key-block": doc(
        "defaults: &defaults",
        "  adapter: postgres",
        "  host: localhost",
        "development:",
        "  database: dev",
        "  <<: *defaults",
        "test:",
        "  <<: *defaults",
        "  host: elsewhere",
    ),
    # --- explicit tags
    "explicit-tags": doc(
        "a: !!str 123",
        "b: !!int '7'",
        "c: !!float '1'",
        "d: !!null ''",
        "e: !!bool 'true'",
        "f: !!str yes",
        "g: !!float 1",
        "h: !!map {k: v}",
        "i: !!seq [1]",
        "j: !!timestamp 2001-12-14",
        "k: !!str",
    ),
    "explicit-tag-full-form": doc("a: !<tag:yaml.org,2002:str> 5", "b: !<tag:yaml.org,2002:int> 6"),
    "tag-directive": doc("%TAG !e! tag:yaml.org,2002:", "---", "a: !e!str 5"),
    "yaml-1.2-directive": doc("%YAML 1.2", "---", "a: yes", "b: 0o17", "c: 017", "d: 1:20"),
    # --- keys
    "keys-that-look-like-values": doc("'true': a", "'1': b", "'null': c", "yes: d", "on: e"),
    "long-keys-and-values": doc("k" * 1000 + ": " + "v" * 5000),
    "many-keys": doc(*[f"key{i}: {i}" for i in range(500)]),
    "anchor-on-empty-value": doc("a: 1", "b: &x", "c: *x"),
}

# Documents both loaders must refuse with the same ParseError (reason, line and column).
BAD = {
    "unclosed-flow-seq": doc("a: [1, 2", "b: 3"),
    "unclosed-flow-map": doc("a: {x: 1", "b: 2"),
    "flow-missing-comma": doc("a: [1 2: 3]", "b: {x: 1 y: 2}"),
    "bad-indentation": doc("a:", "  b: 1", " c: 2"),
    "mapping-in-scalar-line": doc("a: b: c"),
    "tab-indentation": b"a:\n\tb: 1\n",
    "unclosed-double-quote": doc('a: "open', "b: 1"),
    "unclosed-single-quote": doc("a: 'open", "b: 1"),
    "bad-escape": doc(r'a: "\q"'),
    "undefined-alias": doc("a: *nowhere"),
    "recursive-alias": doc("a: &x [1, *x]"),
    "duplicate-key": doc("a: 1", "b: 2", "a: 3"),
    "duplicate-key-nested": doc("a:", "  x: 1", "  x: 2"),
    "duplicate-key-flow": doc("a: {x: 1, x: 2}"),
    "two-documents": doc("a: 1", "---", "b: 2"),
    "top-level-list": doc("- 1", "- 2"),
    "top-level-scalar": doc("just a string"),
    "top-level-null": doc("~"),
    "only-comments": doc("# nothing", "# here"),
    "only-marker": doc("---"),
    "int-key": doc("1: a"),
    "bool-key": doc("true: a"),
    "null-key": doc("~: a"),
    "list-key": doc("? [a, b]", ": c"),
    "unknown-tag": doc("a: !custom thing"),
    "python-tag": doc("a: !!python/object:os.system ls"),
    "binary-tag": doc("a: !!binary aGVsbG8="),
    "set-tag": doc("a: !!set {x, y}"),
    "omap-tag": doc("a: !!omap [x: 1]"),
    "bad-int-tag": doc("a: !!int abc"),
    "bad-timestamp-tag": doc("a: !!timestamp not-a-date"),
    "merge-of-scalar": doc("a:", "  <<: 5"),
    "control-character": b"a: 1\nb: x\x07y\n",
    "invalid-utf8": b"a: 1\nb: \xff\n",
    "nul-byte": b"a: 1\nb: \x00\n",
    "nan-refused": doc("a: 1", "b: .nan"),
    "inf-refused": doc("a: 1", "b: -.inf"),
    "too-deep": ("a: " + "[" * 300 + "]" * 300 + "\n").encode(),
    "alias-bomb": doc(
        'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]',
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
    ),
    "directive-without-marker": doc("%YAML 1.2", "a: 1"),
    "unknown-yaml-version": doc("%YAML 2.0", "---", "a: 1"),
    "block-scalar-bad-indent": doc("a: |", "    four", "  two"),
}

# Documents with a %YAML 1.1 directive: only the pure loader honours it.
YAML_1_1 = {
    "1.1-booleans": (
        doc("%YAML 1.1", "---", "a: yes", "b: no", "c: on", "d: off", "e: y"),
        {"a": True, "b": False, "c": True, "d": False, "e": True},
    ),
    "1.1-octal-and-sexagesimal": (
        doc("%YAML 1.1", "---", "octal: 017", "sexagesimal: 1:20", "plain: 0o17"),
        {"octal": 15, "sexagesimal": 80, "plain": "0o17"},
    ),
}


def outcome(raw: bytes, allow_nan: bool = False) -> tuple[Any, ...]:
    """What trioconf's parse makes of ``raw``: its data (as a repr) or its error."""
    try:
        data = parse(raw, "yaml", "corpus.yaml", allow_nan=allow_nan)
    except ParseError as exc:
        return ("error", exc.reason, exc.line, exc.column, _made_by_c_parser(exc))
    return ("data", repr(data))


def _made_by_c_parser(error: ParseError) -> bool:
    """True when the error's mark comes from the C parser (its marks have their own class)."""
    parser = yaml_main.CParser("a: 1")
    try:
        parser.get_event()
        c_mark = type(parser.get_event().start_mark)
    finally:
        parser.dispose()
    return isinstance(getattr(error.__cause__, "problem_mark", None), c_mark)


def both(raw: bytes, allow_nan: bool = False) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(C loader outcome, pure loader outcome) of one document."""
    c_loader = outcome(raw, allow_nan)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(formats_yaml, "_CSafeLoader", None)
        pure_loader = outcome(raw, allow_nan)
    return c_loader, pure_loader


@pytest.mark.parametrize("raw", GOOD.values(), ids=GOOD.keys())
def test_same_data(raw: bytes) -> None:
    c_loader, pure_loader = both(raw, allow_nan=True)
    assert c_loader[0] == "data", c_loader
    assert c_loader == pure_loader


@pytest.mark.parametrize("raw", BAD.values(), ids=BAD.keys())
def test_same_error(raw: bytes) -> None:
    c_loader, pure_loader = both(raw)
    assert c_loader[0] == "error", c_loader
    # Reason, line and column. libyaml words many syntax errors its own way, so a document the
    # C parser refuses is parsed again by the pure one for its error. The last item says
    # whether the reported error came from the C parser: never (and on the pure path, never
    # either, else it was not the pure path).
    assert c_loader[:4] == pure_loader[:4]
    assert not c_loader[4]
    assert not pure_loader[4]


@pytest.mark.parametrize("raw", BAD.values(), ids=BAD.keys())
def test_same_error_line(raw: bytes) -> None:
    c_loader, pure_loader = both(raw)
    assert c_loader[0] == pure_loader[0] == "error"
    assert c_loader[2] == pure_loader[2]


def test_pure_is_really_pure_and_c_really_c(monkeypatch: pytest.MonkeyPatch) -> None:
    # The two paths compared above must be the two loaders: count what the C loader builds.
    from support import record_c_loads

    built = record_c_loads(monkeypatch)
    assert outcome(b"a: 1\n")[0] == "data"
    assert built == ["a: 1\n"]
    _, pure_loader = both(b"b: 2\n")
    assert pure_loader[0] == "data"
    assert built == ["a: 1\n", "b: 2\n"]  # the C run of both(), not the pure one


def test_yaml_1_1_forms_read_as_yaml_1_2_without_a_directive() -> None:
    # The corpus's YAML 1.1 forms are plain strings (and 017 decimal) in both loaders.
    raw = doc("a: yes", "b: off", "c: 1:20", "d: 0o17", "e: 017")
    expected = {"a": "yes", "b": "off", "c": "1:20", "d": 15, "e": 17}
    c_loader, pure_loader = both(raw)
    assert c_loader == pure_loader == ("data", repr(expected))


@pytest.mark.parametrize(("raw", "expected"), YAML_1_1.values(), ids=YAML_1_1.keys())
def test_yaml_1_1_documents_go_to_the_pure_loader(raw: bytes, expected: dict[str, Any]) -> None:
    text = raw.decode()
    # The C loader reads these forms by YAML 1.2 rules despite the directive...
    c_data = formats_yaml._yaml_load(text, pure=False)
    assert c_data != expected
    # ...the pure loader honours it, and parse gives the pure loader's answer.
    assert YAML(typ="safe", pure=True).load(text) == expected
    assert repr(parse(raw, "yaml", "corpus.yaml")) == repr(expected)


def test_yaml_1_1_errors_come_from_the_pure_parser() -> None:
    c_loader, pure_loader = both(doc("%YAML 1.1", "---", "a: 1", "a: 2"))
    assert c_loader == pure_loader
    assert c_loader[:4] == ("error", c_loader[1], 4, 1)
    assert not c_loader[4]
