"""Parsing JSON, TOML and YAML: positions, safety limits, and locating key paths."""

from __future__ import annotations

import datetime
import json
import math
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
import trio_parallel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml import main as yaml_main

from trioconf._errors import ParseError
from trioconf._formats import (
    INLINE_LIMITS,
    MAX_DEPTH,
    YAML_MAX_ALIASES,
    YAML_MAX_NODES,
    _check_tree,
    _is_clean,
    _yaml_load,
    locate,
    parse,
    yaml_c_loader_available,
)
from trioconf._formats import _yaml as formats_yaml
from trioconf._sources import Format

C_PARSER: Any = getattr(yaml_main, "CParser", None)
FORMATS: tuple[Format, ...] = ("json", "toml", "yaml")
needs_c_loader = pytest.mark.skipif(
    not yaml_c_loader_available(), reason="ruamel.yaml.clib is not installed"
)


def parse_error(raw: bytes, fmt: Format, *, allow_nan: bool = False) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(raw, fmt, "conf", allow_nan=allow_nan)
    assert info.value.source == "conf"
    return info.value


def where(error: ParseError) -> tuple[int | None, int | None]:
    return error.line, error.column


# ---- the same document in every format

SAMPLES: dict[Format, bytes] = {
    "json": b'{"server": {"host": "h", "port": 80, "tags": ["a", "b"]}, "debug": false}\n',
    "toml": b'debug = false\n[server]\nhost = "h"\nport = 80\ntags = ["a", "b"]\n',
    "yaml": b"server:\n  host: h\n  port: 80\n  tags: [a, b]\ndebug: false\n",
}
EXPECTED = {"server": {"host": "h", "port": 80, "tags": ["a", "b"]}, "debug": False}


