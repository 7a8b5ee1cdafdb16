"""A config class as a JSON Schema, so editors complete and check the files that feed it.

VS Code's YAML extension and Taplo (TOML) read a JSON Schema and check a document as the user
types. The schema must say what trioconf *accepts*, which is narrower than the field types
suggest and differs from what cattrs or pydantic would take: the strict hooks of
``_converter`` and ``_types`` refuse ``"80"`` for an ``int`` and ``90`` for a ``timedelta``
without a unit, read durations and decimals from strings, and take unknown keys as errors
only with ``forbid_unknown``. So each type maps to what its hook takes, with patterns
written from the hooks' own parsers (tests/test_schema.py holds them against each other).

Editors see a TOML or YAML date or time as the text written in the file, so the date and
time types are strings with patterns here. Two facts no JSON Schema can say are left to
trioconf's own check: JSON Schema's ``integer`` takes ``1.0``, and a network with host bits
set (``10.0.0.1/8``) looks like any other network.

Secrets: a field marked ``trioconf.field(secret=True)``, or of type ``SecretStr``, is
``writeOnly`` with a note, and no default at or below it is ever written into the schema (a
schema file is shared, committed, served); a class reached below a secret mark gets a
``$defs`` entry of its own, without defaults. Types the user's ``converter=`` reads with a
hook of its own are described as "anything" with a note: their hook decides, not the schema.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import inspect
import ipaddress
import itertools
import json
import math
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Annotated, Any, Final, NewType, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import StructureHandlerNotFoundError

from ._converter import Configure, make_converter
from ._kinds import (
    _SEQUENCES,
    _is_class,
    _is_literal,
    _is_mapping,
    _is_sequence,
    _is_tuple,
    _is_union,
    _literal_value,
    _origin,
)
from ._marks import SecretStr, fields_of, has_secrets, secret_at
from ._settings import Reading
from ._types import DECIMAL, DURATION, IP_TYPES
from ._units import unit_of

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"

_SECRET_NOTE: Final = "Secret: trioconf never displays this value."
_RESTART_NOTE: Final = (
    "Restart only: a running service keeps the value it started with; a change applies at "
    "the next restart."
)

# --- patterns, each written from the parser its hook calls ------------------------------------

# parse_duration: stripped, an optional "-", then Go-style units (case-sensitive) or an ISO
# 8601 duration without years and months (any case), with at least one part after P and T.
_NUM = r"[0-9]+(?:\.[0-9]+)?"
_GO = rf"(?:{_NUM}(?:w|d|h|ms|us|m|s))+"
_ISO = (
    rf"[Pp](?=[0-9Tt])(?:{_NUM}[Ww])?(?:{_NUM}[Dd])?"
    rf"(?:[Tt](?=[0-9])(?:{_NUM}[Hh])?(?:{_NUM}[Mm])?(?:{_NUM}[Ss])?)?"
)
DURATION_PATTERN: Final = rf"^\s*-?(?:{_GO}|{_ISO})\s*$"

# Decimal(text.strip()): Python drops every underscore, then reads a finite number.
_DIGITS = r"(?:[0-9]_*)+"
DECIMAL_PATTERN: Final = (
    rf"^\s*_*[+-]?_*(?:{_DIGITS}(?:\._*(?:{_DIGITS})?)?|\._*{_DIGITS})"
    rf"(?:[eE]_*[+-]?_*{_DIGITS})?\s*$"
)

# What fromisoformat reads on the running Python: trioconf reads dates with it, so a schema
# written under 3.10 must not promise what 3.10 refuses.
if sys.version_info >= (3, 11):
    # A calendar or week date, any one character before the time, hours with optional
    # minutes, seconds and a fraction, an optional offset (Z too).
    _DATE = (
        r"[0-9]{4}(?:-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12][0-9]|3[01])"
        r"|-?W(?:0[1-9]|[1-4][0-9]|5[0-3])(?:-?[1-7])?)"
    )
    _CLOCK = r"(?:[01][0-9]|2[0-3])(?::?[0-5][0-9](?::?[0-5][0-9](?:[.,][0-9]+)?)?)?"
    _OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9](?::?[0-5][0-9](?:[.,][0-9]+)?)?)?)"
    _TIME_PREFIX = "[Tt]?"
else:
    # 3.10 reads only what isoformat() writes: YYYY-MM-DD, then any one character and
    # HH[:MM[:SS[.fff[fff]]]], then +HH:MM[:SS[.ffffff]] (no Z, no week dates, no basic form).
    _DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    _CLOCK = r"(?:[01][0-9]|2[0-3])(?::[0-5][0-9](?::[0-5][0-9](?:\.(?:[0-9]{3}){1,2})?)?)?"
    _OFFSET = r"(?:[+-](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{6})?)?)"
    _TIME_PREFIX = ""
DATE_PATTERN: Final = rf"^{_DATE}$"
DATETIME_PATTERN: Final = rf"^{_DATE}(?:.{_CLOCK}{_OFFSET}?)?$"
TIME_PATTERN: Final = rf"^{_TIME_PREFIX}{_CLOCK}{_OFFSET}?$"

# uuid.UUID(text): optional urn:/uuid: prefixes and braces, 32 hex digits, hyphens anywhere.
UUID_PATTERN: Final = r"^(?:urn:)?(?:uuid:)?\{*(?:-*[0-9A-Fa-f]){32}-*\}*$"

# ipaddress, on the stripped text: no leading zeros in an IPv4 octet; a network or interface
# takes a prefix length or, for IPv4, a mask. IPv6 is only roughly shaped (``format`` says it).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV6 = r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[^\s/]+)?"
_IP_PATTERNS: Final[dict[type[Any], str]] = {
    ipaddress.IPv4Address: rf"^\s*{_IPV4}\s*$",
    ipaddress.IPv6Address: rf"^\s*{_IPV6}\s*$",
    ipaddress.IPv4Network: rf"^\s*{_IPV4}(?:/(?:0*(?:3[0-2]|[12]?[0-9])|{_IPV4}))?\s*$",
    ipaddress.IPv6Network: rf"^\s*{_IPV6}(?:/0*(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?\s*$",
}
_IP_PATTERNS[ipaddress.IPv4Interface] = _IP_PATTERNS[ipaddress.IPv4Network]
_IP_PATTERNS[ipaddress.IPv6Interface] = _IP_PATTERNS[ipaddress.IPv6Network]
_IP_FORMATS: Final[dict[type[Any], str]] = {
    ipaddress.IPv4Address: "ipv4",
    ipaddress.IPv6Address: "ipv6",
}

Schema = dict[str, Any]


def _scalar_schemas() -> dict[type[Any], Schema]:
    table: dict[type[Any], Schema] = {
        PurePath: {"type": "string", "description": "A path (relative to the file's folder)."},
        dt.datetime: {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "An ISO 8601 date and time, such as 2024-05-01T12:30:00Z.",
        },
        dt.date: {
            "type": "string",
            "pattern": DATE_PATTERN,
            "description": "An ISO 8601 date, such as 2024-05-01.",
        },
        dt.time: {
            "type": "string",
            "pattern": TIME_PATTERN,
            "description": "An ISO 8601 time of day, such as 12:30:00.",
        },
        dt.timedelta: {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": f"A{DURATION[1:]}.",
        },
        decimal.Decimal: {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}],
            "description": f"{DECIMAL[0].upper()}{DECIMAL[1:]}.",
        },
        uuid.UUID: {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
        SecretStr: {"type": "string", "writeOnly": True, "description": _SECRET_NOTE},
    }
    for kind, example in IP_TYPES.items():
        schema: Schema = {"type": "string", "pattern": _IP_PATTERNS[kind]}
        if kind in _IP_FORMATS:
            schema["format"] = _IP_FORMATS[kind]
        described = _a(kind.__name__)
        schema["description"] = f"{described[0].upper()}{described[1:]}, such as {example}."
        table[kind] = schema
    return table


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "AEIOUaeiou" else f"a {name}"


_SCALARS: Final = _scalar_schemas()


def json_schema(
    cls: type[Any],
    *,
    entry: str | None = None,
    forbid_unknown: bool = True,
    converter: Configure | None = None,
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the files that configure a ``cls``.

    Editors read it to complete and check YAML and TOML files as they are typed. It says what
    trioconf accepts: ``"80"`` is no ``int``, a duration is a string such as ``"1h30m"`` (or
    a number where the field declares its unit), unknown keys are refused when
    ``forbid_unknown`` is (as :func:`load`'s), fields without a default are required. Nested
    classes are ``$defs`` referenced by ``$ref``. Secret fields (``trioconf.field(secret=True)``,
    ``SecretStr``) are ``writeOnly`` and no default at or below them appears.

    ``entry="tenants"`` (a dotted field of type ``dict[str, X]`` where X is an attrs class or
    dataclass): the schema of one file of a keyed :class:`Directory` for that field, an X;
    another field is a ``ValueError``. ``converter``: the service's ``configure(converter)``,
    as :func:`load` takes it; the types its hooks read are described as anything, with a
    note. A class trioconf cannot load is a ``TypeError``, as :func:`load` raises it.
    """
    if entry is not None and not isinstance(entry, str):
        msg = f"entry must be a dotted field name such as 'tenants', not {entry!r}"
        raise TypeError(msg)
    reading = Reading(cls=cls, sources=(), forbid_unknown=forbid_unknown, converter=converter)
    strict = reading.make_converter()
    reading.check_structurable(strict)  # the TypeError load() would raise, before anything
    if not _is_class(cls):
        msg = f"json_schema() describes an attrs class or a dataclass, not {cls.__name__}"
        raise TypeError(msg)
    builtin = None if converter is None else make_converter(forbid_unknown=forbid_unknown)
    walk = _Walk(strict, builtin, forbid_unknown=forbid_unknown)
    root, secret, note = cls, False, ""
    if entry is not None:
        root, secret = _entry_class(cls, entry)
        note = (
            f"One entry of {cls.__name__}.{entry}: the file NAME.toml (or .yaml, .json) of "
            f"its folder is {entry}['NAME']."
        )
    walk.names[root, secret] = "#"  # the root itself: a recursive reference points here
    body = walk.class_body(root, secret)
    schema: Schema = {"$schema": DRAFT, "title": body.pop("title")}
    description = _join(body.pop("description", None), note, _SECRET_NOTE if secret else None)
    if description:
        schema["description"] = description
    if secret:
        schema["writeOnly"] = True
    schema.update(body)
    if walk.defs:
        schema["$defs"] = dict(sorted(walk.defs.items()))
    return schema


