"""Profiles: an environment variable that selects extra layers, ``config.prod.toml`` after
``config.toml``.

``profile_var="APP_PROFILE"`` with ``APP_PROFILE=prod,eu``: every file source (a ``File``, or
the file a ``first_found`` chose) is followed by the optional layers ``config.prod.toml`` and
then ``config.eu.toml``, next to it, in the variable's order (Spring's
``spring.profiles.active``): a later profile overrides an earlier one. The variable is read
from ``environ=`` when given, else ``os.environ``, when the reloader starts and on every full
re-read (``live.reload()``, ``request_reload()``, the ``reload_signal``); a change of a watched
file does not read it again, so a snapshot never mixes two profiles.

The profile files of any profile are watched from the start (``patterns``): each base file's
folder is watched for the names ``config.*.toml``, so a profile chosen later, whose files no
watch was set up for, is seen like the first one. Re-planning the watcher on a profile change
would leave a window between reading the new files and watching them.

The value is deployment input, like a file: a name that is not a plain word (a path
separator, a dot, an empty name between commas) is a ``SourceError`` naming the variable, and
on a reload the last good snapshot stays. A ``profile_var`` that an ``Env`` source would also
read as a config field is a usage mistake, refused before anything starts (``check_var``).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ._env import names_field
from ._errors import ConfigError, SourceError

# A profile names files: letters, digits, ``-`` and ``_`` only. No dot (``config.a.b.toml``
# would be ambiguous, and ``..`` a way out of the folder), no separator, nothing hidden.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class Prefixed(Protocol):
    """A source that reads variables by prefix: an ``Env``, a ``.env`` file."""

    @property
    def prefix(self) -> str: ...

    @property
    def name(self) -> str: ...


def check_var(var: object, cls: type, envs: Sequence[Prefixed]) -> None:
    """Refuse a ``profile_var`` that is no variable name, or that an ``Env`` source (or a
    ``.env`` file) would read as a config field too (``env_prefix="APP_"`` and a field
    ``profile``: ``APP_PROFILE`` would set both)."""
    if not isinstance(var, str):
        msg = f"profile_var must be the name of an environment variable, not {var!r}"
        raise TypeError(msg)
    if not var or "=" in var or "\0" in var:
        msg = f"profile_var must be the name of an environment variable, not {var!r}"
        raise ValueError(msg)
    for env in envs:
        if var.startswith(env.prefix) and names_field(cls, env.prefix, var):
            msg = (
                f"profile_var {var} is also the variable of a field of {cls.__name__} "
                f"(read by {env.name}): name the profile variable otherwise, or drop the field"
            )
            raise ValueError(msg)


def parse(value: str, var: str) -> tuple[str, ...]:
    """The profiles ``value`` names, in order: ``"prod, eu"`` → ``("prod", "eu")``; empty
    (or only blanks): none. Raises ``SourceError`` for a name that is no plain word, or a
    name given twice."""
    if not value.strip():
        return ()
    names = tuple(name.strip() for name in value.split(","))
    for name in names:
        if not _NAME.fullmatch(name):
            reason = (
                f"profile {name!r} is not a profile name (letters, digits, '-' and '_'; "
                "several are separated by commas)"
            )
            raise SourceError(f"env {var}", reason)
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SourceError(f"env {var}", f"profile {name!r} is named twice")
    return names


def profile_path(base: Path, name: str) -> Path:
    """``config.toml`` → ``config.prod.toml``: the profile ``name``'s file next to ``base``."""
    stem, dot, suffix = base.name.rpartition(".")
    if not dot or not stem:
        return base.with_name(f"{base.name}.{name}")  # no extension (``File(..., format=)``)
    return base.with_name(f"{stem}.{name}.{suffix}")


def pattern(base: Path) -> str:
    """The names any profile file of ``base`` can have, as an fnmatch pattern for its folder:
    ``config.*.toml``."""
    stem, dot, suffix = base.name.rpartition(".")
    if not dot or not stem:
        return f"{glob.escape(base.name)}.*"
    return f"{glob.escape(stem)}.*.{glob.escape(suffix)}"


class Profiles:
    """The profiles in effect, read from the variable (``resolve``); shared by the sources
    that have profile layers, so that one read serves them all."""

    def __init__(self, var: str, environ: Mapping[str, str] | None) -> None:
        self.var = var
        self.environ = environ  # None: os.environ, as it is at each read
        self.names: tuple[str, ...] = ()
        self.error: ConfigError | None = None

    def resolve(self) -> None:
        """Read the variable again. A bad value is the error of every source with profile
        layers (the last good snapshot stays); the names read last stay meanwhile."""
        environ = os.environ if self.environ is None else self.environ
        try:
            self.names = parse(environ.get(self.var, ""), self.var)
        except ConfigError as exc:
            self.error = exc
        else:
            self.error = None
