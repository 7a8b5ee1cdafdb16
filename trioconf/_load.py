"""Sources → layers → one typed config: the part of the updater that knows no tasks.

The loader is the ordered list of the sources, each one object behind one interface
(``_source_state.SourceState``), plus the build. It routes each change key of a batch (a
watched path, a source that reported a change itself) to the sources it belongs to, and asks
them to refresh; each keeps what it gave last (a layer, structured entries, or its error) and
re-parses only what changed. Building merges every source's layers from scratch, so the result
equals a fresh load of what the sources hold now: a key removed from a file disappears, and a
layer that broke and was fixed needs no memory of what came before.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Container, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import cattrs

from ._converter import Configure, make_converter
from ._dotenv_state import DotEnvState
from ._env_state import EnvState
from ._errors import ConfigError
from ._file_state import FileState
from ._folder import Folder
from ._folder_keyed import KeyedFolder
from ._folder_layered import LayeredFolder
from ._folder_secrets import SecretsFolder
from ._formats import INLINE_LIMITS
from ._incremental import Fallback, Field, Incremental, mapping_fields
from ._keyed import KeyedOrigins, check_keys, entry_type
from ._keyed import build as build_keyed
from ._layer import Layer
from ._merge import Merged, merge
from ._origins import LayerOrigins
from ._overrides import Overrides, OverridesState
from ._profiles import Profiles
from ._search import FirstFound
from ._search_state import SearchState
from ._settings import MAX_SIZE, AnySource, Options, Reading, SourceSpec
from ._source import UserSourceState
from ._source_state import Key, Notified, SourceState
from ._sources import Directory, DotEnv, Env, File, SecretsDir
from ._structure import structure

T = TypeVar("T")
logger = logging.getLogger("trioconf")


class Loader(Generic[T]):
    def __init__(
        self,
        cls: type[T],
        sources: Sequence[AnySource],
        converter: cattrs.Converter,
        options: Options,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.cls = cls
        self.sources = tuple(sources)
        self.converter = converter
        self.options = options
        check_keys([s for s in sources if isinstance(s, Directory) and s.key is not None])
        # ``profile_var``: the profiles in effect, read once per full read for every source.
        self.profiles = (
            None if options.profile_var is None else Profiles(options.profile_var, environ)
        )
        self.states: tuple[SourceState, ...] = tuple(
            self._state(source, i, environ) for i, source in enumerate(sources)
        )
        # Where each change key goes: a file's path to its File sources, a folder (or a file
        # in it) to its Directory sources, a user source's key to that source.
        self._by_path: dict[Path, list[FileState]] = {}
        self._by_folder: dict[Path, list[Folder]] = {}
        self._notified: dict[Notified, UserSourceState] = {}
        # The files ``..._FILE`` variables name for secret fields: watched like the others;
        # and ``.env`` files (``DotEnv``), watched as files are.
        self._by_env_file: dict[Path, list[EnvState | DotEnvState]] = {}
        for state in self.states:
            if isinstance(state, DotEnvState):
                self._by_env_file.setdefault(state.source.path, []).append(state)
            if isinstance(state, EnvState):
                for path in state.files:
                    self._by_env_file.setdefault(path, []).append(state)
            if isinstance(state, FileState):
                self._by_path.setdefault(state.source.path, []).append(state)
            elif isinstance(state, Folder):
                self._by_folder.setdefault(state.source.path, []).append(state)
            elif isinstance(state, UserSourceState):
                self._notified[state.key] = state
        self._order = {id(state): i for i, state in enumerate(self.states)}
        # Searches and files with profiles: each says which reports are its own.
        self._searches = [state for state in self.states if isinstance(state, SearchState)]
        self.keyed = [state for state in self.states if isinstance(state, KeyedFolder)]
        self.user_sources = tuple(self._notified.values())
        # A layered Directory's change is built at its own cost (``_incremental``) when the
        # config has mapping fields for its files' entries. Keyed Directories are already.
        fields: tuple[Field, ...] = ()
        if not self.keyed and any(isinstance(s, LayeredFolder) for s in self.states):
            fields = mapping_fields(cls)
        self.incremental: Incremental[T] | None = None
        if fields:
            self.incremental = Incremental(cls, converter, fields, allow_nan=options.allow_nan)

    def _state(
        self, source: AnySource, index: int, environ: Mapping[str, str] | None
    ) -> SourceState:
        options = self.options
        if isinstance(source, FirstFound):
            return SearchState.of_search(source, options, self.profiles, environ, self.cls)
        if isinstance(source, File):
            if self.profiles is not None:
                return SearchState(source.name, [source], options, self.profiles, doc_type=self.cls)
            return FileState(source, options, doc_type=self.cls)
        if isinstance(source, Env):
            return EnvState(source, self.cls, options, environ)
        if isinstance(source, DotEnv):
            return DotEnvState(source, self.cls, options, environ)
        if isinstance(source, Overrides):
            return OverridesState(source, self.cls)
        if isinstance(source, SecretsDir):
            return SecretsFolder(source, options, self.cls)
        if isinstance(source, Directory):
            if source.key is None:
                return LayeredFolder(source, options, doc_type=self.cls)
            return KeyedFolder(source, options, self.converter, entry_type(self.cls, source))
        return UserSourceState(source, index, options.parse_timeout, self.cls)

    @property
    def paths(self) -> tuple[Path, ...]:
        """The files the file watcher watches."""
        searched = [path for state in self._searches for path in state.paths]
        return tuple(dict.fromkeys([*self._by_path, *self._by_env_file, *searched]))

    @property
    def directories(self) -> tuple[Directory, ...]:
        """The folders the file watcher watches."""
        return (
            *(state.source for folders in self._by_folder.values() for state in folders),
            *(folder for state in self._searches for folder in state.folders),
        )

    @property
    def priority(self) -> Container[Key]:
        """The keys whose changes wait half the debounce window, for the debouncer."""
        if not self._by_folder and not self._searches:
            return frozenset(p for p, states in self._by_path.items() if _urgent(states))
        return _Priority(self)

    def is_priority(self, key: Key) -> bool:
        """Whether changes to ``key`` (a file, or a file in a Directory) are urgent."""
        if not isinstance(key, Path):
            return False
        if any(s.priority and s.follows(key) for s in self._searches):
            return True
        states = self._by_path.get(key)
        if states is not None:
            return _urgent(states)
        folders = self._by_folder.get(key.parent, ())
        return any(d.source.priority and d.matches(key.name) for d in folders)

    # -- refreshing: read what the sources hold now --------------------------------------------

    def refresh_sync(self) -> None:
        """Read every source inline (for one-shot loads outside an event loop)."""
        if self.profiles is not None:
            self.profiles.resolve()
        for state in self.states:
            state.refresh_sync()

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        """Refresh the sources ``keys`` name (``None``: every source), once; True when what
        any of them gives changed. Sources whose read found a file gone or emptied list it
        in ``waiting`` (see ``_updater.refresh``)."""
        changed = False
        if keys is None:
            if self.profiles is not None:
                self.profiles.resolve()  # at start and on every full read: reload()
            for state in self.states:
                changed |= await state.refresh(None)
            return changed
        for state, named in self._route(keys):
            changed |= await state.refresh(named)
        return changed

    def _route(self, keys: frozenset[Key]) -> list[tuple[SourceState, frozenset[Key]]]:
        """The sources the keys name, in source order, each with its own keys."""
        if len(keys) == 1 and not self._by_folder and not self._searches:
            # One file changed, no folder to look in: the usual save, on every reload's path.
            (key,) = keys
            found = self._by_path.get(key) if isinstance(key, Path) else None
            if found is not None and len(found) == 1:
                return [(found[0], keys)]
        named: dict[int, tuple[SourceState, set[Key]]] = {}

        def add(state: SourceState, key: Key) -> None:
            named.setdefault(id(state), (state, set()))[1].add(key)

        for key in keys:
            if isinstance(key, Notified):
                add(self._notified[key], key)
                continue
            for file in self._by_path.get(key, ()):
                add(file, key)
            for env in self._by_env_file.get(key, ()):
                add(env, key)
            for search in self._searches:
                if search.follows(key):
                    add(search, key)
            for folder in (*self._by_folder.get(key, ()), *self._by_folder.get(key.parent, ())):
                add(folder, key)
        routed = sorted(named.items(), key=lambda item: self._order[item[0]])
        return [(state, frozenset(own)) for _, (state, own) in routed]

    @property
    def waiting(self) -> frozenset[Path]:
        """Files found gone or emptied, in their grace."""
        waiting: frozenset[Path] = frozenset()
        for state in self.states:
            waiting |= state.waiting
        return waiting

    def grace_over(self) -> None:
        """The files still ``waiting`` stay as they were read: missing, absent or empty."""
        for state in self.states:
            state.grace_over()

    # -- building: every source's layers → typed config ----------------------------------------

    @property
    def error(self) -> ConfigError | None:
        """The first source that cannot be used now, in source order."""
        for state in self.states:
            error = state.error
            if error is not None:
                return error
        return None

    def layers(self) -> list[Layer]:
        return [layer for state in self.states for layer in state.layers()]

    def frozen_layers(self) -> Callable[[], list[Layer]]:
        """``layers`` as they are now, listed when called (``_incremental``'s origins)."""
        parts: list[Callable[[], list[Layer]]] = []
        for state in self.states:
            if isinstance(state, LayeredFolder):
                parts.append(state.frozen_layers())
            else:
                parts.append(functools.partial(list, state.layers()))
        return lambda: [layer for part in parts for layer in part()]

    @property
    def heavy(self) -> bool:
        """Whether a layer is too large to have been parsed inline: building from it would
        stall the event loop too."""
        for state in self.states:
            if isinstance(state, LayeredFolder):
                if state.heavy:
                    return True
                continue
            for layer in state.layers():
                raw, fmt = layer.raw, layer.format
                if raw is not None and fmt is not None and len(raw) > INLINE_LIMITS[fmt]:
                    return True
        return False

    def build(self) -> tuple[T, Mapping[str, str]]:
        """The typed config and the origin of every key path.

        Raises the first source's error, or a ValidationError with every bad field.
        """
        error = self.error
        if error is not None:
            raise error
        incremental = self.incremental
        if incremental is not None and not self.heavy:
            try:
                built = incremental.build(self)
            except Fallback:
                pass  # said by the full build below
            else:
                incremental.settled()  # the snapshot built now is the one to compare with
                return built
        return self.build_full()

    def prepare(self) -> None:
        """Between changes: copy now the mappings the last snapshot took (copy on write), so
        that the next change does not wait for that copy."""
        if self.incremental is not None:
            self.incremental.prepare()
        for folder in self.keyed:
            folder.prepare()

    def build_full(self) -> tuple[T, Mapping[str, str]]:
        """``build`` from scratch: every layer merged, the whole config structured."""
        error = self.error
        if error is not None:
            raise error
        if self.incremental is not None:
            self.incremental.ready = False  # its index missed whatever changed meanwhile
        merged = merge(self.layers())
        if self.keyed:
            for folder in self.keyed:
                folder.take_entries()  # the snapshot built now holds them
            built = self.build_keyed(merged)
            # Only the initial load (and trioconf.load) build a keyed config here; the updater
            # builds through ``_keyed.settle`` and ``_keyed.candidate``. Every entry is in the
            # initial snapshot, so none is a change the first reload should diff.
            for folder in self.keyed:
                folder.dirty.clear()
            return built
        config = structure(self.converter, self.cls, merged)
        return config, LayerOrigins(merged)

    def build_keyed(self, merged: Merged | None = None) -> tuple[T, KeyedOrigins]:
        """``build`` with keyed Directories: their entries are taken as structured already."""
        if merged is None:
            merged = merge(self.layers())
        return build_keyed(self.converter, self.cls, merged, self.keyed)


def _urgent(states: Sequence[FileState]) -> bool:
    return any(state.source.priority for state in states)


class _Priority(Container[Key]):
    """Priority files and the files of priority Directories (not known in advance)."""

    def __init__(self, loader: Loader[Any]) -> None:
        self._loader = loader

    def __contains__(self, key: object) -> bool:
        return isinstance(key, Path) and self._loader.is_priority(key)


def load(
    cls: type[T],
    *sources: SourceSpec,
    env_prefix: str | None = None,
    strict_env: bool = False,
    forbid_unknown: bool = True,
    allow_nan: bool = False,
    max_size: int = MAX_SIZE,
    lock_timeout: float = 5.0,
    environ: Mapping[str, str] | None = None,
    converter: Configure | None = None,
    env_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    profile_var: str | None = None,
) -> T:
    """Load and validate once, without watching: sync, for scripts and ``trioconf check``.

    Raises the same ConfigErrors as the initial load of :func:`open_reloader`, but does not
    wait for a missing file to come back. A file that a cooperating writer (a
    :class:`FileGuard`) is changing in place is read under its shared lock, waited for up to
    ``lock_timeout`` seconds (then :class:`LockTimeout`, naming the file and the holder).
    ``converter`` registers hooks for types of your own, as :func:`open_reloader`'s does;
    ``env_file`` and ``overrides`` are :func:`open_reloader`'s too (see :doc:`overrides`).
    ``profile_var`` and :func:`first_found` sources are read as :func:`open_reloader` reads
    them (see :doc:`search-paths`).
    Do not call it from async code: it parses inline, and a lock wait blocks the thread.
    A usage mistake (a wrong argument, an instance or a class trioconf cannot load in place of
    ``cls``) is a plain ``TypeError`` or ``ValueError``, raised before any file is read.
    """
    reading = Reading.of(
        cls,
        sources,
        env_prefix,
        strict_env=strict_env,
        forbid_unknown=forbid_unknown,
        allow_nan=allow_nan,
        max_size=max_size,
        lock_timeout=lock_timeout,
        environ=environ,
        converter=converter,
        env_file=env_file,
        overrides=overrides,
        profile_var=profile_var,
    )
    config, _ = read_once(reading)
    return config


def load_with_origins(
    cls: type[T], *sources: SourceSpec, env_prefix: str | None = None, **options: Any
) -> tuple[T, Mapping[str, str]]:
    """:func:`load` (the same keywords), with where each value came from (for ``trioconf check
    --print``): the origins ``Live`` would hold for the same snapshot. Private: the CLI is its
    one user."""
    return read_once(Reading.of(cls, sources, env_prefix, **options))


def read_once(reading: Reading[T]) -> tuple[T, Mapping[str, str]]:
    """Read every source of ``reading`` inline and build: the config and its origins."""
    strict = (
        _shared_converter(reading.allow_nan, reading.forbid_unknown)
        if reading.converter is None
        else reading.make_converter()  # the user's hooks: a converter of its own
    )
    reading.check_structurable(strict)
    options = Options(
        allow_nan=reading.allow_nan,
        strict_env=reading.strict_env,
        max_size=reading.max_size,
        lock_timeout=reading.lock_timeout,
        profile_var=reading.profile_var,
    )
    loader = Loader(reading.cls, reading.sources, strict, options, reading.environ)
    loader.refresh_sync()
    return loader.build()


@functools.lru_cache(maxsize=4)
def _shared_converter(allow_nan: bool, forbid_unknown: bool) -> cattrs.Converter:
    # A converter generates its structuring code per class on first use: about 10 ms for a
    # 150-field config, which a script calling load() in a loop paid on every call. Nothing
    # changes a converter once made, so the four possible ones are kept.
    return make_converter(allow_nan=allow_nan, forbid_unknown=forbid_unknown)