def _entry_class(cls: type[Any], entry: str) -> tuple[type[Any], bool]:
    """The class of one entry of the mapping field ``entry``, and whether entries are secret."""
    parts = entry.split(".")
    if not all(parts):
        msg = f"entry must be a dotted field name such as 'tenants', not {entry!r}"
        raise ValueError(msg)
    owner: Any = cls
    for i, part in enumerate(parts):
        fields = fields_of(owner)
        if part not in fields:
            msg = f"entry {entry!r}: {owner.__name__} has no field {part!r}"
            raise ValueError(msg)
        owner = _strip(fields[part][0])
        if i < len(parts) - 1 and not _is_class(owner):
            msg = f"entry {entry!r}: {'.'.join(parts[: i + 1])} is not a class with fields"
            raise ValueError(msg)
    args = get_args(owner)
    value = _strip(args[1]) if _is_mapping(owner) and len(args) == 2 else None
    if args[:1] != (str,) or value is None or not _is_class(value):
        msg = (
            f"entry {entry!r}: a keyed folder's files are entries of a dict[str, X] field "
            f"where X is an attrs class or a dataclass, and {entry} is "
            f"{_a(_type_name(owner))}"
        )
        raise ValueError(msg)
    return value, secret_at(cls, (*parts, "entry"))


