"""A keyed Directory: the file ``acme.toml`` gives ``config.<key>["acme"]``, structured.

Only the **structured entry** of a file is kept: neither its raw bytes nor its parsed dict
(ten thousand of them would weigh more than the entries themselves); a field error is located
while the bytes are still at hand, when the file is read, so nothing needs them later.

``entries`` maps stem → entry in the order of the keys' bytes: the very dict a snapshot's
mapping field holds. It is copied on the first change after a snapshot took it (copy on write),
so a snapshot never changes under its readers, and an unchanged entry is the same object in
every snapshot. ``dirty`` collects the stems whose entry changed since the snapshot the updater
compares with; the updater diffs only those (``_keyed``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs
import cattrs

from ._errors import ConfigError, SourceError, ValidationError
from ._folder import Folder, name_order, stem_of
from ._layer import Layer
from ._merge import dotted, merge
from ._read import Content
from ._settings import Options
from ._sources import Directory, Format
from ._structure import structure


class KeyedFolder(Folder):
    """A ``Directory(path, key=...)`` (``_source_state.SourceState``)."""

    def __init__(
        self, source: Directory, options: Options, converter: cattrs.Converter, entry_type: Any
    ) -> None:
        super().__init__(source, options, doc_type=entry_type)  # a file is one entry
        self.converter = converter
        self.entry_type = entry_type
        # The converter's hook for the entry type, looked up once rather than per file.
        self.hook: Callable[[Any, Any], Any] = converter.get_structure_hook(entry_type)
        # Stem → the name of its file, and the stems more than one file claims.
        self._owners: dict[str, str] = {}
        self._claims: dict[str, list[str]] = {}
        self.entries: dict[str, Any] = {}
        self._shared = False  # ``entries`` is held by a snapshot: copy it before changing it
        self.dirty: set[str] = set()

    def take_entries(self) -> dict[str, Any]:
        """The entries, for a snapshot to hold (copied before the next change)."""
        self._shared = True
        return self.entries

    def prepare(self) -> None:
        """Copy the entries a snapshot took now, between changes (``Loader.prepare``)."""
        self._copy_if_shared()

    def owner(self, stem: str) -> str | None:
        """The path of the file that supplies the entry ``stem`` now."""
        name = self._owners.get(stem)
        return None if name is None else os.path.join(self.folder, name)

    def reuse(self, stem: str, entry: Any) -> None:
        """Put back an equal entry from the current snapshot, so it stays the same object."""
        name = self._owners.get(stem)
        if name is not None and stem not in self._claims and name not in self._errors:
            self._given[name] = entry
            self._set_value(stem, entry)
        self.dirty.discard(stem)

    def _conflict(self) -> ConfigError | None:
        if not self._claims:
            return None
        first = min(self._claims.values(), key=lambda names: name_order(names[0]))
        both = " and ".join(first)
        return SourceError(self.folder, f"{both} both give the entry {stem_of(first[0])!r}")

    def _value(self, name: str, content: Content, fmt: Format | None, data: dict[str, Any]) -> Any:
        """The file's entry, structured; a ValidationError names its fields under the entry's
        key path (``tenants.acme.port``), with the file and line.

        The fast path is the converter alone; only a failure builds the single-layer merge
        that ``structure`` needs to say which line of which file holds each bad field.
        """
        try:
            return self.hook(data, self.entry_type)
        except Exception:
            pass  # the detailed pass below says what was wrong, and where
        layer = Layer(self._prefix + name, data, content.raw, fmt)
        try:
            return structure(self.converter, self.entry_type, merge([layer]))
        except ValidationError as exc:
            prefix = (*self.source.key_parts, stem_of(name))
            # The entry is the file: a field no line holds (a missing required one) is still
            # the file's to name.
            errors = [
                attrs.evolve(e, path=_under(prefix, e.path), source=e.source or layer.name)
                for e in exc.errors
            ]
            raise ValidationError(errors) from exc.__cause__

    # -- bookkeeping ------------------------------------------------------------------------

    def _succeed(self, name: str, digest: bytes, value: Any) -> bool:
        if name not in self.files and not self._errors and not self._claims:
            # The common case, ten thousand times at start-up: a new file, all good.
            stem = stem_of(name)
            if stem not in self._owners:
                self._owners[stem] = name
                self.files[name] = digest
                self._given[name] = value
                self._set_value(stem, value)
                self.dirty.add(stem)
                return True
        return super()._succeed(name, digest, value)

    def _added(self, name: str) -> None:
        """A new file claims its stem."""
        stem = stem_of(name)
        owner = self._owners.get(stem)
        if owner is None:
            self._owners[stem] = name
            return
        claims = self._claims.setdefault(stem, [owner])
        claims.append(name)
        claims.sort(key=name_order)
        self._owners[stem] = claims[0]

    def _gave(self, name: str) -> None:
        self._restem(stem_of(name))

    def _failed(self, name: str) -> None:
        # The entry keeps its last good value: the build fails while any file has an error,
        # and a fix that gives an equal entry is then no change.
        self.dirty.add(stem_of(name))

    def _removed(self, name: str) -> None:
        stem = stem_of(name)
        claims = self._claims.get(stem)
        if claims is None:
            del self._owners[stem]
        else:
            claims.remove(name)
            self._owners[stem] = claims[0]
            if len(claims) == 1:
                del self._claims[stem]
        self._restem(stem)

    def _restem(self, stem: str) -> None:
        """Make ``entries[stem]`` what the file of that stem gives now. While two files claim
        it, or its file has an error, the build fails; the entry waits as it was."""
        name = self._owners.get(stem)
        if name is None:
            if stem in self.entries:
                self._copy_if_shared()
                del self.entries[stem]
                self.dirty.add(stem)
            return
        if stem not in self._claims and name not in self._errors:
            value = self._given[name]
            if self.entries.get(stem) is not value:
                self._set_value(stem, value)
        self.dirty.add(stem)

    def _set_value(self, stem: str, entry: Any) -> None:
        self._copy_if_shared()
        entries = self.entries
        if stem in entries or not entries or name_order(stem) > name_order(next(reversed(entries))):
            # In place, or appended: a listing in name order only ever appends.
            entries[stem] = entry
            return
        entries[stem] = entry
        # Inserted in the middle: rebuild the dict in key order (a new file, not an edit).
        self.entries = {s: entries[s] for s in sorted(entries, key=name_order)}

    def _copy_if_shared(self) -> None:
        if self._shared:
            self.entries = self.entries.copy()  # the fast clone of a compact dict
            self._shared = False


def _under(prefix: tuple[str, ...], path: str) -> str:
    head = dotted(prefix)
    if not path:
        return head
    return head + path if path.startswith("[") else f"{head}.{path}"