@pytest.mark.parametrize("fmt", FORMATS)
def test_parses_real_files_in_every_format(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / f"app.{fmt}"
    path.write_bytes(SAMPLES[fmt])
    assert parse(path.read_bytes(), fmt, str(path)) == EXPECTED


@pytest.mark.parametrize("fmt", FORMATS)
def test_utf8_bom_is_skipped(fmt: Format) -> None:
    assert parse(b"\xef\xbb\xbf" + SAMPLES[fmt], fmt, "conf") == EXPECTED


@pytest.mark.parametrize(
    ("fmt", "raw", "position"),
    [
        ("json", b'{\n  "name": "caf\xc3\xa9 \xff"\n}', (2, 17)),
        ("toml", b'a = 1\nname = "\xc3\xa9\xe9t\xc3\xa9"\n', (2, 10)),
        ("yaml", b"a: 1\nb: 2\nname: \xc3\xa9\xc3\xa9\x80\n", (3, 9)),
    ],
)
def test_non_utf8_names_line_and_column_of_first_bad_byte(
    fmt: Format, raw: bytes, position: tuple[int, int]
) -> None:
    error = parse_error(raw, fmt)
    assert "UTF-8" in error.reason
    assert where(error) == position


EMPTY = [b"", b"   \n\t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n"]


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
@pytest.mark.parametrize("raw", [*EMPTY, b"# nothing here yet\n\n# still nothing\n"])
def test_an_empty_toml_or_yaml_document_sets_nothing(fmt: Format, raw: bytes) -> None:
    # An override file with nothing in it yet is a layer, as other loaders read it. (The
    # reloader does not apply a file *emptied* under it at once: see Loader.refresh.)
    assert parse(raw, fmt, "conf") == {}


@pytest.mark.parametrize("raw", [b"---\n", b"%YAML 1.2\n---\n# overrides go here\n", b"---\n...\n"])
def test_a_yaml_document_with_no_content_sets_nothing(raw: bytes) -> None:
    assert parse(raw, "yaml", "conf") == {}


@pytest.mark.parametrize("raw", EMPTY)
def test_an_empty_json_document_is_an_error(raw: bytes) -> None:
    assert parse_error(raw, "json").reason == "empty document"


@pytest.mark.parametrize(
    ("fmt", "raw", "kind", "position"),
    [
        ("json", b"[1, 2]", "list", (1, 1)),
        ("json", b'\n  "text"', "str", (2, 3)),
        ("json", b"null", "null", (1, 1)),
        ("yaml", b"- a\n- b\n", "list", (1, 1)),
        ("yaml", b"# a scalar\njust text\n", "str", (2, 1)),
        ("yaml", b"~\n", "null", (1, 1)),
        ("yaml", b"--- ~\n", "null", (1, 5)),
    ],
)
def test_top_level_must_be_a_mapping(
    fmt: Format, raw: bytes, kind: str, position: tuple[int, int] | None
) -> None:
    error = parse_error(raw, fmt)
    assert error.reason == f"the top level must be a mapping, not {kind}"
    if position is not None:
        assert where(error) == position


# ---- JSON


def test_json_syntax_error_has_line_and_column() -> None:
    error = parse_error(b'{\n  "a": 1,\n  "b": ,\n}', "json")
    assert where(error) == (3, 8)
    assert error.reason == "Expecting value"
    assert str(error) == "conf:3:8: Expecting value"


def test_json_duplicate_key_is_an_error_at_the_duplicate() -> None:
    raw = b'{\n  "db": {\n    "port": 1,\n    "host": "x",\n    "port": 2\n  }\n}'
    error = parse_error(raw, "json")
    assert error.reason == "duplicate key 'port'"
    assert where(error) == (5, 5)


def test_json_same_key_in_different_objects_is_fine() -> None:
    assert parse(b'{"a": {"x": 1}, "b": {"x": 2}}', "json", "c") == {"a": {"x": 1}, "b": {"x": 2}}


def test_json_huge_integer_is_a_parse_error_not_a_value_error() -> None:
    # Python refuses int() of more than 4300 digits with ValueError; it must not escape.
    error = parse_error(b'{"n": ' + b"9" * 5000 + b"}", "json")
    assert "ValueError" in error.reason


# ---- NaN and infinity


@pytest.mark.parametrize(
    ("fmt", "raw", "message", "position"),
    [
        ("json", b'{"a": 1,\n "limits": {"max": NaN}}', "NaN at limits.max", (2, 13)),
        ("json", b'{"a": [1,\n  Infinity]}', "infinity at a[1]", (2, 3)),
        ("json", b'{"a": [1,\n  -Infinity]}', "infinity at a[1]", (2, 3)),
        ("json", b'{"a": 1e999}', "infinity at a", (1, 2)),
        ("toml", b"a = 1\n[limits]\nmax = nan\n", "NaN at limits.max", (3, 1)),
        ("toml", b"a = [1,\n  -inf]\n", "infinity at a[1]", (2, 3)),
        ("yaml", b"a: 1\nlimits:\n  max: .nan\n", "NaN at limits.max", (3, 3)),
        ("yaml", b"a:\n  - 1\n  - -.Inf\n", "infinity at a[1]", (3, 5)),
    ],
)
def test_nan_and_infinity_are_rejected_with_path_and_line(
    fmt: Format, raw: bytes, message: str, position: tuple[int, int]
) -> None:
    error = parse_error(raw, fmt)
    assert error.reason.startswith(message)
    assert "allow_nan" in error.reason
    assert where(error) == position


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("json", b'{"a": NaN, "b": -Infinity}'),
        ("toml", b"a = nan\nb = -inf"),
        ("yaml", b"a: .nan\nb: -.inf"),
    ],
)
def test_allow_nan_lets_them_through(fmt: Format, raw: bytes) -> None:
    data = parse(raw, fmt, "conf", allow_nan=True)
    assert math.isnan(data["a"])
    assert data["b"] == -math.inf


# ---- TOML


def test_toml_values_including_dates() -> None:
    raw = b'a = 1979-05-27T07:32:00Z\nb = 1979-05-27\nc = 07:32:00\nd = 1.5\n[t]\ne = "x"\n'
    assert parse(raw, "toml", "c") == {
        "a": datetime.datetime(1979, 5, 27, 7, 32, tzinfo=datetime.timezone.utc),
        "b": datetime.date(1979, 5, 27),
        "c": datetime.time(7, 32),
        "d": 1.5,
        "t": {"e": "x"},
    }


