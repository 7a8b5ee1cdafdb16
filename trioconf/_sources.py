"""Source descriptions: what the user passes to ``open_reloader`` besides plain paths."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import attrs

Format = Literal["json", "toml", "yaml"]

_EXTENSIONS: dict[str, Format] = {
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
}


def _absolute(path: str | os.PathLike[str]) -> Path:
    # Absolute but not resolved: the path as written is what the watcher follows, so a
    # symlink swap (Kubernetes ``..data``) is seen as a change of what the name points to.
    return Path(os.path.abspath(os.fspath(path)))


@attrs.frozen
class File:
    """A configuration file.

    ``optional``: a missing file drops its layer instead of failing the load.
    ``format``: ``"json"``, ``"toml"`` or ``"yaml"``; by default taken from the extension.
    ``priority``: changes to this file wait only half the debounce window.
    """

    path: Path = attrs.field(converter=_absolute)
    optional: bool = False
    format: Format | None = None
    priority: bool = False

    @functools.cached_property  # read on every reload of the file: worth keeping
    def resolved_format(self) -> Format:
        if self.format is not None:
            return self.format
        fmt = _EXTENSIONS.get(self.path.suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(_EXTENSIONS))
            msg = (
                f"{self.path}: cannot tell the format from the extension (known: {known});"
                " pass File(path, format=...)"
            )
            raise ValueError(msg)
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


Source = File | Env


def as_source(spec: str | os.PathLike[str] | File | Env) -> File | Env:
    if isinstance(spec, File | Env):
        return spec
    return File(Path(spec))