class _Walk:
    """One schema's making: the converters to consult and the ``$defs`` made so far."""

    def __init__(
        self, strict: cattrs.Converter, builtin: cattrs.Converter | None, *, forbid_unknown: bool
    ) -> None:
        self.strict = strict
        self.builtin = builtin  # trioconf's own converter, to tell the user's hooks from it
        self.forbid_unknown = forbid_unknown
        self.defs: dict[str, Schema] = {}
        self.names: dict[tuple[type[Any], bool], str] = {}  # (class, secret) -> its $ref
        self.def_names: dict[type[Any], str] = {}
        self.trees: dict[str, ast.Module | None] = {}  # module -> its parsed source

    def schema(self, tp: Any, secret: bool) -> Schema:
        """What a value of annotation ``tp`` may be in a document."""
        if get_origin(tp) is Annotated:
            found = unit_of(tp)
            if found is not None:
                return {
                    "anyOf": [{"type": "number"}, {"type": "string", "pattern": DURATION_PATTERN}],
                    "description": f"A number of {found.words}, or {DURATION}.",
                }
            return self.schema(get_args(tp)[0], secret)
        if get_origin(tp) is Final:
            return self.schema(get_args(tp)[0], secret)
        if tp is Any:
            return {}
        if tp is type(None) or tp is None:
            return {"type": "null"}
        if isinstance(tp, NewType):
            return self.schema(tp.__supertype__, secret)
        if self._users_hook(tp):
            return {"description": f"Read by the converter's own hook for {_type_name(tp)}."}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _choices([member.value for member in tp])
        if _is_literal(tp):
            return _choices([_literal_value(arg) for arg in get_args(tp)])
        if _is_union(tp):
            return {"anyOf": [self.schema(arm, secret) for arm in get_args(tp)]}
        if isinstance(tp, type):
            for base, scalar in ((bool, "boolean"), (int, "integer"), (float, "number")):
                if issubclass(tp, base):
                    return {"type": scalar}
            if issubclass(tp, str):
                return {"type": "string"}
            for known in tp.__mro__:  # datetime before date, a PosixPath as a path
                if known in _SCALARS:
                    return dict(_SCALARS[known])
        if _is_class(tp):
            return {"$ref": self.ref(tp, secret)}
        if _is_sequence(tp) or _is_tuple(tp):
            return self._array(tp, secret)
        if _is_mapping(tp):
            args = get_args(tp)
            schema: Schema = {"type": "object"}
            if len(args) == 2:
                if args[0] is not str and args[0] is not Any:
                    keys = self.schema(args[0], secret)
                    keys.pop("description", None)
                    schema["propertyNames"] = keys  # a key is text: an int key never fits
                schema["additionalProperties"] = self.schema(args[1], secret)
            return schema
        return {"description": f"A {_type_name(tp)}: read by cattrs, not described here."}

    def _array(self, tp: Any, secret: bool) -> Schema:
        args = get_args(tp)
        schema: Schema = {"type": "array"}
        if _is_tuple(tp) and args and not (len(args) == 2 and args[1] is Ellipsis):
            schema["prefixItems"] = [self.schema(arg, secret) for arg in args]
            schema["minItems"] = schema["maxItems"] = len(args)
        elif args:
            schema["items"] = self.schema(args[0], secret)
        if _is_sequence(tp) and _SEQUENCES[_origin(tp)] is not list:
            # A set takes a list, and repeated items collapse: no uniqueItems.
            schema["description"] = "A list; repeated items count once."
        return schema

    def _users_hook(self, tp: Any) -> bool:
        """Whether the user's ``converter=`` reads ``tp`` with a hook of its own rather than
        trioconf's: its hook's code differs from the one trioconf's own converter has."""
        if self.builtin is None:
            return False
        try:
            ours = self.builtin.get_structure_hook(tp)
        except StructureHandlerNotFoundError:
            return True  # only the user's converter can read it
        except Exception:  # a type cattrs cannot even look up: not the user's doing
            return False
        return _code(self.strict.get_structure_hook(tp)) is not _code(ours)

    def ref(self, cls: type[Any], secret: bool) -> str:
        """The ``$ref`` of a class's ``$defs`` entry, made on first use (once per class, and
        once more for its use below a secret mark, where it carries no defaults)."""
        key = (cls, secret)
        if key not in self.names:
            name = self._def_name(cls) + ("-secret" if secret else "")
            # Named before it is made: a recursive class refers to itself while it is made.
            self.names[key] = f"#/$defs/{_pointer(name)}"
            self.defs[name] = self.class_body(cls, secret)
        return self.names[key]

    def _def_name(self, cls: type[Any]) -> str:
        """The class's name in ``$defs``: its own, unless another class took it."""
        if cls not in self.def_names:
            taken = set(self.def_names.values())
            candidates = (cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}")
            self.def_names[cls] = next(
                (name for name in candidates if name not in taken),
                f"{cls.__module__}.{cls.__qualname__}-{len(taken)}",
            )
        return self.def_names[cls]

    def class_body(self, cls: type[Any], secret: bool) -> Schema:
        """The schema of a table that becomes a ``cls``: its fields, required and known."""
        hints = fields_of(cls)
        docs = _field_docs(cls, self.trees)
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for name, has_default, default in _init_fields(cls):
            tp, marks = hints[name]
            below_secret = secret or marks.secret
            prop = self.schema(tp, below_secret)
            notes = [docs.get(name)]
            if marks.restart_only:
                notes.append(_RESTART_NOTE)
            if marks.secret and not secret:
                prop["writeOnly"] = True
                notes.append(_SECRET_NOTE)
            prop = _describe(prop, *notes)
            if not has_default:
                required.append(name)
            elif not (below_secret or has_secrets(tp)):
                # A type that can hold a secret anywhere gets no default: unsure means hidden.
                with contextlib.suppress(_NoDefault):
                    prop["default"] = _plain(default())
            properties[name] = prop
        body: Schema = {"title": cls.__name__}
        doc = _class_doc(cls)
        if doc:
            body["description"] = doc
        body["type"] = "object"
        body["properties"] = properties
        if required:
            body["required"] = required
        if self.forbid_unknown:
            body["additionalProperties"] = False
        return body