def test_toml_syntax_error_has_line_and_column() -> None:
    error = parse_error(b"a = 1\nb = = 2\n", "toml")
    assert where(error) == (2, 5)
    assert error.reason == "Invalid value"


def test_toml_duplicate_key_is_an_error() -> None:
    error = parse_error(b"[db]\nport = 1\nport = 2\n", "toml")
    assert error.line == 3
    assert "overwrite" in error.reason


# ---- YAML


def test_yaml_reads_as_yaml_1_2() -> None:
    raw = b"enabled: no\nother: yes\non: off\noctal: 010\nnull_value: ~\n"
    assert parse(raw, "yaml", "c") == {
        "enabled": "no",
        "other": "yes",
        "on": "off",
        "octal": 10,
        "null_value": None,
    }


def test_yaml_1_1_directive_is_honoured_by_the_pure_loader() -> None:
    # The C loader would read `yes` as the string "yes" despite the directive.
    raw = b"%YAML 1.1\n---\nenabled: yes\noctal: 010\n"
    assert parse(raw, "yaml", "c") == {"enabled": True, "octal": 8}


def test_yaml_results_are_plain_dicts_and_lists() -> None:
    raw = b"a:\n  b: [1, {c: 2}]\n  d: {e: [x]}\nts: 2024-01-02T03:04:05Z\nday: 2024-01-02\n"
    data = parse(raw, "yaml", "c")
    stack: list[Any] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            assert type(value) is dict
            assert all(type(key) is str for key in value)
            stack.extend(value.values())
        elif isinstance(value, list):
            assert type(value) is list
            stack.extend(value)
    assert data["day"] == datetime.date(2024, 1, 2)
    assert data["ts"] == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def test_yaml_duplicate_key_is_an_error_at_the_duplicate() -> None:
    error = parse_error(b"db:\n  port: 1\n  host: x\n  port: 2\n", "yaml")
    assert where(error) == (4, 3)
    assert 'duplicate key "port"' in error.reason


def test_yaml_syntax_error_has_line_and_column() -> None:
    error = parse_error(b"a: 1\nb: [1, 2\nc: 3\n", "yaml")
    assert where(error) == (3, 2)
    # The wording after the context differs between the C and the pure parser.
    assert error.reason.startswith("while parsing a flow sequence (line 2): ")


def test_yaml_control_character_has_position() -> None:
    error = parse_error(b"a: 1\nb: x\x01y\n", "yaml")
    assert where(error) == (2, 5)


def test_yaml_multiple_documents_are_an_error() -> None:
    error = parse_error(b"a: 1\n---\nb: 2\n", "yaml")
    assert error.reason == "more than one document in the file"
    assert error.line == 2


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        (b"a: 1\n1: x\n", (2, 1)),
        (b"a: 1\nsub:\n  b: 2\n  null: y\n", (4, 3)),
        (b"a: 1\n? [1, 2]\n: z\n", (2, 3)),
        (b"a: 1\nyes: 2\nno: 3\n2024-01-01: 4\n", (4, 1)),
    ],
)
def test_yaml_keys_must_be_strings(raw: bytes, position: tuple[int, int]) -> None:
    error = parse_error(raw, "yaml")
    assert "is not a string" in error.reason
    assert where(error) == position


def test_yaml_unsupported_types_are_rejected() -> None:
    error = parse_error(b"a: 1\nb: !!set {x, y}\n", "yaml")
    assert error.reason == "unsupported value of type set at b"
    assert where(error) == (2, 1)
    error = parse_error(b"a: 1\nb: !!binary aGVsbG8=\n", "yaml")
    assert error.reason == "unsupported value of type bytes at b"


def test_yaml_unknown_and_python_tags_are_refused() -> None:
    error = parse_error(b"a: 1\nb: !!python/object/apply:os.system [true]\n", "yaml")
    assert "could not determine a constructor" in error.reason
    assert where(error) == (2, 4)
    assert where(parse_error(b"a: !custom x\n", "yaml")) == (1, 4)


