"""Environment variables as a layer: ``APP_DB__PORT=5433`` becomes ``{"db": {"port": 5433}}``.

Environment values are all strings, so each is converted for the field it targets, found by
walking the config class's fields. The converted data then goes through the same strict
structuring as a file's, so the env layer only has to get strings into the right shape.

Decisions where the spec is silent:
- A variable whose name maps onto a field is used, whatever its value: ``APP_PORT=tcp://...``
  (which Kubernetes injects for a Service named ``app``) is an error when the class has a
  top-level ``port`` field, and merely ignored, with a warning, when it has none. The error
  message says so, since the fix is a different prefix.
- Field names match case-insensitively (``APP_MAXCONN`` sets ``maxConn``); mapping keys
  (``dict[str, X]`` fields) are lowercased like everything after the prefix.
- Shallower variables apply first, so ``APP_DB='{"port": 1}'`` plus ``APP_DB__PORT=2`` gives
  port 2; two variables for the same path (names differing in case) are an error.
- For ``X | None`` fields, ``null`` (any case) sets None when the text does not convert to X.
- Warnings and errors name variables, never their values (they may be secrets), except the
  value of a variable that failed to convert, which ``FieldError.value`` carries unless its
  field is secret.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import attrs

from ._errors import FieldError, ValidationError
from ._formats import MAX_DEPTH
from ._kinds import _expected, _is_class, _is_mapping, _is_sequence, _is_tuple, _is_union
from ._layer import Layer
from ._marks import MASK, secret_at
from ._marks import field_types as _field_types
from ._merge import dotted
from ._units import has_unit

logger = logging.getLogger("trioconf")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_SERVICE_URL = re.compile(r"^(tcp|udp|sctp)://", re.IGNORECASE)


@attrs.frozen(eq=False)
class EnvLayer(Layer):
    """The env layer. ``variables`` maps each key path set to the variable that set it, so an
    error can name ``env APP_DB__PORT`` rather than the whole ``env APP_*`` layer."""

    variables: Mapping[tuple[str, ...], str] = attrs.field(factory=dict, kw_only=True)

    def locate(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        return None  # no text to point into

    def describe(self, path: Sequence[Any]) -> str:
        """``env APP_DB__PORT`` for ``("db", "port")``; the layer's name if nothing set it."""
        key = tuple(path)
        while key:
            name = self.variables.get(key)
            if name is not None:
                return f"env {name}"
            key = key[:-1]
        return self.name


class _Unknown(Exception):
    """A variable that names no field; the message says why, and ``close`` the segments of
    the name it probably meant (a typo of a field's name), if any."""

    def __init__(self, reason: str, close: tuple[str, ...] | None = None) -> None:
        super().__init__(reason)
        self.close = close


class _Unconvertible(ValueError):
    """A string that does not read as its field's type."""