# --- helpers ------------------------------------------------------------------------------------


class _NoDefault(Exception):
    """A default that has no JSON form (or is not worth computing): left out of the schema."""


def _init_fields(cls: type[Any]) -> list[tuple[str, bool, Callable[[], Any]]]:
    """(key, has a default, the default's maker) for the fields a document may set: cattrs
    structures the ``init`` fields only, and refuses the others as unknown keys."""
    out: list[tuple[str, bool, Callable[[], Any]]] = []
    if attrs.has(cls):
        for a in attrs.fields(cls):
            if a.init:
                out.append((a.name, a.default is not attrs.NOTHING, _attrs_default(a.default)))
        return out
    for f in dataclasses.fields(cls):
        if f.init:
            missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            out.append((f.name, not missing, _dataclass_default(f)))
    return out


def _attrs_default(default: Any) -> Callable[[], Any]:
    def make() -> Any:
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            return _call_factory(default.factory, default.takes_self)
        return default

    return make


def _dataclass_default(f: dataclasses.Field[Any]) -> Callable[[], Any]:
    def make() -> Any:
        if f.default_factory is not dataclasses.MISSING:
            return _call_factory(f.default_factory, False)
        return f.default

    return make


def _call_factory(factory: Callable[..., Any], takes_self: bool) -> Any:
    # Only classes (list, dict, a nested config class): calling any other function of the
    # user's to print a schema could do anything.
    if takes_self or not isinstance(factory, type):
        raise _NoDefault
    try:
        return factory()
    except Exception:
        raise _NoDefault from None


