"""A config class's own code failed while being built: which field it names, and what to say.

cattrs calls a class (``cls(**values)``) once every field has structured, and what runs then
is the user's code: attrs validators and converters, ``__attrs_post_init__``, a dataclass's
``__post_init__``, a hand-written ``__init__``. Its exceptions are bad data, not trioconf
bugs. cattrs hands them on wrapped in the class's ``ClassValidationError`` with no field note,
so without help they would be reported at the class as a whole (``(top level)`` for the config
class itself), with a message such as ``("'port' must be in range(1, 65536) (got 70000)",
Attribute(name='port', default=1, validator=...), range(1, 65536), 70000)``.

attrs' validators say which field failed in two ways (attrs/validators.py):

- ``instance_of``, ``in_``, ``matches_re``, ``not_`` (and ``optional``, ``and_``,
  ``deep_iterable``, ``deep_mapping`` around them) raise ``(message, Attribute, ..., value)``:
  ``TypeError(msg, attr, type, value)``, ``ValueError(msg, attr, options, value)``,
  ``ValueError(msg, attr, pattern, value)``, ``ValueError(msg, attr, validator, value,
  exc_types)``;
- ``lt``/``le``/``ge``/``gt``, ``min_len``/``max_len``, ``or_`` and ``is_callable`` raise a
  message alone (``"'n' must be >= 0: -1"``), and a user's validator or converter whatever it
  likes, usually a message without the field.

The second kind is placed by the line of the class's generated ``__init__`` that was running:
attrs calls field ``x``'s validator as ``__attr_validator_x(...)`` and its converter as
``__attr_converter_x(...)``, and keeps that source in ``linecache`` for tracebacks. Anything
else (a post-init hook, a dataclass, a name attrs might one day spell differently) is reported
at the class's own table.
"""

from __future__ import annotations

import linecache
import re
from typing import Any

import attrs

from ._kinds import _describe, _expected

_RUNNING_FIELD = re.compile(r"\b__attr_(?:validator|converter)_(\w+)\(")
_MAX_REPR = 60


def blamed_field(exc: BaseException, cl: type) -> str | None:
    """The name of the field of ``cl`` that ``exc`` (raised by ``cl(...)``) is about, if any."""
    if not attrs.has(cl):
        return None
    fields = attrs.fields(cl)
    for arg in exc.args:
        # Compared whole, not by name: a validator may have built another class whose field
        # has the same name; that Attribute is not one of ``cl``'s.
        if isinstance(arg, attrs.Attribute) and arg in fields:
            return arg.name
    return _running_field(exc, cl, {f.name for f in fields})


def _running_field(exc: BaseException, cl: type, names: set[str]) -> str | None:
    init = getattr(getattr(cl, "__init__", None), "__code__", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is init:
            match = _RUNNING_FIELD.search(linecache.getline(init.co_filename, tb.tb_lineno))
            if match is not None and match[1] in names:
                return match[1]
            return None
        tb = tb.tb_next
    return None


def failure_message(exc: BaseException, field: str | None) -> str:
    """What ``exc`` says, as one line after ``field: ``: never a raw tuple of arguments."""
    known = _attrs_validator_message(exc)
    if known is not None:
        return known
    args = exc.args
    # attrs' layouts (and most users' exceptions with extra arguments) put the message first.
    text = args[0] if len(args) > 1 and isinstance(args[0], str) else str(exc)
    # One line: each error is one ``file:line:col: path: message`` line of a list.
    text = " ".join(text.split())
    if field is not None and text.startswith(f"'{field}' "):
        text = text[len(field) + 3 :]  # "'n' must be >= 0: -1": the field is said already
    if not text:
        return type(exc).__name__
    if isinstance(exc, ValueError | TypeError):
        return text  # the exceptions meant for bad values: their message is the whole story
    return f"{type(exc).__name__}: {text}"  # an AssertionError, a KeyError: say which


def _attrs_validator_message(exc: BaseException) -> str | None:
    """The house wording for attrs' validators whose arguments carry the value and the rule.

    Each layout is checked against the value as well, so an exception that merely looks like
    one (a user's ``ValueError(msg, attribute, a, b)``) keeps its own message.
    """
    args = exc.args
    if len(args) != 4 or not isinstance(args[1], attrs.Attribute):
        return None
    rule, value = args[2], args[3]
    if type(exc) is TypeError and _is_types(rule) and not isinstance(value, rule):
        return f"expected {_expected_any(rule)}, got {_describe(value)}"  # instance_of
    if type(exc) is not ValueError:
        return None
    if isinstance(rule, re.Pattern):
        return f"{_short(value)} does not match {_short(rule.pattern)}"  # matches_re
    try:
        rejected = value not in rule
    except Exception:  # not a container, or the value does not compare (1 in "abc")
        return None
    return f"{_short(value)} is not in {_short(rule)}" if rejected else None  # in_


def _is_types(rule: Any) -> bool:
    if isinstance(rule, tuple):
        return bool(rule) and all(isinstance(t, type) for t in rule)
    return isinstance(rule, type)


def _expected_any(rule: type | tuple[type, ...]) -> str:
    types = rule if isinstance(rule, tuple) else (rule,)
    return " or ".join(_expected(t) for t in types)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."
