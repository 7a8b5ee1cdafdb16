"""Search paths: ``first_found(...)``, one file read from the first of several locations.

A location is written as a user would in a shell or a unit file: ``./app.toml``,
``$XDG_CONFIG_HOME/app/app.toml``, ``~/.config/app/app.toml``, ``/etc/app/app.toml``,
highest precedence first. They are kept as written in the ``FirstFound`` value (a frozen
description, like ``File``) and expanded when a reloader or ``load()`` starts, against
``environ=`` when given, so that a test or an embedding process decides what ``$HOME`` is.

Why an unset variable skips its location rather than expanding to nothing or to a default:
``$XDG_CONFIG_HOME/app/app.toml`` with the variable unset would otherwise read
``/app/app.toml`` (a path at the root nobody meant), and trioconf knows no default for an
arbitrary variable. The XDG default is a location of its own, ``~/.config/app/app.toml``,
listed next: the search then finds the same file either way. ``os.path.expandvars`` is not
used for that reason too: it leaves an unset ``$VAR`` in the path as literal text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import attrs

from ._sources import Format, absolute

# ``$NAME`` or ``${NAME}``: a shell's spelling of a variable (no ``${NAME:-default}``).
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _locations(value: object) -> tuple[str, ...]:
    if isinstance(value, str | os.PathLike):
        value = (value,)  # one location: a search of one, the same as an optional File
    if not isinstance(value, tuple | list):
        msg = f"first_found locations must be paths (str or os.PathLike), not {value!r}"
        raise TypeError(msg)
    locations = []
    for location in value:
        if not isinstance(location, str | os.PathLike):
            msg = f"a first_found location must be a path (str or os.PathLike), not {location!r}"
            if isinstance(location, list | tuple):  # first_found(paths) for first_found(*paths)
                msg += "; pass the locations as separate arguments: first_found(*locations)"
            raise TypeError(msg)
        text = os.fspath(location)
        if not isinstance(text, str) or not text:
            msg = f"a first_found location must be a non-empty path, not {location!r}"
            raise ValueError(msg)
        locations.append(text)
    if not locations:
        msg = "first_found needs at least one location, such as './app.toml'"
        raise ValueError(msg)
    return tuple(locations)


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        msg = f"{attribute.name} must be True or False, not {value!r}"
        raise TypeError(msg)


def _format(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in get_args(Format):
        msg = f"format must be 'json', 'toml' or 'yaml', not {value!r}"
        raise (ValueError if isinstance(value, str) else TypeError)(msg)


@attrs.frozen
class FirstFound:
    """The first of several locations that holds a file, read as one layer; made by
    :func:`first_found`. Every location is watched: see :func:`first_found`."""

    locations: tuple[str, ...] = attrs.field(converter=_locations)
    optional: bool = attrs.field(default=False, kw_only=True, validator=_flag)
    format: Format | None = attrs.field(default=None, kw_only=True, validator=_format)
    priority: bool = attrs.field(default=False, kw_only=True, validator=_flag)

    @property
    def name(self) -> str:
        return f"first_found({', '.join(self.locations)})"


def first_found(
    *locations: str | os.PathLike[str],
    optional: bool = False,
    format: Format | None = None,
    priority: bool = False,
) -> FirstFound:
    """A source read from the first of ``locations`` that holds a file, highest precedence
    first, as viper's and typed-settings' search paths are.

    ``$VAR``, ``${VAR}`` and a leading ``~`` are expanded when the reloader (or
    :func:`load`) starts, from ``environ=`` when given, else ``os.environ``; a location
    naming a variable that is unset or empty is skipped. Relative locations are relative to
    the working directory at that moment.

    Every location is watched: a file that appears in a location of higher precedence than
    the one read takes over at once; when the file read disappears, the next location that
    holds one takes over once it has stayed away for ``missing_grace`` (a rename save does
    not switch). Each switch is logged on the ``trioconf`` logger. Origins and errors name
    the file read. ``optional=False``: no file in any location is a
    :class:`MissingSourceError` naming every location tried; ``optional=True``: the layer
    drops out. ``format`` and ``priority`` are :class:`File`'s.
    """
    return FirstFound(locations, optional=optional, format=format, priority=priority)


@attrs.frozen
class Expanded:
    """The locations of a ``FirstFound`` as paths, and the ones skipped (with why)."""

    paths: tuple[Path, ...]
    skipped: tuple[str, ...]  # "$XDG_CONFIG_HOME/app/app.toml (XDG_CONFIG_HOME is not set)"


def expand(search: FirstFound, environ: Mapping[str, str] | None) -> Expanded:
    """Each location made absolute, ``$VAR`` and ``~`` expanded (see the module's doc)."""
    env = os.environ if environ is None else environ
    paths: list[Path] = []
    skipped: list[str] = []
    for location in search.locations:
        names = [m.group(1) or m.group(2) for m in _VARIABLE.finditer(location)]
        unset = [name for name in names if not env.get(name)]
        if unset:
            skipped.append(f"{location} ({unset[0]} is not set)")
            continue
        text = _VARIABLE.sub(lambda m: env[m.group(1) or m.group(2)], location)
        path = absolute(_home(text, env))
        if path not in paths:  # two spellings of one place: it is looked at once
            paths.append(path)
    return Expanded(tuple(paths), tuple(skipped))


def _home(text: str, env: Mapping[str, str]) -> str:
    """A leading ``~`` as the shell expands it, ``$HOME`` taken from ``env``."""
    if text == "~" or text.startswith("~/"):
        home = env.get("HOME")
        if home:
            return home + text[1:]
    return os.path.expanduser(text)  # ``~user``, or no HOME: the password database
