"""A ``SecretsDir``: a layered folder whose files are values, not documents.

``password`` holding ``s3cr3t\\n`` is the layer ``{"password": "s3cr3t"}``. Everything else is
a layered Directory's: the listing, the watch (a Kubernetes Secret update swaps ``..data``, which
makes the folder be listed again), the digests that skip an unchanged file, the name order.
A name is mapped to its field the way an environment variable's is (``db__password`` is
``db.password``), and only names that map to a field count: a mount often holds keys meant for
other programs, and a name that counts but sets nothing would be taken for a file caught
half-written.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from ._env import _convert, _resolve, _Unconvertible, _Unknown, unconvertible
from ._errors import ConfigError, ParseError, ValidationError
from ._folder_layered import LayeredFolder
from ._read import Content
from ._settings import Options
from ._sources import Format, SecretsDir


class SecretsFolder(LayeredFolder):
    """A ``SecretsDir`` (``_source_state.SourceState``)."""

    def __init__(self, source: SecretsDir, options: Options, cls: type) -> None:
        super().__init__(source, options)
        self.cls = cls
        base = self.matches
        self.matches = lambda name: base(name) and self._target(name) is not None

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one per reloader, a handful of names)
    def _target(self, name: str) -> tuple[tuple[str, ...], Any] | None:
        """The key path and field type the file ``name`` sets; None if it names no field."""
        try:
            return _resolve(self.cls, tuple(name.lower().split("__")))
        except _Unknown:
            return None

    def _format_of(self, name: str) -> Format | None:
        return None  # a value, whatever the name looks like (``tls.json`` too)

    def _parse(
        self, name: str, content: Content, fmt: Format | None, inline: bool
    ) -> dict[str, Any] | ConfigError:
        path = self._prefix + name
        target = self._target(name)
        assert target is not None  # only matching names are read
        keys, tp = target
        try:
            text = content.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ParseError(path, f"is not UTF-8 text (byte {exc.start})")
        # What `echo`, `kubectl create secret --from-file` and editors leave: one newline.
        text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
        try:
            value = _convert(text, tp)
        except _Unconvertible as exc:
            error = unconvertible(self.cls, keys, exc, text, source=path)
            return ValidationError([attrs.evolve(error, line=1)])
        data: dict[str, Any] = {}
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        return data
