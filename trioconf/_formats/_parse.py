"""``parse``: bytes of one file in, a checked plain ``dict`` out, or ``ParseError``.

The entry point and its contract: decode, hand the text to the format's parser, then check the
tree for what the formats allow but a config must not hold. Whatever goes wrong on the way
leaves as ``ParseError`` and as nothing else, because the updater must survive any file.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any

from .._errors import ParseError
from .._sources import Format
from ._checks import _check_tree, _is_clean
from ._json import _parse_json
from ._limits import MAX_DEPTH
from ._position import _position
from ._toml import _parse_toml
from ._toml_locate import _toml_skip_string
from ._yaml import PURE_INLINE_LIMIT, NotInline, _parse_yaml, yaml_c_loader_available

_KIB = 1024
INLINE_LIMITS: dict[Format, int] = {
    "json": 64 * _KIB,
    "toml": 64 * _KIB,
    "yaml": 16 * _KIB if yaml_c_loader_available() else PURE_INLINE_LIMIT,
}


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def parse(
    raw: bytes, fmt: Format, source: str, allow_nan: bool = False, *, inline: bool = False
) -> dict[str, Any]:
    """Parse a document into plain Python data.

    ``inline``: the caller runs in the event loop and can parse elsewhere (a worker): a YAML
    document the C loader refuses and that is too large for the pure loader to parse quickly
    raises ``NotInline`` instead of stalling the loop.

    Values are dict/list/str/int/float/bool/None, plus the datetime/date/time values TOML and
    YAML produce; an empty TOML or YAML document (whitespace or comments only) is ``{}``.
    Raises ``ParseError`` (and nothing else) on bad encoding, bad syntax, an empty JSON
    document, a top level that is not a mapping, duplicate or non-string keys, NaN or
    infinity (unless ``allow_nan``), nesting deeper than ``MAX_DEPTH`` and YAML alias bombs.
    """
    try:
        text = _decode(raw, source)
        if not text.strip():
            # An empty TOML or YAML file is a layer that sets nothing, as other config loaders
            # read it (an override file with nothing in it yet). A JSON file is no document.
            # The reloader does not apply a file emptied under it at once: that is also what
            # an in-place writer leaves between its truncate and its write (``Loader.refresh``).
            if fmt == "json":
                raise ParseError(source, "empty document")
            return {}
        parser = _PARSERS.get(fmt)
        if parser is None:
            raise ParseError(source, f"unknown format {fmt!r}")
        data = _parse_yaml(text, source, inline) if fmt == "yaml" else parser(text, source)
        if not _is_clean(data, allow_nan, string_keys=fmt != "yaml"):
            _check_tree(data, text, fmt, source, allow_nan)
    except (ParseError, NotInline):
        raise
    except RecursionError:
        # json and tomli recurse per level and give no position; find the bracket that goes
        # one level too deep ourselves (only on this error path: it is a scan in Python).
        where = _too_deep_at(text, fmt)
        line, column = (None, None) if where is None else _position(text, where)
        reason = f"nested too deeply (more than {MAX_DEPTH} levels)"
        raise ParseError(source, reason, line=line, column=column) from None
    except Exception as exc:
        # The contract is that only ParseError leaves: the updater must never be taken down
        # by a parser's surprise (ValueError from int() on a 5000-digit number, ...).
        # Its message may quote the document's text ("invalid literal for int() with base 10:
        # 's3cr3t'"), and the text may be a secret: quoted parts are not shown, and the
        # exception is neither the cause nor the context (a logged traceback prints them).
        detail = _QUOTED.sub("(not shown)", str(exc))
        surprise = ParseError(source, f"cannot parse as {fmt}: {type(exc).__name__}: {detail}")
    else:
        return data  # type: ignore[no-any-return]  # _check_tree proved it is a dict[str, ...]
    raise surprise


def _too_deep_at(text: str, fmt: Format) -> int | None:
    """Offset of the first ``[`` or ``{`` nested deeper than ``MAX_DEPTH``, outside strings.

    For JSON and TOML, whose nesting is all brackets (a TOML table header's own brackets
    open and close at once). Never raises: on anything unexpected it answers None.
    """
    depth, pos = 0, 0
    try:
        while (found := _BRACKET_OR_QUOTE.search(text, pos)) is not None:
            pos = found.start()
            char = text[pos]
            if char in "\"'":
                pos = _toml_skip_string(text, pos)  # JSON strings read the same way
                continue
            if char == "#":
                if fmt != "toml":
                    return None
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline
                continue
            if char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return pos
            else:
                depth -= 1
            pos += 1
    except ValueError:  # an unterminated string
        return None
    if fmt == "toml":  # or a dotted key of more parts than that: [a.a.a...] or a.a.a... = 1
        found = _TOML_LONG_KEY.search(text)
        return None if found is None else found.start()
    return None


_BRACKET_OR_QUOTE = re.compile(r"[\[\]{}\"'#]")
_TOML_LONG_KEY = re.compile(rf"(?:[\w-]+[ \t]*\.[ \t]*){{{MAX_DEPTH},}}")


def _decode(raw: bytes, source: str) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
        line_start = raw.rfind(b"\n", 0, bad) + 1
        line = raw.count(b"\n", 0, bad) + 1
        # Everything before the first bad byte is valid, so the column counts characters.
        column = len(raw[line_start:bad].decode("utf-8")) + 1
        reason = f"not valid UTF-8 (byte 0x{raw[bad]:02x})"
        raise ParseError(source, reason, line=line, column=column) from None


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "json": _parse_json,
    "toml": _parse_toml,
    "yaml": _parse_yaml,
}