def env_layer(
    cls: type,
    prefix: str,
    environ: Mapping[str, str],
    *,
    strict: bool = False,
    file: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> EnvLayer:
    """The layer holding every variable of ``environ`` that starts with ``prefix``.

    Raises ``ValidationError`` listing every variable that does not convert (and, with
    ``strict``, every variable that names no field); without ``strict`` those are logged as
    warnings on the ``trioconf`` logger and ignored. ``file``: the variables were read from
    this ``.env`` file (``lines``: each name's line in it), and errors and warnings name the
    file and line rather than ``env NAME``.
    """
    at = _Where(file, lines or {})
    data: dict[str, Any] = {}
    variables: dict[tuple[str, ...], str] = {}
    errors: list[FieldError] = []
    # Shallow before deep, then by name, so the outcome does not depend on environ's order.
    names = sorted(
        (n for n in environ if n.startswith(prefix)),
        key=lambda n: (n[len(prefix) :].count("__"), n),
    )
    for var in names:
        segments = tuple(var[len(prefix) :].lower().split("__"))
        raw = environ[var]
        try:
            path, target = _resolve(cls, segments)
        except _Unknown as exc:
            by_file = _file_target(cls, segments)
            if by_file is not None and secret_at(cls, by_file[0]):
                path, target = by_file
                try:
                    value = _convert(_read_secret_file(raw), target)
                    _place(data, variables, path, value, var)
                except _Unconvertible as bad:
                    errors.append(at.blame(unconvertible(cls, path, bad, "", source=var), var))
                continue
            reason = str(exc)
            if by_file is not None:
                reason += f" (a {var[-5:]} variable sets only a field marked secret)"
            elif exc.close is not None:
                reason += f" (did you mean {prefix}{'__'.join(exc.close).upper()}?)"
            _unknown(var, segments, reason, strict, errors, at)
            continue
        try:
            value = _convert(raw, target)
            _place(data, variables, path, value, var)
        except _Unconvertible as exc:
            errors.append(at.blame(unconvertible(cls, path, exc, raw, source=var), var))
    if errors:
        raise ValidationError(errors)
    return EnvLayer(name=f"env {prefix}*", data=data, variables=variables)


def secret_files(cls: type, prefix: str, environ: Mapping[str, str]) -> list[str]:
    """The files that ``..._FILE`` variables name for secret fields (``env_layer`` reads
    them), so that they can be watched like configured files."""
    files = []
    for var in environ:
        if not var.startswith(prefix):
            continue
        segments = tuple(var[len(prefix) :].lower().split("__"))
        try:
            _resolve(cls, segments)
        except _Unknown:
            target = _file_target(cls, segments)
            if target is not None and secret_at(cls, target[0]):
                files.append(environ[var])
    return files


def _file_target(cls: type, segments: tuple[str, ...]) -> tuple[tuple[str, ...], Any] | None:
    """For ``APP_DB__PASSWORD_FILE``, which names no field, the field ``db.password`` whose
    value would be in the file it names (None if there is none).

    Only a secret field (``trioconf.field(secret=True)``, a ``SecretStr``) is set this way (the
    caller checks), and only when the name is no field itself: ``APP_LOG_FILE`` keeps
    meaning ``log_file``."""
    last = segments[-1]
    if not last.endswith("_file") or last == "_file":
        return None
    try:
        return _resolve(cls, (*segments[:-1], last.removesuffix("_file")))
    except _Unknown:
        return None


def _read_secret_file(name: str) -> str:
    """The content of the file an ``..._FILE`` variable names, one trailing newline removed.

    Read in the event loop's thread, like the environment itself: a secret is a few bytes on
    a tmpfs (``/run/secrets``), and the read is capped, so it cannot stall the loop."""
    try:
        with open(name, "rb") as f:
            raw = f.read(_SECRET_FILE_LIMIT + 1)
    except OSError as exc:
        raise _Unconvertible(f"cannot read the file it names, {name}: {exc.strerror}") from None
    if len(raw) > _SECRET_FILE_LIMIT:
        raise _Unconvertible(
            f"the file it names, {name}, is larger than {_SECRET_FILE_LIMIT} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unconvertible(f"the file it names, {name}, is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text


_SECRET_FILE_LIMIT = 64 * 1024


def unconvertible(
    cls: type, path: tuple[str, ...], exc: _Unconvertible, raw: str, *, source: str
) -> FieldError:
    """The error for a text that does not read as its field's type. For a secret field the
    text is not shown: the message stops before its "got ..." and the value is ``MASK``."""
    if secret_at(cls, path):
        return FieldError(dotted(path), str(exc).split(", got ")[0], value=MASK, source=source)
    return FieldError(dotted(path), str(exc), value=raw, source=source)


@attrs.frozen
class _Where:
    """Where the variables were read: the environment (``file`` None), or a ``.env`` file,
    with the line of each name in it."""

    file: str | None
    lines: Mapping[str, int]

    def blame(self, error: FieldError, var: str) -> FieldError:
        """``error``, made with ``source=var``, naming where ``var`` was read."""
        if self.file is None:
            return attrs.evolve(error, source=f"env {var}")
        return attrs.evolve(error, source=self.file, line=self.lines.get(var))

    def variable(self, var: str) -> str:
        """``var`` as messages name it."""
        if self.file is None:
            return f"environment variable {var}"
        line = self.lines.get(var)
        return f"{var} in {self.file}" + ("" if line is None else f":{line}")


def _unknown(
    var: str,
    segments: tuple[str, ...],
    reason: str,
    strict: bool,
    errors: list[FieldError],
    at: _Where,
) -> None:
    if strict:
        message = f"{at.variable(var)} matches no field: {reason}"
        errors.append(at.blame(FieldError(".".join(segments), message, source=var), var))
    else:
        logger.warning("ignoring %s: %s", at.variable(var), reason)


def _resolve(cls: type, segments: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    """The key path and target type for ``segments``, walking fields and mapping keys."""
    if any(not s for s in segments):
        raise _Unknown("empty name segment (the prefix alone, or ____ in the name)")
    tp: Any = cls
    path: list[str] = []
    for i, segment in enumerate(segments):
        tp = _navigable(_bare(tp), segment)
        if _is_class(tp):
            fields = _field_types(tp)
            name = next((f for f in fields if f.lower() == segment), None)
            if name is None:
                where = f"{dotted(path)} ({tp.__name__})" if path else tp.__name__
                close = difflib.get_close_matches(segment, [f.lower() for f in fields], n=1)
                meant = (*segments[:i], close[0], *segments[i + 1 :]) if close else None
                raise _Unknown(f"{where} has no field {segment!r}", meant)
            path.append(name)
            tp = fields[name]
        elif _is_mapping(tp):
            args = typing.get_args(tp)
            path.append(segment)
            tp = args[1] if len(args) == 2 else Any
        else:
            raise _Unknown(f"{dotted(path)} is {_expected(tp)}, it has no field {segment!r}")
    return tuple(path), tp


def _navigable(tp: Any, segment: str) -> Any:
    """For a union, the member a further name segment can descend into."""
    if not _is_union(tp):
        return tp
    members = [_bare(m) for m in typing.get_args(tp) if m is not type(None)]
    for member in members:
        if _is_class(member) and any(f.lower() == segment for f in _field_types(member)):
            return member
    for member in members:
        if _is_mapping(member):
            return member
    return members[0] if len(members) == 1 else tp


def _bare(tp: Any) -> Any:
    """``tp`` without ``Annotated``, whose metadata say nothing about where a name leads."""
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _convert(raw: str, tp: Any) -> Any:
    """``raw`` converted for a field of type ``tp``, as far as a string can say."""
    if typing.get_origin(tp) is typing.Annotated:
        if has_unit(tp):
            return _convert_in_units(raw)
        return _convert(raw, typing.get_args(tp)[0])
    if _is_union(tp):
        return _convert_union(raw, tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _convert_choice(raw, [m.value for m in tp])
    if typing.get_origin(tp) is typing.Literal:
        args = typing.get_args(tp)
        return _convert_choice(raw, [a.value if isinstance(a, Enum) else a for a in args])
    if tp is bool:
        return _convert_bool(raw)
    if tp is int:
        return _convert_number(raw, int)
    if tp is float:
        return _convert_number(raw, float)
    if _is_sequence(tp) or _is_tuple(tp) or _is_mapping(tp) or _is_class(tp):
        return _convert_json(raw, tp)
    # str, Path, dates and times (ISO text), Any: the converter takes the string from here.
    return raw


def _convert_in_units(raw: str) -> Any:
    """A duration whose field declares its unit: ``90`` or ``1.5`` is a number of that unit,
    read as a file's number would be; other text (``"90s"``) is left for the duration hook."""
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def _convert_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    msg = f"expected a boolean (true/false, 1/0, yes/no, on/off), got {_show(raw)}"
    raise _Unconvertible(msg)


def _convert_number(raw: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(raw)
    except ValueError:
        pass
    msg = f"expected {_expected(kind)}, got {_show(raw)}"
    if _SERVICE_URL.match(raw):
        msg += (
            " (Kubernetes sets <SERVICE>_PORT=tcp://... for every Service:"
            " use an env prefix that is not a Service name)"
        )
    raise _Unconvertible(msg)


def _convert_json(raw: str, tp: Any) -> Any:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        msg = f"expected JSON text for {_expected(tp)}: {exc}"
        raise _Unconvertible(msg) from None
    except RecursionError:
        too_deep = True
    else:
        too_deep = _too_deep(value)
    # The depth limit files get from parse(): json.loads raised RecursionError past ~1,000
    # levels, and a few hundred made merge and structure (which recurse) raise it instead.
    if too_deep:
        msg = f"expected JSON text for {_expected(tp)}: nested more than {MAX_DEPTH} levels"
        raise _Unconvertible(msg)
    return value


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((x, depth + 1) for x in inner)
    return False


def _convert_choice(raw: str, values: list[Any]) -> Any:
    # Enum and Literal values may be ints, floats or bools: read the text as each value's
    # type and keep the first that matches. Otherwise the converter reports the choices.
    for value in values:
        try:
            if _convert(raw, type(value)) == value:
                return value
        except _Unconvertible:
            continue
    return raw


def _convert_union(raw: str, tp: Any) -> Any:
    args = typing.get_args(tp)
    members = [m for m in args if m is not type(None)]
    # str accepts anything, so try it last: int | str reads "5" as 5.
    members.sort(key=lambda m: m is str)
    failures: list[str] = []
    for member in members:
        try:
            return _convert(raw, member)
        except _Unconvertible as exc:
            failures.append(str(exc))
    if type(None) in args and raw.strip().lower() == "null":
        return None
    raise _Unconvertible(" and ".join(failures) if len(failures) == 1 else _union_msg(raw, tp))


def _union_msg(raw: str, tp: Any) -> str:
    return f"expected {_expected(tp)}, got {_show(raw)}"


def _show(raw: str) -> str:
    return repr(raw) if len(raw) <= 40 else repr(raw[:37] + "...")


def _place(
    data: dict[str, Any],
    variables: dict[tuple[str, ...], str],
    path: tuple[str, ...],
    value: Any,
    var: str,
) -> None:
    if path in variables:
        msg = f"set by both {variables[path]} and {var}"
        raise _Unconvertible(msg)
    node = data
    for depth, key in enumerate(path[:-1]):
        inner = node.setdefault(key, {})
        if not isinstance(inner, dict):
            owner = variables.get(path[: depth + 1], "another variable")
            where = dotted(path[: depth + 1])
            msg = f"{owner} sets {where} to a non-mapping; {var} cannot set a key in it"
            raise _Unconvertible(msg)
        node = inner
    node[path[-1]] = value
    variables[path] = var


def names_field(cls: type, prefix: str, var: str) -> bool:
    """Whether an ``Env(prefix)`` source would read ``var`` as a field of ``cls`` (directly,
    or as the ``..._FILE`` variable of a secret field): a ``profile_var`` must not be one."""
    segments = tuple(var[len(prefix) :].lower().split("__"))
    try:
        _resolve(cls, segments)
    except _Unknown:
        target = _file_target(cls, segments)
        return target is not None and secret_at(cls, target[0])
    return True