def test_yaml_merge_keys_and_small_alias_use_are_fine() -> None:
    raw = b"base: &base {host: h, port: 1}\ndev:\n  <<: *base\n  port: 2\n"
    assert parse(raw, "yaml", "c") == {
        "base": {"host": "h", "port": 1},
        "dev": {"host": "h", "port": 2},
    }


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_fails_fast() -> None:
    # 81 aliases: under the alias limit, so the expanded node count is what stops it.
    assert len(BILLION_LAUGHS) < 432
    started = time.perf_counter()
    error = parse_error(BILLION_LAUGHS, "yaml")
    assert time.perf_counter() - started < 0.5
    assert error.reason == f"more than {YAML_MAX_NODES} nodes once aliases are expanded"
    assert error.line == 7  # the first alias that crosses the limit


def test_yaml_alias_count_limit() -> None:
    def doc(count: int) -> bytes:
        return b"x: &x 1\nrefs:\n" + b"".join(b"  - *x\n" for _ in range(count))

    assert parse(doc(YAML_MAX_ALIASES), "yaml", "c")["refs"] == [1] * YAML_MAX_ALIASES
    error = parse_error(doc(YAML_MAX_ALIASES + 1), "yaml")
    assert error.reason == f"more than {YAML_MAX_ALIASES} aliases"
    assert where(error) == (3 + YAML_MAX_ALIASES, 5)


def test_yaml_node_limit_counts_expanded_aliases() -> None:
    items = 20_000
    anchor = b"big: &big [" + b",".join(b"0" for _ in range(items)) + b"]\n"
    copies = YAML_MAX_NODES // items  # just under the limit with the anchor itself
    under = anchor + b"refs: [" + b",".join(b"*big" for _ in range(copies - 2)) + b"]\n"
    assert len(parse(under, "yaml", "c")["refs"]) == copies - 2
    over = anchor + b"refs: [" + b",".join(b"*big" for _ in range(copies)) + b"]\n"
    assert "nodes once aliases are expanded" in parse_error(over, "yaml").reason


def test_yaml_recursive_alias_is_an_error() -> None:
    error = parse_error(b"a: &x [1, *x]\n", "yaml")
    assert error.reason == "recursive alias *x"
    assert where(error) == (1, 11)


@needs_c_loader
def test_yaml_c_loader_is_really_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from support import record_c_loads

    built = record_c_loads(monkeypatch)
    # A plain YAML 1.2 document is built by the C loader...
    assert parse(b"a: 1\n", "yaml", "x.yaml") == {"a": 1}
    assert built == ["a: 1\n"]
    # ...a %YAML 1.1 one by the pure loader, which honours the directive.
    assert parse(b"%YAML 1.1\n---\na: yes\n", "yaml", "x.yaml") == {"a": True}
    assert built == ["a: 1\n"]
    # A bad document is refused by the C parser, then parsed again by the pure one for its
    # error, so the message is the same with or without ruamel.yaml.clib.
    error = parse_error(b"a: 1\na: 2\n", "yaml")
    assert not made_by_c_parser(error)
    assert "duplicate key" in error.reason


def made_by_c_parser(error: ParseError) -> bool:
    if C_PARSER is None:
        return False
    parser = C_PARSER("a: 1")
    parser.get_event()
    c_mark_type = type(parser.get_event().start_mark)
    parser.dispose()
    return isinstance(getattr(error.__cause__, "problem_mark", None), c_mark_type)


YAML_CORPUS = [
    b"a: 1\nb: -2.5e3\nc: 0x1F\nd: 0o17\ne: .inf\nf: -.nan\n",
    b"a: yes\nb: no\nc: on\nd: off\ne: true\nf: False\ng: ~\nh: null\ni: ''\n",
    b"s1: 'single ''quoted'''\ns2: \"double \\t \\u00e9\"\ns3: plain text here\n",
    b"block: |\n  line one\n  line two\nfolded: >-\n  a\n  b\n",
    b"list:\n- 1\n- [2, 3]\n- {k: v}\n- - nested\n  - seq\n",
    b"base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nmany:\n  <<: [*b, {z: 9}]\n",
    b"t1: 2001-12-14t21:59:43.10-05:00\nt2: 2002-12-14\nt3: 2001-12-14 21:59:43.10 -5\n",
    b"num_str: '123'\nversion: 1.10\nzero: 0\nneg: -0\nbig: 123456789012345678901234567890\n",
    b'? complex key\n: value\n"quoted: key": 1\nemoji: \xf0\x9f\x98\x80\n',
    b"a: !!str 123\nb: !!int '7'\nc: !!float '1'\nd: !!null ''\ne: !!bool 'true'\n",
]


