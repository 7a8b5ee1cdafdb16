"""A ``.env`` file's text → the env layer its variables give, each with its line.

python-dotenv parses (``dotenv.parser.parse_stream``: quotes, escapes, ``export``, comments,
values over several lines); this module only turns its bindings into what ``_env`` converts
for the config class, as it converts the environment's variables. So ``APP_DB__PORT=5433``
in ``.env`` and in the environment give the same ``db.port``, and what sets nothing or does
not convert is warned about or refused the same way, naming ``.env:3`` instead of
``env APP_DB__PORT``.

Decisions where the dotenv format is loose:
- A line python-dotenv cannot parse is a ``ParseError`` for the whole file (its line, the
  first such one), not a line skipped with a warning as ``load_dotenv`` does: a reloader
  would otherwise publish a config without that setting, which is a silent change.
- A bare name (``DEBUG`` with no ``=``) sets nothing, as in python-dotenv, whose value for
  it is None; a variable set twice takes its last line, as in a shell.
- ``expand``: python-dotenv's interpolation (``dotenv.variables``), with the process
  environment winning over the file's own earlier lines, as ``load_dotenv`` does by default
  and as the layers do (the environment is above the ``.env`` file).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from ._env import EnvLayer, env_layer
from ._errors import ParseError


@attrs.frozen(eq=False)
class DotEnvLayer(EnvLayer):
    """The layer of a ``.env`` file: its values' origin is the file and line that set them
    (``/srv/app/.env:3``), where the environment's names the variable."""

    lines: Mapping[str, int] = attrs.field(factory=dict, kw_only=True)

    def describe(self, path: Sequence[Any]) -> str:
        return self.name

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        key: tuple[Any, ...] = tuple(path)  # a list's index too: its variable set it whole
        while key:
            var = self.variables.get(key)
            if var is not None:
                return self.lines[var], 1
            key = key[:-1]
        return None


@attrs.frozen
class Bindings:
    """What a ``.env`` file sets: each name's value and line (the last line for a name set
    twice), in file order."""

    values: Mapping[str, str]
    lines: Mapping[str, int]


def parse_dotenv(raw: bytes, name: str) -> Bindings:
    """The bindings of a ``.env`` file's bytes; ``ParseError`` naming the first line that
    python-dotenv cannot parse, or bytes that are not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ParseError(name, "is not UTF-8 text", line=line) from None
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # Where the binding starts: for a value in quotes never closed, the line that
            # opened them. The line's text is not quoted: it may hold a secret.
            reason = "cannot parse this line as NAME=value (a quote left open?)"
            raise ParseError(name, reason, line=_first_line(binding.original))
        if binding.key is None or binding.value is None:
            continue  # a blank line, a comment, a bare name
        values.pop(binding.key, None)  # a name set again moves to its new place
        values[binding.key] = binding.value
        lines[binding.key] = _first_line(binding.original)
    return Bindings(values, lines)


def _first_line(original: Any) -> int:
    # A binding's text starts with the blank lines before it, which its line counts from.
    string: str = original.string
    line: int = original.line
    return line + string[: len(string) - len(string.lstrip())].count("\n")


def expanded(bindings: Bindings, environ: Mapping[str, str]) -> Bindings:
    """``${VAR}`` and ``${VAR:-default}`` replaced as python-dotenv interpolates, ``environ``
    winning over the file's earlier lines (a name not set anywhere is empty)."""
    done: dict[str, str] = {}
    for key, value in bindings.values.items():
        scope: dict[str, str | None] = {**done, **environ}
        done[key] = "".join(atom.resolve(scope) for atom in parse_variables(value))
    return Bindings(done, bindings.lines)


def dotenv_layer(
    cls: type, prefix: str, bindings: Bindings, name: str, *, strict: bool
) -> DotEnvLayer:
    """The layer a ``.env`` file's bindings give, as ``env_layer`` reads the environment;
    ``ValidationError`` naming the file and line of each variable that does not convert
    (and, with ``strict``, of each that names no field)."""
    layer = env_layer(cls, prefix, bindings.values, strict=strict, file=name, lines=bindings.lines)
    return DotEnvLayer(name, layer.data, variables=layer.variables, lines=bindings.lines)
