"""A layered Directory: each usable file of its folder is a layer, in name order.

The file's ``Layer`` (its data, and its raw bytes to locate field errors) is what it gives.
The folder also keeps what an incremental build (``_incremental``) needs so that a one-file
change in a folder of ten thousand costs one file: the layer each changed name had at the
last build (``take_changes``), and the name order, sorted again only when a name comes or
goes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ._folder import Folder, name_order
from ._formats import INLINE_LIMITS
from ._layer import Layer
from ._read import Content
from ._settings import Options
from ._sources import Directory, Format


class LayeredFolder(Folder):
    """A ``Directory(path)`` without a key (``_source_state.SourceState``)."""

    def __init__(self, source: Directory, options: Options, *, doc_type: Any = None) -> None:
        super().__init__(source, options, doc_type=doc_type)
        self._order: list[str] | None = None  # the names of ``_given``, sorted; None: stale
        # Name → the layer it had at the last ``take_changes`` (None: none), for the names
        # whose layer changed since.
        self._changes: dict[str, Layer | None] = {}
        self._large: set[str] = set()  # names whose layer is too large to build from inline
        self.tracking = False  # set by the incremental build that indexed every layer
        # ``frozen_layers``: the views alive, the generation the next change belongs to, and
        # (generation, name, the layer it had before) for each change a view may need undone.
        self._views: weakref.WeakSet[_View] = weakref.WeakSet()
        self._generation = 0
        self._undo: list[tuple[int, str, Layer | None]] = []

    def layers(self) -> Sequence[Layer]:
        """Each usable file's layer, in name order."""
        given = self._given
        return [given[name] for name in self._names()]

    def named_layers(self) -> list[tuple[str, Layer]]:
        given = self._given
        return [(name, given[name]) for name in self._names()]

    def frozen_layers(self) -> Callable[[], list[Layer]]:
        """The layers as they are now, listed when called (for origins, which few ever ask).

        Copying ten thousand entries per change cost more than the change: the view keeps
        this moment's generation instead, and the folder keeps, while any view may still be
        asked, the layer each name had before each later change (an undo log, trimmed as
        views die)."""
        view = _View(self, self._generation)
        self._views.add(view)
        self._generation += 1
        self._trim()
        return view

    def layers_at(self, generation: int) -> list[Layer]:
        """The layers as they were when ``frozen_layers`` gave the view ``generation``."""
        given = dict(self._given)
        for when, name, before in reversed(self._undo):
            if when <= generation:
                break
            if before is None:
                given.pop(name, None)
            else:
                given[name] = before
        return [given[name] for name in sorted(given, key=name_order)]

    def _trim(self) -> None:
        if not self._views:
            self._undo.clear()
            return
        oldest = min(view.generation for view in self._views)
        if self._undo and self._undo[0][0] <= oldest:
            self._undo = [entry for entry in self._undo if entry[0] > oldest]

    def _names(self) -> list[str]:
        if self._order is None:
            self._order = sorted(self._given, key=name_order)
        return self._order

    @property
    def heavy(self) -> bool:
        return bool(self._large)

    def take_changes(self) -> list[tuple[str, Layer | None, Layer | None]]:
        """The names whose layer changed since the last call: (name, before, after)."""
        given = self._given
        changes = [
            (name, before, given.get(name))
            for name, before in self._changes.items()
            if before is not given.get(name)
        ]
        self._changes = {}
        return changes

    def _value(
        self, name: str, content: Content, fmt: Format | None, data: dict[str, Any]
    ) -> Layer:
        return Layer(self._prefix + name, data, content.raw, fmt)

    def _succeed(self, name: str, digest: bytes, value: Any) -> bool:
        self._note(name)
        if name not in self._given:
            self._order = None  # a name comes: sorted again when next asked
        if value.format is not None and len(value.raw) > INLINE_LIMITS[value.format]:
            self._large.add(name)
        else:
            self._large.discard(name)
        return super()._succeed(name, digest, value)

    def _failed(self, name: str) -> None:
        self._note(name)
        if self._given.pop(name, None) is not None:  # its stale layer is not kept
            self._order = None
        self._large.discard(name)

    def _remove(self, name: str) -> bool:
        self._note(name)
        self._large.discard(name)
        if name in self._given:
            self._order = None
        return super()._remove(name)

    def _note(self, name: str) -> None:
        """``name``'s layer is about to change: remember the one it has, for the incremental
        build (once it has indexed the folder: until then there is nobody to tell) and for
        the views that may still be asked (``frozen_layers``)."""
        before = self._given.get(name)
        if self.tracking and name not in self._changes:
            self._changes[name] = before
        if self._views:
            self._undo.append((self._generation, name, before))


class _View:
    """A layered folder's layers at one moment (``LayeredFolder.frozen_layers``)."""

    __slots__ = ("__weakref__", "folder", "generation")

    def __init__(self, folder: LayeredFolder, generation: int) -> None:
        self.folder = folder
        self.generation = generation

    def __call__(self) -> list[Layer]:
        return self.folder.layers_at(self.generation)