@needs_c_loader
@pytest.mark.parametrize("raw", YAML_CORPUS)
def test_c_and_pure_yaml_loaders_agree(raw: bytes) -> None:
    text = raw.decode()
    pure = YAML(typ="safe", pure=True).load(text)
    # repr: NaN != NaN, and the types must match too.
    assert repr(_yaml_load(text, pure=False)) == repr(pure)
    assert repr(_yaml_load(text, pure=True)) == repr(pure)
    assert repr(parse(raw, "yaml", "c", allow_nan=True)) == repr(pure)


# ---- nesting


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("json", b"[" * 100_000),
        ("json", b'{"a": ' * 100_000),
        ("toml", b"a = " + b"[" * 100_000),
        ("toml", b"a = " + b"{b = " * 100_000),
        ("yaml", b"a: " + b"[" * 100_000 + b"]" * 100_000),
        ("yaml", b"a: " + b"{b: " * 100_000 + b"}" * 100_000),
        ("yaml", b"".join(b"  " * i + b"k:\n" for i in range(5_000)) + b"  " * 5_000 + b"v\n"),
    ],
)
def test_deep_nesting_is_a_parse_error(fmt: Format, raw: bytes) -> None:
    assert "nested too deeply" in parse_error(raw, fmt).reason


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_nesting_limit_is_exact(fmt: Format) -> None:
    def doc(depth: int) -> bytes:  # JSON is valid flow YAML
        return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert parse(doc(MAX_DEPTH), fmt, "c")
    assert "nested too deeply" in parse_error(doc(MAX_DEPTH + 1), fmt).reason


# ---- only ParseError escapes


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(raw=st.binary(max_size=300), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes_give_a_dict_or_parse_error(raw: bytes, fmt: Format) -> None:
    try:
        result = parse(raw, fmt, "fuzz")
    except ParseError:
        return
    assert type(result) is dict


# Characters that mean something to one of the three grammars, to reach deeper than bytes do.
SYNTAX_CHARS = [*"{}[]:,\"'-?&*!|>#%.=\n \t01aeyn~\\<@`", "\x00", "é"]
SYNTAXY = st.text(alphabet=SYNTAX_CHARS, max_size=80)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=SYNTAXY, fmt=st.sampled_from(FORMATS))
def test_syntax_soup_gives_a_dict_or_parse_error(text: str, fmt: Format) -> None:
    raw = text.encode()
    result: dict[str, Any] | ParseError
    try:
        result = parse(raw, fmt, "fuzz")
    except ParseError as error:
        result = error
    if isinstance(result, ParseError):
        assert result.line is None or result.line >= 1
        assert result.column is None or result.column >= 1
    else:
        assert type(result) is dict
    position = locate(raw, fmt, ("a", 0, "b"))
    assert position is None or min(position) >= 1


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=30,
)
json_documents = st.dictionaries(st.text(), json_values, max_size=6)


@settings(max_examples=200, deadline=None)
@given(document=json_documents, indent=st.sampled_from([None, 2]))
def test_json_round_trip(document: dict[str, Any], indent: int | None) -> None:
    raw = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    assert parse(raw, "json", "c") == document


def leaf_paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)  # type: ignore[assignment]
    else:
        return [path]
    return [path, *(p for k, v in items for p in leaf_paths(v, (*path, k)))]


