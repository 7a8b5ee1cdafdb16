"""The YAML C loader against the pure-Python one: one answer per document, on a broad corpus.

trioconf parses YAML with the C loader of ``ruamel.yaml.clib`` whenever it is importable (about
ten times faster) and with the pure one otherwise; a user must not be able to tell which ran
from anything but the time it took. Each document of the corpus goes through ``parse`` twice:
as installed (the C loader) and with ``_yaml._CSafeLoader`` cleared, which is exactly the state
of a machine without the extension (the event pre-scan and the load both fall back to the pure
parser). Data are compared by ``repr``, so that types count (``True`` is not ``1``) and NaN
equals NaN; bad documents must fail with the same reason at the same line and column.

A document the C path refuses gets the pure path's answer, data or error, limits included.
The exceptions are pinned at the end: the documents libyaml accepts though the pure loader
refuses them or reads them otherwise (their C answer stands, for speed). Documents with a
``%YAML 1.1`` directive go to the pure loader by design: the C parser ignores the directive
(``yes`` stays a string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from ruamel.yaml import YAML
from ruamel.yaml import main as yaml_main
from ruamel.yaml.error import YAMLError

import trioconf
from trioconf._errors import ParseError
from trioconf._formats import _yaml as formats_yaml
from trioconf._formats import locate, parse, yaml_c_loader_available

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
    "recursive-alias-to-an-anchor-defined-again": doc("a: &x [&x [*x]]"),
    "duplicate-key": doc("a: 1", "b: 2", "a: 3"),
    "duplicate-key-nested": doc("a:", "  x: 1", "  x: 2"),
    "duplicate-key-flow": doc("a: {x: 1, x: 2}"),
    "two-documents": doc("a: 1", "---", "b: 2"),
    "top-level-list": doc("- 1", "- 2"),
    "top-level-scalar": doc("just a string"),
    "top-level-null": doc("~"),
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
    # yaml-test-suite MUS6/00 and MUS6/03 (below): libyaml reads these %YAML 1.1 directives and
    # the pure scanner does not; a 1.1 document goes to the pure loader, so both refuse.
    "MUS6/00": b"%YAML 1.1#...\n---\n",
    "MUS6/03": b"%YAML \t 1.1\n---\n",
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
    # Reason, line and column. libyaml words many syntax errors its own way, and a document the
    # C path refuses gets the pure path's answer, error included. The last item says
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


# ---- where libyaml and the pure loader disagree
#
# Documents from the YAML test suite (https://github.com/yaml/yaml-test-suite, its "data"
# branch, MIT licence), named by its test ids ("/01": a variant of a test). All 402 of its
# cases were run through trioconf with both loaders (ruamel.yaml 0.19.1, ruamel.yaml.clib
# 0.2.15); these are all that the two answer differently, in data, error or an error's place,
# and all that libyaml alone refuses. The other names are the same cases as a config would
# write them.
# An answer is the data, or the ParseError's (reason, line, column).

# libyaml refuses them; the pure loader reads them. trioconf gives the pure loader's answer,
# with ruamel.yaml.clib or without, so a file that loads on one machine loads on all. Most are
# valid YAML 1.2 that libyaml does not know (tabs in block scalars, an anchor defined again,
# `:` starting or inside a plain scalar in flow, anchor names beyond [A-Za-z0-9_-]); some are
# no config (a top level that is no mapping, a null key): the pure answer is then an error.
C_REFUSES: dict[str, tuple[bytes, Any]] = {
    # Tabs as content of a block scalar: a Makefile recipe, a blank line an editor left a tab on.
    "96NN/00": (b"foo: |-\n \tbar\n", {"foo": "\tbar"}),
    "96NN/01": (b"foo: |-\n \tbar", {"foo": "\tbar"}),
    "Y79Y/001": (b"foo: |\n \t\nbar: 1\n", {"foo": "\t\n", "bar": 1}),
    "makefile-recipe": (
        doc("makefile: |", "  \tcc -o app main.c", "name: app"),
        {"makefile": "\tcc -o app main.c\n", "name": "app"},
    ),
    # An anchor defined again: an alias means the latest definition.
    "3GZX": (
        doc(
            "First occurrence: &anchor Foo",
            "Second occurrence: *anchor",
            "Override anchor: &anchor Bar",
            "Reuse anchor: *anchor",
        ),
        {
            "First occurrence": "Foo",
            "Second occurrence": "Foo",
            "Override anchor": "Bar",
            "Reuse anchor": "Bar",
        },
    ),
    "anchor-defined-again-for-merge-keys": (
        doc(
            "x-base: &base",
            "  image: app:1",
            "web:",
            "  <<: *base",
            "x-next: &base",
            "  image: app:2",
            "worker:",
            "  <<: *base",
        ),
        {
            "x-base": {"image": "app:1"},
            "web": {"image": "app:1"},
            "x-next": {"image": "app:2"},
            "worker": {"image": "app:2"},
        },
    ),
    "anchor-defined-again-inside-its-node": (
        doc("a: &x [&x 1, *x]", "b: &y {k: &y v, j: *y}", "c: *y"),
        {"a": [1, 1], "b": {"k": "v", "j": "v"}, "c": "v"},
    ),
    "PW8X": (
        b"- &a\n- a\n-\n  &a : a\n  b: &b\n-\n  &c : &a\n-\n  ? &d\n-\n  ? &e\n  : &a\n",
        ("the top level must be a mapping, not list", 1, 1),
    ),
    # `:` in plain scalars in flow collections, URLs.
    "58MP": (b"{x: :x}\n", {"x": ":x"}),
    "urls-in-a-flow-mapping": (
        doc("links: {home: http://example.org, docs: http://example.org/docs}"),
        {"links": {"home": "http://example.org", "docs": "http://example.org/docs"}},
    ),
    "UDM2": (
        b"- { url: http://example.org }\n",
        ("the top level must be a mapping, not list", 1, 1),
    ),
    "5T43": (
        b'- { "key":value }\n- { "key"::value }\n',
        ("the top level must be a mapping, not list", 1, 1),
    ),
    "HM87/00": (b"[:x]\n", ("the top level must be a mapping, not list", 1, 1)),
    "DBG4": (
        doc(
            "# Outside flow collection:",
            "- ::vector",
            '- ": - ()"',
            "- Up, up, and away!",
            "- -123",
            "- http://example.com/foo#bar",
            "# Inside flow collection:",
            "- [ ::vector,",
            '  ": - ()",',
            '  "Up, up and away!",',
            "  -123,",
            "  http://example.com/foo#bar ]",
        ),
        ("the top level must be a mapping, not list", 2, 1),
    ),
    "JR7V": (
        doc(
            "- a?string",
            "- another ? string",
            "- key: value?",
            "- [a?string]",
            "- [another ? string]",
            "- {key: value? }",
            "- {key: value?}",
            "- {key?: value }",
        ),
        ("the top level must be a mapping, not list", 1, 1),
    ),
    # The pure loader keeps the `:` of `omitted value:` in the key, where the suite reads
    # "omitted value": the one case here whose pure answer is itself not the suite's.
    "4ABK": (
        doc("{", 'unquoted : "separate",', "http://foo.com,", "omitted value:,", "}"),
        {"unquoted": "separate", "http://foo.com": None, "omitted value:": None},
    ),
    # Anchor names: YAML 1.2 allows any non-space character but flow indicators.
    "2SXE": (b"&a: key: &a value\nfoo:\n  *a:\n", {"key": "value", "foo": "key"}),
    "W5VH": (b'a: &:@*!$"<foo>: scalar a\nb: *:@*!$"<foo>:\n', {"a": "scalar a", "b": "scalar a"}),
    "8XYN": (
        "---\n- &\U0001f601 unicode anchor\n".encode(),
        ("the top level must be a mapping, not list", 2, 1),
    ),
    # Reserved directives, which a parser must ignore.
    "2LFX": (
        doc("%FOO  bar baz # Should be ignored", "              # with a warning.", "---", '"foo"'),
        ("the top level must be a mapping, not str", 4, 1),
    ),
    "6LVF": (
        doc("%FOO  bar baz # Should be ignored", "              # with a warning.", '--- "foo"'),
        ("the top level must be a mapping, not str", 3, 5),
    ),
    # A reserved directive and an empty document: a layer that sets nothing.
    "MUS6/05": (b"%YAM 1.1\n---\n", {}),
    "MUS6/06": (b"%YAMLL 1.1\n---\n", {}),
    # A block scalar at indentation 0 on the top level.
    "FP8R": (b"--- >\nline1\nline2\nline3\n", ("the top level must be a mapping, not str", 1, 5)),
    "DK3J": (
        b"--- >\nline1\n# no comment\nline3\n",
        ("the top level must be a mapping, not str", 1, 5),
    ),
    # Empty (null) keys.
    "6M2F": (b"? &a a\n: &b b\n: *a\n", ("mapping key None in (top level) is not a string", 3, 1)),
    "FRK4": (
        b"{\n  ? foo :,\n  : bar,\n}\n",
        ("mapping key None in (top level) is not a string", 3, 4),
    ),
    "NHX8": (b":\n\n\n", ("mapping key None in (top level) is not a string", 1, 1)),
    "S3PD": (
        doc("plain key: in-line value", ": # Both empty", '"quoted key":', "- entry"),
        ("mapping key None in (top level) is not a string", 2, 1),
    ),
    "SM9W/01": (b":", ("mapping key None in (top level) is not a string", 1, 1)),
    "UKK6/00": (b"- :\n", ("the top level must be a mapping, not list", 1, 1)),
    # Several documents.
    "7Z25": (b"---\nscalar1\n...\nkey: value\n", ("more than one document in the file", 4, 1)),
    "NKF9": (
        doc(
            *("---", "key: value", ": empty key", "---", "{", " key: value, : empty key", "}"),
            *("---", "# empty key and value", ":", "---", "# empty key and value", "{ : }"),
        ),
        ("more than one document in the file", 4, 1),
    ),
    "W4TN": (
        doc("%YAML 1.2", "--- |", "%!PS-Adobe-2.0", "...", "%YAML 1.2", "---", "# Empty", "..."),
        ("more than one document in the file", 6, 1),
    ),
}


# libyaml accepts them; the pure loader refuses them or reads them otherwise. trioconf keeps
# libyaml's answer where ruamel.yaml.clib is installed: knowing that the pure loader disagrees
# would take the pure parse of every document, the 10x the C loader is there to save. Where the
# two answer differently, libyaml is the one that follows the spec, but for S98Z and X4QW
# (invalid documents it accepts) and Y2GN (an anchor name with a colon). docs/sources.rst lists
# them. Each entry: the document, the answer with the C loader, the answer without it.
TAB = "while scanning for the next token: found character '\\t' that cannot start any token"
MORE_INDENTED = "more indented follow up line than first in a block scalar"
C_ACCEPTS: dict[str, tuple[bytes, Any, Any]] = {
    # Tabs as separation: trailing a value, alone on a line, after indentation.
    "DC7X": (
        b"a: b\t\nseq:\t\n - a\t\nc: d\t#X\n",
        {"a": "b", "seq": ["a"], "c": "d"},
        (TAB, 1, 5),
    ),
    "tab-after-a-value": (
        b"name: app\t\nport: 8080\n",
        {"name": "app", "port": 8080},
        (TAB, 1, 10),
    ),
    "DK95/05": (b"foo: 1\n \t\nbar: 2\n", {"foo": 1, "bar": 2}, (TAB, 2, 2)),
    "NB6Z": (
        b"key:\n  value\n  with\n  \t\n  tabs\n",
        {"key": "value with\ntabs"},
        (TAB, 4, 3),
    ),
    "J3BT": (
        b'# Tabs and spaces\nquoted: "Quoted \t"\nblock:\t|\n'
        b'  void main() {\n  \tprintf("Hello, world!\\n");\n  }\n',
        {"quoted": "Quoted \t", "block": 'void main() {\n\tprintf("Hello, world!\\n");\n}\n'},
        (TAB, 3, 7),
    ),
    "UV7Q": (b"x:\n - x\n  \tx\n", {"x": ["x x"]}, (TAB, 3, 3)),
    "DK95/07": (b"%YAML 1.2\n\t\n---\n", {}, (TAB, 2, 1)),
    "DK95/07-as-a-config": (b"%YAML 1.2\n\t\n---\nkey: value\n", {"key": "value"}, (TAB, 2, 1)),
    "HS5T": (
        b"1st non-empty\n\n 2nd non-empty \n\t3rd non-empty\n",
        ("the top level must be a mapping, not str", 1, 1),
        (TAB, 4, 1),
    ),
    "K54U": (b"---\tscalar\n", ("the top level must be a mapping, not str", 1, 5), (TAB, 1, 4)),
    # Block scalars whose first lines are empty, one of them indented more than the content.
    "DWX9": (
        b"|\n \n  \n  literal\n   \n  \n  text\n\n # Comment\n",
        ("the top level must be a mapping, not str", 1, 1),
        (MORE_INDENTED, 4, 3),
    ),
    "T26H": (
        b"--- |\n \n  \n  literal\n   \n  \n  text\n\n # Comment\n",
        ("the top level must be a mapping, not str", 1, 5),
        (MORE_INDENTED, 4, 3),
    ),
    "DWX9-as-a-config": (
        doc("text: |", " ", "  ", "  literal", "   ", "  ", "  text", "", " # Comment"),
        {"text": "\n\nliteral\n \n\ntext\n"},
        (MORE_INDENTED, 4, 3),
    ),
    "4QFQ": (
        b"- |\n detected\n- >\n \n  \n  # detected\n- |1\n  explicit\n- >\n detected\n",
        ("the top level must be a mapping, not list", 1, 1),
        (MORE_INDENTED, 6, 3),
    ),
    "4QFQ-as-a-config": (
        doc(
            *("a: |", " detected", "b: >", " ", "  ", "  # detected"),
            *("c: |1", "  explicit", "d: >", " detected"),
        ),
        {"a": "detected\n", "b": "\n\n# detected\n", "c": " explicit\n", "d": "detected\n"},
        (MORE_INDENTED, 6, 3),
    ),
    # Invalid YAML that libyaml accepts.
    "S98Z": (
        b"empty block scalar: >\n \n  \n   \n # comment\n",
        {"empty block scalar": ""},
        (MORE_INDENTED, 5, 2),
    ),
    "X4QW": (
        b"block: ># comment\n  scalar\n",
        {"block": "scalar\n"},
        (
            "while scanning a block scalar (line 1): "
            "expected chomping or indentation indicators, but found '#'",
            1,
            9,
        ),
    ),
    # Read otherwise. libyaml ends an anchor name at `:`, the pure loader (and YAML 1.2) does not.
    "Y2GN": (b"---\nkey: &an:chor value\n", {"key": ":chor value"}, {"key": "value"}),
    # `!` alone, the non-specific tag, makes an empty scalar a string: "" (libyaml), not None.
    "UKK6/02": (
        b"!\n",
        ("the top level must be a mapping, not str", 1, 1),
        ("the top level must be a mapping, not null", 1, 1),
    ),
    "UKK6/02-as-a-config": (b"key: !\n", {"key": ""}, {"key": None}),
    # libyaml places an empty key's node at the next token: the same error, on another line.
    "DFF7": (
        doc("{", "? explicit: entry,", "implicit: entry,", "?", "}"),
        ("mapping key None in (top level) is not a string", 5, 1),
        ("mapping key None in (top level) is not a string", 4, 2),
    ),
}


def answer(raw: bytes, allow_nan: bool = True) -> Any:
    """trioconf's answer for ``raw``: its data, or its error's (reason, line, column)."""
    try:
        return parse(raw, "yaml", "corpus.yaml", allow_nan=allow_nan)
    except ParseError as exc:
        return (exc.reason, exc.line, exc.column)


def answers(raw: bytes, allow_nan: bool = True) -> tuple[Any, Any]:
    """(answer with the C loader, answer without ruamel.yaml.clib)."""
    with_c = answer(raw, allow_nan)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(formats_yaml, "_CSafeLoader", None)
        return with_c, answer(raw, allow_nan)


def libyaml_refuses(raw: bytes) -> bool:
    """Whether the C loader on its own, every document of the stream, raises on ``raw``."""
    loader = formats_yaml._CSafeLoader(raw.decode())
    try:
        while loader.check_data():
            loader.get_data()
    except YAMLError:
        return True
    finally:
        loader.dispose()
    return False


@pytest.mark.parametrize(("raw", "expected"), C_REFUSES.values(), ids=C_REFUSES.keys())
def test_what_libyaml_refuses_gets_the_pure_loaders_answer(raw: bytes, expected: Any) -> None:
    # The case still shows the disagreement (a libyaml that reads it would land here).
    assert libyaml_refuses(raw)
    with_c, without_c = answers(raw)
    assert with_c == without_c == expected


# A first line libyaml refuses (a tab at the start of a block scalar's content), so that the C
# path stops there and never reaches what follows: the pure path alone sees the rest.
C_REFUSED_START = doc("makefile: |", "  \tcc -o app main.c")
BOMB = doc(
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]',
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
)
# What follows that line, and trioconf's error for the whole document.
OVER_A_LIMIT: dict[str, tuple[bytes, tuple[str, int, int]]] = {
    "depth": (
        b"deep: " + b"[" * 200 + b"]" * 200 + b"\n",
        ("nested too deeply (more than 128 levels)", 3, 134),
    ),
    "alias-bomb": (BOMB, ("more than 1000000 nodes once aliases are expanded", 9, 8)),
    "aliases": (
        b"x: &x 1\nmany: [" + b"*x, " * 101 + b"]\n",
        ("more than 100 aliases", 4, 408),
    ),
    "recursive-alias": (doc("r: &r [1, *r]"), ("recursive alias *r", 3, 11)),
    "two-documents": (doc("---", "b: 2"), ("more than one document in the file", 3, 1)),
    "duplicate-key": (
        doc("name: a", "name: b"),
        # Without the values: either may be a secret (tests/test_secrets.py).
        ('while constructing a mapping (line 1): found duplicate key "name"', 4, 1),
    ),
    "unknown-tag": (
        doc("t: !custom thing"),
        ("could not determine a constructor for the tag '!custom'", 3, 4),
    ),
    "python-tag": (
        doc("t: !!python/object:os.system ls"),
        (
            "could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
            3,
            4,
        ),
    ),
    "binary": (doc("b: !!binary aGVsbG8="), ("unsupported value of type bytes at b", 3, 1)),
    "set": (doc("s: !!set {x, y}"), ("unsupported value of type set at s", 3, 1)),
    "int-key": (doc("1: one"), ("mapping key 1 in (top level) is not a string", 3, 1)),
    "nan": (doc("n: .nan"), ("NaN at n (not allowed unless allow_nan=True)", 3, 1)),
}


@pytest.mark.parametrize(("rest", "expected"), OVER_A_LIMIT.values(), ids=OVER_A_LIMIT.keys())
def test_what_libyaml_refuses_is_held_to_every_limit(
    rest: bytes, expected: tuple[str, int, int]
) -> None:
    assert libyaml_refuses(C_REFUSED_START)
    assert isinstance(answer(C_REFUSED_START), dict)  # which the pure loader reads
    with_c, without_c = answers(C_REFUSED_START + rest, allow_nan=False)
    assert with_c == without_c == expected


@attrs.frozen
class Server:
    port: int


@attrs.frozen
class AppConfig:
    makefile: str
    server: Server


def test_a_field_is_located_in_a_document_libyaml_refuses(tmp_path: Path) -> None:
    # An error about a value names its line: positions come from the node tree of the loader
    # that gave the data, here the pure one.
    raw = doc("makefile: |", "  \tcc -o app main.c", "server:", "  port: eighty")
    assert libyaml_refuses(raw)
    assert locate(raw, "yaml", ("server", "port")) == (4, 3)
    path = tmp_path / "app.yaml"
    path.write_bytes(raw)
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(AppConfig, path)
    (error,) = info.value.errors
    assert (error.path, error.source, error.line, error.column) == ("server.port", str(path), 4, 3)


@pytest.mark.parametrize(
    ("raw", "c_answer", "pure_answer"), C_ACCEPTS.values(), ids=C_ACCEPTS.keys()
)
def test_what_libyaml_accepts_keeps_its_answer(raw: bytes, c_answer: Any, pure_answer: Any) -> None:
    assert not libyaml_refuses(raw)
    with_c, without_c = answers(raw)
    assert with_c == c_answer
    assert without_c == pure_answer
    assert with_c != without_c


async def test_a_save_libyaml_refuses_is_applied(tmp_path: Path) -> None:
    # End to end, a real file and a real watcher: the recipe with its tab is a new snapshot
    # where ruamel.yaml.clib is installed too, not a ParseError that keeps the old one.
    from support import PATIENCE, write_atomic

    path = tmp_path / "app.yaml"
    path.write_bytes(doc("makefile: build", "server:", "  port: 80"))
    async with trioconf.open_reloader(AppConfig, path, debounce=0) as live:
        saved = doc("makefile: |", "  \tcc -o app main.c", "server:", "  port: 81")
        assert libyaml_refuses(saved)
        with trio.fail_after(PATIENCE):
            write_atomic(path, saved.decode())
            config = await live.wait_value(lambda config: config.server.port == 81)
        assert config.makefile == "\tcc -o app main.c\n"
        assert live.last_error is None
