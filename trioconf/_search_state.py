"""A file source that may read one of several files: a ``first_found`` search, and a file with
profile layers (``config.toml``, then ``config.prod.toml``).

One place per location, highest precedence first; each place is its file (a ``FileState``)
and the files of the profiles in effect next to it. Every place is read when its files are
reported, chosen or not, so that a switch needs no read: a switch happens in ``grace_over``,
which may not wait, and its file is parsed already. The chosen place gives the layers; only
its files' grace (``waiting``) holds a build back, since a save elsewhere changes nothing read.

Which place is chosen (``_choose``): the first that holds a file, with one exception. When
the chosen file disappears, it stays chosen while it waits out ``missing_grace`` (a rename
save, a delete-then-write), and only then does the next place that holds a file take over; a
place of higher precedence that gains a file takes over at once. A place "holds a file" when
its last read found one, whatever it held: a file that does not parse is chosen, and its error
is the source's error, rather than silently read past.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _profiles
from ._errors import ConfigError, MissingSourceError
from ._file_state import FileState
from ._layer import Layer
from ._profiles import Profiles
from ._search import FirstFound, expand
from ._settings import Options
from ._source_state import Key
from ._sources import Directory, File, Format

logger = logging.getLogger("trioconf")


class _Place:
    """One location: its file, and the files of the profiles in effect beside it."""

    def __init__(self, base: FileState) -> None:
        self.base = base
        self.profiles: dict[str, FileState] = {}  # in the profiles' order

    @property
    def path(self) -> Path:
        return self.base.source.path

    def files(self) -> list[FileState]:
        return [self.base, *self.profiles.values()]

    def holds_file(self) -> bool:
        state = self.base
        return state.read and (state.digest is not None or state.error is not None)


class SearchState:
    """A ``FirstFound``, or a ``File`` with profiles (``_source_state.SourceState``)."""

    def __init__(
        self,
        name: str,
        bases: Sequence[File],
        options: Options,
        profiles: Profiles | None,
        *,
        search: FirstFound | None = None,
        skipped: Sequence[str] = (),
        doc_type: Any = None,
    ) -> None:
        self._name = name
        self.options = options
        self.doc_type = doc_type
        self.search = search  # None: one File, always chosen, with its own missing error
        self.skipped = tuple(skipped)
        self.profiles = profiles
        self.priority = bases[0].priority if bases else False
        self.places = [_Place(FileState(base, options, doc_type=doc_type)) for base in bases]
        self.chosen: int | None = None if search is not None else 0
        self._started = False  # a choice was made once (the first one is not a switch)
        self._names: tuple[str, ...] = ()  # the profiles the places' files are made for
        self._profile_paths: dict[Path, list[FileState]] = {}
        self._folders: dict[Path, list[_Place]] = {}
        if profiles is not None:
            for place in self.places:
                self._folders.setdefault(place.path.parent, []).append(place)

    @classmethod
    def of_search(
        cls,
        search: FirstFound,
        options: Options,
        profiles: Profiles | None,
        environ: Mapping[str, str] | None,
        doc_type: Any = None,
    ) -> SearchState:
        expanded = expand(search, environ)
        fmt: Format | None = search.format
        bases = [
            File(path, optional=True, format=fmt, priority=search.priority)
            for path in expanded.paths
        ]
        return cls(
            search.name,
            bases,
            options,
            profiles,
            search=search,
            skipped=expanded.skipped,
            doc_type=doc_type,
        )

    # -- what the watcher watches, and which of its reports are this source's -----------------

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every location's file."""
        return tuple(place.path for place in self.places)

    @property
    def folders(self) -> tuple[Directory, ...]:
        """With profiles: each location's folder, for the names of its profile files."""
        if self.profiles is None:
            return ()
        return tuple(
            Directory(place.path.parent, pattern=_profiles.pattern(place.path), optional=True)
            for place in self.places
        )

    def follows(self, key: Path) -> bool:
        """Whether a report of ``key`` concerns this source now: a location, a file of the
        profiles in effect, or a location's folder (listed again: it came or went)."""
        return (
            any(place.path == key for place in self.places)
            or key in self._profile_paths
            or key in self._folders
        )

    # -- SourceState ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def error(self) -> ConfigError | None:
        if self.profiles is not None and self.profiles.error is not None:
            return self.profiles.error
        if self.chosen is None:
            if self.search is None or self.search.optional:
                return None
            return MissingSourceError(self._name, self._nothing_found())
        for state in self.places[self.chosen].files():
            if state.error is not None:
                return state.error
        return None

    def _nothing_found(self) -> str:
        tried = ", ".join(str(place.path) for place in self.places) or "none"
        skipped = f"; skipped {', '.join(self.skipped)}" if self.skipped else ""
        return f"no file in any location (tried {tried}{skipped})"

    def layers(self) -> Sequence[Layer]:
        if self.chosen is None:
            return ()
        return [layer for state in self.places[self.chosen].files() for layer in state.layers()]

    @property
    def waiting(self) -> frozenset[Path]:
        if self.chosen is None:
            return frozenset()
        waiting: frozenset[Path] = frozenset()
        for state in self.places[self.chosen].files():
            waiting |= state.waiting
        return waiting

    def grace_over(self) -> None:
        for place in self.places:
            for state in place.files():
                state.grace_over()
        self._choose()

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        before = self._given()
        if keys is None:
            self._plan()
            for place in self.places:
                for state in place.files():
                    await state.refresh(None)
        else:
            for place in self.places:
                for state in self._named(place, keys):
                    await state.refresh(keys)
        self._choose()
        return self._given() != before

    def refresh_sync(self) -> None:
        self._plan()
        for place in self.places:
            for state in place.files():
                state.refresh_sync()
        self._choose()

    def _named(self, place: _Place, keys: frozenset[Key]) -> list[FileState]:
        if place.path.parent in keys:  # its folder came, went or was swapped: every file
            return place.files()
        return [state for state in place.files() if state.source.path in keys]

    def _given(self) -> tuple[object, ...]:
        error = self.error
        chosen = () if self.chosen is None else self.places[self.chosen].files()
        return (
            self.chosen,
            tuple((state.source.path, state.outcome()) for state in chosen),
            None if error is None else (type(error), str(error)),
        )

    # -- profiles: which files each place has ---------------------------------------------------

    def _plan(self) -> None:
        """The profile files of the profiles in effect (resolved by the loader just before):
        new ones are made, to be read now; those of profiles no longer in effect are
        dropped."""
        if self.profiles is None or self.profiles.names == self._names:
            return
        names = self.profiles.names
        for place in self.places:
            kept = place.profiles
            place.profiles = {
                name: kept[name] if name in kept else self._profile_file(place, name)
                for name in names
            }
        self._names = names
        self._profile_paths = {}
        for place in self.places:
            for state in place.profiles.values():
                self._profile_paths.setdefault(state.source.path, []).append(state)

    def _profile_file(self, place: _Place, name: str) -> FileState:
        base = place.base.source
        path = _profiles.profile_path(base.path, name)
        source = File(path, optional=True, format=base.resolved_format, priority=base.priority)
        return FileState(source, self.options, doc_type=self.doc_type)

    # -- the choice -------------------------------------------------------------------------

    def _choose(self) -> None:
        if self.search is None:
            return  # one File: always the one
        current = self.chosen
        holding = [i for i, place in enumerate(self.places) if place.holds_file()]
        best = holding[0] if holding else None
        if current is not None and best is not None and best < current:
            pass  # a file of higher precedence came: it takes over at once
        elif current is not None and current in holding:
            return
        elif current is not None and self.places[current].base.waiting:
            return  # gone, maybe for a moment (a rename save): it waits out its grace
        if best != current:
            self.chosen = best
            self._log_switch(current, best)
        self._started = True

    def _log_switch(self, old: int | None, new: int | None) -> None:
        if old is None:
            if new is not None:
                now = self.places[new].path
                if self._started:  # none held a file until now: it is news
                    logger.info("configuration file is now %s (it appeared)", now)
                else:
                    logger.debug("%s: reading %s", self._name, now)
            return
        gone = self.places[old].path
        if new is None:
            tried = ", ".join(str(place.path) for place in self.places)
            logger.warning("no configuration file left (%s is gone; tried %s)", gone, tried)
            return
        now = self.places[new].path
        if new < old:
            logger.info("configuration file is now %s (it takes precedence over %s)", now, gone)
        else:
            logger.info("configuration file is now %s (%s is gone)", now, gone)