@settings(max_examples=200, deadline=None)
@given(document=json_documents, indent=st.sampled_from([None, 2]))
def test_json_locate_points_at_every_key_and_item(
    document: dict[str, Any], indent: int | None
) -> None:
    text = json.dumps(document, indent=indent)
    lines = text.split("\n")
    for path in leaf_paths(document)[1:]:
        position = locate(text.encode(), "json", path)
        assert position is not None, path
        line, column = position
        at = lines[line - 1][column - 1 :]
        if isinstance(path[-1], str):
            assert at.startswith(json.dumps(path[-1]) + ":")
        else:
            parent: Any = document
            for item in path:
                parent = parent[item]
            assert at.startswith(json.dumps(parent, indent=indent).split("\n")[0])


@settings(max_examples=300, deadline=None)
@given(
    raw=st.binary(max_size=200),
    fmt=st.sampled_from(FORMATS),
    path=st.lists(st.text(max_size=3) | st.integers(-2, 5), max_size=4),
)
def test_locate_never_raises(raw: bytes, fmt: Format, path: list[str | int]) -> None:
    position = locate(raw, fmt, path)
    assert position is None or min(position) >= 1


# ---- locate


JSON_DOC = b"""{
  "server": {"host": "h", "port": 80},
  "say \\"hi\\"": {"a\\\\b": [10, [20, 21], {"deep": true}]},
  "hosts": [
    "a",
    "b",
    {"name": "c"}
  ]
}"""


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ((), (1, 1)),
        (("server",), (2, 3)),
        (("server", "port"), (2, 27)),
        (('say "hi"', "a\\b", 1, 1), (3, 36)),
        (('say "hi"', "a\\b", 2, "deep"), (3, 42)),
        (("hosts", 1), (6, 5)),
        (("hosts", 2, "name"), (7, 6)),
        (("hosts", 3), None),
        (("server", "nope"), None),
        (("server", 0), None),
        (("hosts", "0"), None),
    ],
)
def test_locate_json(path: tuple[str | int, ...], position: tuple[int, int] | None) -> None:
    assert locate(JSON_DOC, "json", path) == position


YAML_DOC = b"""\
# settings
server:
  host: h
  port: 80
defaults: &defaults
  timeout: 5
hosts:
  - a
  - name: c
    tags: [x, y]
prod:
  <<: *defaults
  port: 81
"""


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ((), (2, 1)),
        (("server", "port"), (4, 3)),
        (("hosts", 0), (8, 5)),
        (("hosts", 1, "name"), (9, 5)),
        (("hosts", 1, "tags", 1), (10, 15)),
        (("prod", "port"), (13, 3)),
        (("prod", "timeout"), (6, 3)),  # supplied by the merge key: where it is written
        (("hosts", 2), None),
        (("server", "nope"), None),
    ],
)
def test_locate_yaml(path: tuple[str | int, ...], position: tuple[int, int] | None) -> None:
    assert locate(YAML_DOC, "yaml", path) == position


def test_locate_yaml_refuses_bombs_and_broken_documents() -> None:
    assert locate(BILLION_LAUGHS, "yaml", ("i", 0)) is None
    assert locate(b"a: [" * 100_000, "yaml", ("a",)) is None
    assert locate(b"a: [1\n", "yaml", ("a",)) is None


TOML_DOC = b"""\
top = 1  # comment = [ not a value
text = '''
[not.a.table]
fake = 1
'''
[server]
host = "h"
"quoted.key" = 2
ports = [
  80, # first
  "with ] bracket",
  [1, 2],
]
limits.max = 5
inline = {a = 1, b.c = [5, {d = 6}]}

[[hosts]]
name = "a"

[[hosts]]
name = "b"

[hosts.sub]
z = 1

[[hosts.checks]]
kind = "tcp"
"""