def _plain(value: Any) -> Any:
    """A default as a document would write it; ``_NoDefault`` when it has no such form."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if value is None or isinstance(value, bool | str):
        return value if type(value) in (bool, str) or value is None else str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NoDefault
        return float(value)
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise _NoDefault
        return str(value)
    if isinstance(value, PurePath | uuid.UUID) or type(value) in IP_TYPES:
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [_plain(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _plain(item) for key, item in value.items()}
    if _is_class(type(value)):
        return {name: _plain(getattr(value, name)) for name, _, _ in _init_fields(type(value))}
    raise _NoDefault  # SecretStr among them: never written out


_DURATION_UNITS: Final = (
    ("w", dt.timedelta(weeks=1)),
    ("d", dt.timedelta(days=1)),
    ("h", dt.timedelta(hours=1)),
    ("m", dt.timedelta(minutes=1)),
    ("s", dt.timedelta(seconds=1)),
    ("ms", dt.timedelta(milliseconds=1)),
    ("us", dt.timedelta(microseconds=1)),
)


def format_duration(value: dt.timedelta) -> str:
    """``value`` as the duration string trioconf reads back exactly: ``5400 s`` → ``"1h30m"``."""
    sign, rest = ("-", -value) if value < dt.timedelta(0) else ("", value)
    parts = []
    for suffix, size in _DURATION_UNITS[1:]:  # days at most: "14d" reads better than "2w"
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{suffix}")
    return sign + ("".join(parts) or "0s")


def _choices(values: list[Any]) -> Schema:
    """An enum or a const of the values a document can spell (a tuple value, say, it cannot)."""
    usable = []
    for value in values:
        try:
            usable.append(_plain_exact(value))
        except _NoDefault:
            continue
    if len(usable) == 1:
        return {"const": usable[0]}
    return {"enum": usable}


def _plain_exact(value: Any) -> Any:
    # Enum and Literal values match only a value of the same type (``_same_scalar``): a value
    # that a document cannot hold as it is (a Path, a tuple) is none a document can choose.
    if value is None or type(value) in (bool, int, str) or type(value) is float:
        if isinstance(value, float) and not math.isfinite(value):
            raise _NoDefault
        return value
    if type(value) is list:
        return [_plain_exact(item) for item in value]
    if type(value) is dict and all(isinstance(key, str) for key in value):
        return {key: _plain_exact(item) for key, item in value.items()}
    raise _NoDefault


def _describe(schema: Schema, *notes: str | None) -> Schema:
    """``schema`` with the notes (a field's docstring, its marks) before its own description."""
    text = _join(*notes, schema.get("description"))
    if text:
        return {**schema, "description": text}
    return schema


def _join(*parts: str | None) -> str:
    return "\n\n".join(part for part in parts if part)


def _class_doc(cls: type[Any]) -> str | None:
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str) or not doc.strip():
        return None
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return None  # the signature dataclasses writes where there is no docstring
    return inspect.cleandoc(doc)


