"""Source descriptions: what the user passes to ``open_reloader`` besides plain paths."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import attrs

from ._errors import SourceError, UnknownFormatError

Format = Literal["json", "toml", "yaml"]
_FORMATS: frozenset[str] = frozenset(get_args(Format))

_EXTENSIONS: dict[str, Format] = {
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
}


def absolute(path: str | os.PathLike[str]) -> Path:
    # Absolute but not resolved: the path as written is what the watcher follows, so a
    # symlink swap (Kubernetes ``..data``) is seen as a change of what the name points to.
    return Path(os.path.abspath(os.fspath(path)))


def _format(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # A format named in code is a usage mistake, refused where the File or Directory is made
    # (an extension trioconf does not know comes from a path, and is an UnknownFormatError).
    if value is None or value in _FORMATS:
        return
    if not isinstance(value, str):
        msg = f"format must be 'json', 'toml' or 'yaml' (a string), not {value!r}"
        raise TypeError(msg)
    msg = f"format must be 'json', 'toml' or 'yaml', not {value!r}"
    raise ValueError(msg)


Patterns = str | tuple[str, ...]


def _patterns(value: str | tuple[str, ...] | list[str]) -> Patterns:
    # A list is taken as a tuple: the Directory is frozen and hashed, and the matcher is
    # cached by its patterns. Anything else is left for the validator to judge.
    return tuple(value) if isinstance(value, list) else value


def _pattern(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, tuple) or not all(isinstance(p, str) for p in value):
        msg = (
            "Directory pattern must be an fnmatch pattern such as '*.toml', or a tuple of them,"
            f" not {value!r}"
        )
        raise TypeError(msg)
    if not value:
        msg = (
            "Directory pattern is an empty tuple, which no file would match;"
            " give at least one pattern such as '*.toml'"
        )
        raise ValueError(msg)


@attrs.frozen
class File:
    """A configuration file.

    ``optional``: a missing file drops its layer instead of failing the load.
    ``format``: ``"json"``, ``"toml"`` or ``"yaml"``; by default taken from the extension.
    ``priority``: changes to this file wait only half the debounce window.
    """

    path: Path = attrs.field(converter=absolute)
    optional: bool = False
    format: Format | None = attrs.field(default=None, validator=_format)
    priority: bool = False

    @functools.cached_property  # read on every reload of the file: worth keeping
    def resolved_format(self) -> Format:
        if self.format is not None:
            return self.format
        fmt = _EXTENSIONS.get(self.path.suffix.lower())
        if fmt is None and self.path.is_dir():
            # What is wrong is not the name: say what a read would (``_read``'s EISDIR).
            raise SourceError(str(self.path), "is a directory, not a file")
        if fmt is None:
            known = ", ".join(sorted(_EXTENSIONS))
            reason = (
                f"cannot tell the format from the extension (known: {known});"
                " pass File(path, format=...)"
            )
            raise UnknownFormatError(str(self.path), reason)
        return fmt

    @property
    def name(self) -> str:
        return str(self.path)


@attrs.frozen
class Env:
    """Environment variables starting with ``prefix``: ``APP_DB__PORT`` sets ``db.port``.

    The prefix is literal (include the trailing underscore). ``__`` separates nesting levels;
    names are lowercased. Strings are converted to each field's type.
    """

    prefix: str

    @property
    def name(self) -> str:
        return f"env {self.prefix}*"


# Names that are never a config file, whatever the pattern says: hidden files (vim's swap
# files, trioconf's own atomic-write temps, emacs lock links), backups and package-manager
# leftovers. run-parts and systemd's conf.d readers skip the same kinds of names.
_IGNORED_PREFIXES = (".", "#")
_IGNORED_SUFFIXES = (
    "~",
    "#",
    ".swp",
    ".swo",
    ".swx",
    ".tmp",
    ".bak",
    ".orig",
    ".rej",
    ".dpkg-new",
    ".dpkg-old",
    ".dpkg-dist",
    ".dpkg-tmp",
    ".rpmnew",
    ".rpmsave",
    ".rpmorig",
)
_VIM_PROBE = "4913"  # vim creates and deletes this name to test whether it may write here


@functools.lru_cache(maxsize=64)
def matcher(pattern: Patterns) -> Callable[[str], bool]:
    """Whether a file name counts for a Directory with this ``pattern`` (or any of these)."""
    patterns = (pattern,) if isinstance(pattern, str) else pattern
    # One regex for all the patterns (each translation is anchored at its end): a name is
    # matched once, however many patterns there are.
    match = re.compile("|".join(fnmatch.translate(p) for p in patterns)).match

    def matches(name: str) -> bool:
        if name.startswith(_IGNORED_PREFIXES) or name.endswith(_IGNORED_SUFFIXES):
            return False
        return name != _VIM_PROBE and match(name) is not None

    return matches


def format_of(name: str, fmt: Format | None) -> Format | None:
    """The format to parse the file ``name`` as: ``fmt`` if given, else from the extension,
    else None."""
    if fmt is not None:
        return fmt
    _, dot, ext = name.rpartition(".")
    return _EXTENSIONS.get("." + ext.lower()) if dot else None


def _dotted_key(key: str | None) -> str | None:
    if key is not None and (not key or any(not part for part in key.split("."))):
        msg = f"Directory key must be a dotted field path such as 'tenants', not {key!r}"
        raise ValueError(msg)
    return key


@attrs.frozen
class Directory:
    """A conf.d-style folder: every file in it whose name matches ``pattern``.

    ``key=None`` (layered): each file is a layer, in name order (sorted by the bytes of the
    name, as run-parts does), at the Directory's place among the sources. ``key="tenants"``
    (keyed): the file ``acme.toml`` becomes ``config.tenants["acme"]``; the field must be a
    ``dict[str, X]`` (a dotted key such as ``"a.b.tenants"`` reaches into nested classes).
    Files added or removed add or remove layers or entries.

    ``pattern`` is matched (fnmatch) against file names in the folder, not recursively; a tuple
    of patterns such as ``("*.toml", "*.yaml")`` takes a file that matches any of them; hidden
    names, editor backups and temporary files never count. ``format``: every file's format;
    by default each file's extension decides (an unknown extension is that file's error).
    ``optional``: a missing folder counts as an empty one. ``priority``: changes wait only
    half the debounce window.
    """

    path: Path = attrs.field(converter=absolute)
    pattern: Patterns = attrs.field(default="*", converter=_patterns, validator=_pattern)
    key: str | None = attrs.field(default=None, converter=_dotted_key)
    format: Format | None = attrs.field(default=None, validator=_format)
    optional: bool = False
    priority: bool = False

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def key_parts(self) -> tuple[str, ...]:
        return () if self.key is None else tuple(self.key.split("."))


def as_source(
    spec: str | os.PathLike[str] | File | Env | DotEnv | Directory,
) -> File | Env | DotEnv | Directory:
    if isinstance(spec, File | Env | DotEnv | Directory):
        return spec
    if not isinstance(spec, str | os.PathLike):
        msg = f"a source is a path, File, Directory, Env or Source, not {spec!r}"
        raise TypeError(msg)
    return File(Path(spec))


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        msg = f"{attribute.name} must be True or False, not {value!r}"
        raise TypeError(msg)


@attrs.frozen
class SecretsDir(Directory):
    """A folder of secrets, one file per value: a Kubernetes Secret volume, Docker's
    ``/run/secrets``, systemd's ``$CREDENTIALS_DIRECTORY``.

    A file's name is the field it sets, spelled as after an :class:`Env` prefix: ``password``
    sets ``password``, ``db__password`` sets ``db.password`` (case-insensitive, ``__`` between
    levels); its content is the value, with one trailing newline removed, converted for the
    field like an environment variable's text. Files whose name is no field of the config
    are ignored (a mount often holds keys meant for others), as are hidden names (the
    ``..data`` links of a Kubernetes mount). The folder is watched like a Directory: a Secret
    update, which swaps ``..data`` in one rename, is one change. Its place among the sources
    is its precedence, like any source's. ``optional``: a missing folder sets nothing.
    """

    # Every name counts, none has a format to parse, nothing is keyed: fixed, not arguments.
    pattern: Patterns = attrs.field(default="*", init=False, repr=False)
    key: str | None = attrs.field(default=None, init=False, repr=False)
    format: Format | None = attrs.field(default=None, init=False, repr=False)
    optional: bool = attrs.field(default=False, kw_only=True, validator=_flag)
    priority: bool = attrs.field(default=False, kw_only=True, validator=_flag)


def _prefix(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        msg = f"DotEnv prefix must be a string such as 'APP_', not {value!r}"
        raise TypeError(msg)


@attrs.frozen
class DotEnv:
    """A ``.env`` file: lines ``APP_DB__PORT=5433`` read as the environment variables
    ``Env(prefix)`` reads, each converted for its field the same way, with their file and
    line as their origin. Parsed by python-dotenv (quotes, ``export``, comments, multi-line
    quoted values); a line it cannot parse is a ParseError naming it.

    ``optional`` (the default): a missing file sets nothing. ``expand``: ``${VAR}`` and
    ``${VAR:-default}`` in values are replaced, python-dotenv's way, by the variable's value
    in the process environment (``environ=``), else by a variable set on an earlier line of
    the file; off by default, so that a ``$`` in a password stays one. The file is watched
    like any config file.
    """

    path: Path = attrs.field(converter=absolute)
    prefix: str = attrs.field(validator=_prefix)
    optional: bool = attrs.field(default=True, kw_only=True, validator=_flag)
    expand: bool = attrs.field(default=False, kw_only=True, validator=_flag)

    @property
    def name(self) -> str:
        return str(self.path)