@pytest.mark.parametrize(
    ("path", "position"),
    [
        (("top",), (1, 1)),
        (("text",), (2, 1)),
        (("server",), (6, 1)),
        (("server", "host"), (7, 1)),
        (("server", "quoted.key"), (8, 1)),
        (("server", "ports"), (9, 1)),
        (("server", "ports", 0), (10, 3)),
        (("server", "ports", 2), (12, 3)),
        (("server", "ports", 2, 1), (12, 7)),
        (("server", "limits"), (14, 1)),
        (("server", "limits", "max"), (14, 1)),
        (("server", "inline", "a"), (15, 11)),
        (("server", "inline", "b", "c", 1, "d"), (15, 29)),
        (("hosts",), (17, 1)),
        (("hosts", 0, "name"), (18, 1)),
        (("hosts", 1), (20, 1)),
        (("hosts", 1, "name"), (21, 1)),
        (("hosts", 1, "sub", "z"), (24, 1)),
        (("hosts", 1, "checks", 0, "kind"), (27, 1)),
        (("hosts", 0, "sub"), None),
        (("hosts", 2), None),
        (("not",), None),
        (("fake",), None),
        (("server", "ports", 3), None),
    ],
)
def test_locate_toml(path: tuple[str | int, ...], position: tuple[int, int] | None) -> None:
    assert locate(TOML_DOC, "toml", path) == position


def test_toml_doc_for_locate_is_valid() -> None:
    data = parse(TOML_DOC, "toml", "c")
    assert data["hosts"][1]["checks"][0]["kind"] == "tcp"
    assert data["server"]["inline"]["b"]["c"][1]["d"] == 6


def test_locate_skips_the_bom() -> None:
    assert locate(b"\xef\xbb\xbf" + SAMPLES["yaml"], "yaml", ("debug",)) == (5, 1)
    assert locate(b"\xef\xbb\xbf" + SAMPLES["toml"], "toml", ("server", "port")) == (4, 1)


# ---- limits, pickling, worker processes


def test_inline_limits() -> None:
    assert INLINE_LIMITS["json"] == INLINE_LIMITS["toml"] == 64 * 1024
    assert INLINE_LIMITS["yaml"] == (16 if yaml_c_loader_available() else 4) * 1024
    assert yaml_c_loader_available() == (C_PARSER is not None)


def test_results_and_errors_pickle() -> None:
    data = parse(b"a: 2024-01-02T03:04:05Z\nb: [1, 2.5]\n", "yaml", "c")
    assert pickle.loads(pickle.dumps(data)) == data
    error = parse_error(b"a: 1\na: 2\n", "yaml")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.reason, copy.line, copy.column) == (
        error.source,
        error.reason,
        error.line,
        error.column,
    )


async def test_parse_runs_in_a_worker_process() -> None:
    data = await trio_parallel.run_sync(parse, SAMPLES["yaml"], "yaml", "conf")
    assert data == EXPECTED
    with pytest.raises(ParseError) as info:
        await trio_parallel.run_sync(parse, b"a: [1\n", "yaml", "conf")
    assert info.value.line == 2


tree_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=2) | st.integers(0, 3), children, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=tree_values, allow_nan=st.booleans())
def test_fast_check_agrees_with_the_check_that_names_paths(data: Any, allow_nan: bool) -> None:
    # parse() runs the slow, path-naming check only when the fast one says no: they must agree.
    try:
        _check_tree(data, "", "json", "c", allow_nan)
    except ParseError:
        assert not _is_clean(data, allow_nan)
    else:
        assert _is_clean(data, allow_nan)


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        *((raw, "same") for raw in YAML_CORPUS),
        (BILLION_LAUGHS, "nodes once aliases are expanded"),
        (b"a: " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"a: 1\na: 2\n", "duplicate key"),
        (b"a: 1\n---\nb: 2\n", "more than one document"),
        (b"# nothing\n", "same"),
        (b"a: &x [*x]\n", "recursive alias"),
    ],
)
def test_pure_fallback_when_the_c_loader_is_missing(
    monkeypatch: pytest.MonkeyPatch, raw: bytes, outcome: str
) -> None:
    # Where ruamel.yaml.clib is not installed, everything must still hold, only slower.
    expected: Any = None
    if outcome == "same":
        expected = parse(raw, "yaml", "c", allow_nan=True)
    monkeypatch.setattr(formats_yaml, "_CSafeLoader", None)
    if outcome == "same":
        assert repr(parse(raw, "yaml", "c", allow_nan=True)) == repr(expected)
        return
    error = parse_error(raw, "yaml")
    assert outcome in error.reason
    assert not made_by_c_parser(error)