def _field_docs(cls: type[Any], trees: dict[str, ast.Module | None]) -> dict[str, str]:
    """Attribute docstrings (a string right after the field, as Sphinx reads them), from the
    class's source when it has one; nothing when not (a class made in a REPL, by exec, or in a
    function). ``trees``: each module's parsed source, parsed once per schema (``inspect``
    would parse the whole module again for every class)."""
    module = cls.__module__
    if module not in trees:
        try:
            trees[module] = ast.parse(inspect.getsource(sys.modules[module]))
        except (KeyError, OSError, TypeError, SyntaxError):
            trees[module] = None
    node: Any = trees[module]
    for name in cls.__qualname__.split("."):  # "<locals>" matches no class: nothing found
        found = [c for c in getattr(node, "body", []) if isinstance(c, ast.ClassDef)]
        node = next((c for c in reversed(found) if c.name == name), None)  # the last one binds
    body = node.body if isinstance(node, ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, after in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[field.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _code(hook: Any) -> Any:
    """What tells two hooks apart: the code behind a function, closure or bound method (each
    converter makes its own closures, from the same code when they are trioconf's)."""
    hook = getattr(hook, "__func__", hook)
    return getattr(hook, "__code__", hook)


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and get_origin(tp) is None:
        return tp.__name__
    return repr(tp).replace("typing.", "")
