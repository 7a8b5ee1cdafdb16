"""Sources → layers → one typed config: the part of the updater that knows no tasks.

The loader keeps, per file source, the digest of the bytes it read last and what those bytes
gave: a parsed layer, nothing (a missing optional file), or the error. Refreshing a source
re-reads it and re-parses only when the bytes changed. Building always merges every cached
layer from scratch, so the result equals a fresh load of what is on disk now: a key removed from
a file disappears, and a layer that broke and was fixed needs no memory of what came before.

Parsing happens inline for files under the format's inline limit (a thread or process hop
costs more than the parse) and in a trio-parallel worker process above it, under the parse
timeout; the worker is killed when the timeout or a cancellation hits.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Container, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs
import cattrs
import trio

from ._converter import make_converter
from ._directory import DirectoryState, Pacer
from ._env import env_layer
from ._errors import ConfigError, LockTimeout, MissingSourceError
from ._formats import INLINE_LIMITS
from ._job import Deferred, Payload, read_and_parse, read_and_parse_in_worker
from ._keyed import KeyedOrigins, check_keys, entry_type
from ._keyed import build as build_keyed
from ._layer import Layer
from ._merge import DottedOrigins, Merged, merge
from ._settings import MAX_SIZE, Options, Reading
from ._sidecar import shared_lock_if_present, shared_lock_if_present_sync
from ._sources import Directory, Env, File, Format
from ._structure import structure

T = TypeVar("T")
logger = logging.getLogger("trioconf")


@attrs.define(eq=False)
class _FileState:
    source: File
    digest: bytes | None = None  # of the bytes last read; None when they could not be read
    layer: Layer | None = None
    error: ConfigError | None = None
    read: bool = False  # read at least once (a file found empty at start-up is just empty)

    def outcome(self) -> tuple[object, ...]:
        # Errors are compared by what they say: re-reading a file that is still missing makes
        # a new exception object, but nothing changed.
        error = None if self.error is None else (type(self.error), str(self.error))
        return self.digest, id(self.layer), error


def _absent(state: _FileState) -> bool:
    """An optional file found missing: no bytes and no error (see ``_settle_error``)."""
    return state.digest is None and state.error is None


def _gone(state: _FileState) -> bool:
    return isinstance(state.error, MissingSourceError) or _absent(state)


def _emptied(state: _FileState) -> bool:
    """The file reads as a document that sets nothing: empty, or only comments."""
    return state.layer is not None and not state.layer.data


class Loader(Generic[T]):
    def __init__(
        self,
        cls: type[T],
        sources: Sequence[File | Env | Directory],
        converter: cattrs.Converter,
        options: Options,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.cls = cls
        self.sources = tuple(sources)
        self.converter = converter
        self.options = options
        self._environ = environ
        self._files = {s.path: _FileState(s) for s in sources if isinstance(s, File)}
        for state in self._files.values():
            state.source.resolved_format  # noqa: B018 (an unknown extension fails here, plainly)
        # Files whose newest read found them gone or emptied, in their grace (see ``refresh``).
        self.waiting: set[Path] = set()
        self._env: dict[str, Layer] = {}
        self._env_error: ConfigError | None = None
        dirs = [s for s in sources if isinstance(s, Directory)]
        check_keys([d for d in dirs if d.key is not None])
        self._dirs = {
            d: DirectoryState(d, converter, None if d.key is None else entry_type(cls, d))
            for d in dirs
        }
        self._by_folder: dict[Path, list[DirectoryState]] = {}
        for folder in self._dirs.values():
            self._by_folder.setdefault(folder.source.path, []).append(folder)
        self.keyed = [state for state in self._dirs.values() if state.keyed]

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self._files)

    @property
    def directories(self) -> tuple[Directory, ...]:
        return tuple(self._dirs)

    @property
    def priority_paths(self) -> frozenset[Path]:
        return frozenset(p for p, s in self._files.items() if s.source.priority)

    @property
    def priority(self) -> Container[Path]:
        """The paths whose changes wait half the debounce window, for the debouncer."""
        return _Priority(self) if self._dirs else self.priority_paths

    def is_priority(self, path: Path) -> bool:
        """Whether changes to ``path`` (a file, or a file in a Directory) are urgent."""
        state = self._files.get(path)
        if state is not None:
            return state.source.priority
        return any(
            d.source.priority and d.matches(path.name) for d in self._by_folder.get(path.parent, ())
        )

    # -- refreshing: read what is on disk now ------------------------------------------------

    def refresh_sync(self) -> None:
        """Read every source inline (for one-shot loads outside an event loop)."""
        self._refresh_env()
        for state in self._files.values():
            self._read_inline(state)
        options = self.options
        for folder in self._dirs.values():
            folder.relist_sync(options.max_size, options.allow_nan, options.lock_timeout)

    async def refresh(self, paths: frozenset[Path] | None) -> bool:
        """Re-read the given files (``None``: every source, env included), once.

        Returns True when any source's outcome changed. A file this read found gone (a
        required file missing, an optional one that was there, unless it was reported missing
        already) or emptied (a document that sets nothing where the last read found anything
        else: settings, bytes that did not parse, or no file) joins ``waiting``: a rename
        save, a delete-then-write or an in-place writer's truncate leave exactly that state
        for a moment. The updater then waits for that file's next report, for at most
        ``missing_grace``, before it builds anything (``_updater.refresh``); only a report, or
        the grace running out, settles it (``grace_over``).
        """
        if paths is None:
            self._refresh_env()
        states = [s for p, s in self._files.items() if paths is None or p in paths]
        before = [s.outcome() for s in states]
        present = {s for s in states if s.source.optional and not _absent(s)}
        # A file already reported missing gets no second grace: it is not in the middle of a
        # save, and each event for it (a poll seeing its directory change) would hold every
        # other source's reload back for the whole grace.
        reported = {s for s in states if isinstance(s.error, MissingSourceError)}
        # Anything but an empty document before (settings, bytes that did not parse, no file
        # at all): a file that reads empty now may be between an in-place writer's truncate
        # (or create) and its write. That includes a file reported missing: a new one written
        # twice in a row can be read between the first close and the second truncate.
        was_empty = {s for s in states if not s.read or _emptied(s)}
        for state in states:
            await self._refresh_one(state)
            state.read = True
        for state in states:
            path = state.source.path
            if path in self.waiting:
                if not (_gone(state) or _emptied(state)):
                    self.waiting.discard(path)  # back, whole: its writer closed it
            elif (state not in was_empty and _emptied(state)) or (
                state not in reported
                and (
                    isinstance(state.error, MissingSourceError)
                    or (state in present and _absent(state))
                )
            ):
                self.waiting.add(path)
        folders = False
        if self._dirs:
            folders = await self._refresh_directories(paths)
            self._wait_for_emptied_folder_files()
        return [s.outcome() for s in states] != before or folders

    def _wait_for_emptied_folder_files(self) -> None:
        """A Directory's file emptied under the reloader waits like a File (``refresh``)."""
        for folder in self._dirs.values():
            if folder.emptied:
                self.waiting.update(Path(folder.folder, name) for name in folder.emptied)
                folder.emptied.clear()
        for path in [p for p in self.waiting if p not in self._files]:
            folders = self._by_folder.get(path.parent, ())
            if not any(path.name in folder.empty for folder in folders):
                self.waiting.discard(path)  # written (or removed) since

    def grace_over(self) -> None:
        """The files still ``waiting`` stay as they were read: missing, absent or empty."""
        self.waiting.clear()

    async def _refresh_directories(self, paths: frozenset[Path] | None) -> bool:
        """Directory sources: re-list a folder named itself (or all, for ``None``), re-read a
        file of one. A folder is named when it appeared, vanished or the watcher lost track."""
        options = self.options
        args = (options.max_size, options.allow_nan, options.parse_timeout, options.lock_timeout)
        changed = False
        if paths is None:
            for state in self._dirs.values():
                changed |= await state.relist(*args)
            return changed
        pacer = Pacer()
        for path in paths:
            for state in self._by_folder.get(path, ()):
                changed |= await state.relist(*args)
            for state in self._by_folder.get(path.parent, ()):
                changed |= await state.refresh_name(path.name, *args)
                await pacer.tick()
        return changed

    def _refresh_env(self) -> None:
        environ = os.environ if self._environ is None else self._environ
        try:
            self._env = {
                s.prefix: env_layer(self.cls, s.prefix, environ, strict=self.options.strict_env)
                for s in self.sources
                if isinstance(s, Env)
            }
        except ConfigError as exc:
            self._env_error = exc
        else:
            self._env_error = None

    async def _refresh_one(self, state: _FileState) -> None:
        # Optimistic first: a small file is read inline without a lock and kept unless a
        # cooperating writer's sidecar lock stands beside it, which is almost never (and then
        # costs one read more). Small files are parsed inline: a thread or process hop costs
        # more than the parse.
        limit = INLINE_LIMITS[state.source.resolved_format]
        if await self._read_inline_async(state, limit, probe=True):
            return
        # A writer that edits the file in place holds the exclusive flock of its sidecar
        # (FileGuard) until it is done: read under the shared lock, so a half-written file is
        # never read. For a large file the lock spans the worker's read and parse. A timeout is
        # this source's error until the next event.
        try:
            async with shared_lock_if_present(state.source.path, self.options.lock_timeout):
                if not await self._read_inline_async(state, limit, probe=False):
                    await self._read_in_worker(state)
        except LockTimeout as exc:
            self._settle_error(state, exc)

    async def _read_inline_async(self, state: _FileState, limit: int, *, probe: bool) -> bool:
        """Read and parse inline unless the file is large (or, with ``probe``, a writer's lock
        stands beside it); returns whether it was done."""
        try:
            result = read_and_parse(*self._job_args(state), limit, probe)
        except ConfigError as exc:
            self._settle_error(state, exc)
        else:
            if isinstance(result, Deferred):
                return False
            self._settle(state, *result)
        # An inline parse cannot be interrupted: a cancellation that arrived meanwhile (a
        # deadline, the reloader closing) stops the attempt here, before anything applies. No
        # yield otherwise: a task switch per read costs more than the read.
        await trio.lowlevel.checkpoint_if_cancelled()
        return True

    async def _read_in_worker(self, state: _FileState) -> None:
        # Read and parsed there: a large file's bytes never pass through the event loop.
        job = (*self._job_args(state), self.options.parse_timeout)
        try:
            result = await read_and_parse_in_worker(*job)
        except ConfigError as exc:
            self._settle_error(state, exc)
        else:
            self._settle(state, *result)

    def _read_inline(self, state: _FileState) -> None:
        """Read and parse, however large, in this thread (``trioconf.load``): optimistic first
        as the reloader reads, then under a cooperating writer's shared lock, waited for with
        ``time.sleep``."""
        try:
            result = read_and_parse(*self._job_args(state), None, True)
            if result is Deferred.LOCKED:
                with shared_lock_if_present_sync(state.source.path, self.options.lock_timeout):
                    result = read_and_parse(*self._job_args(state))
        except ConfigError as exc:
            self._settle_error(state, exc)
        else:
            assert not isinstance(result, Deferred)  # no limit given: always parsed
            self._settle(state, *result)

    def _job_args(self, state: _FileState) -> tuple[Path, Format, str, bool, int, bytes | None]:
        source, options = state.source, self.options
        fmt = source.resolved_format
        return source.path, fmt, source.name, options.allow_nan, options.max_size, state.digest

    def _settle(self, state: _FileState, digest: bytes, payload: Payload, raw: bytes) -> None:
        if payload is None:  # the same bytes as last time: nothing to do
            return
        state.digest = digest
        if isinstance(payload, ConfigError):
            state.layer, state.error = None, payload
        else:
            source = state.source
            state.layer = Layer(source.name, payload, raw, source.resolved_format)
            state.error = None

    def _settle_error(self, state: _FileState, exc: ConfigError) -> None:
        state.digest, state.layer = None, None
        # A missing optional file is no error: its layer simply drops out.
        optional_gone = isinstance(exc, MissingSourceError) and state.source.optional
        state.error = None if optional_gone else exc

    # -- building: cached layers → typed config ----------------------------------------------

    @property
    def error(self) -> ConfigError | None:
        """The first source that cannot be used now, in precedence order."""
        for state in self._files.values():
            if state.error is not None:
                return state.error
        for folder in self._dirs.values():
            error = folder.error()
            if error is not None:
                return error
        return self._env_error

    def layers(self) -> list[Layer]:
        layers: list[Layer] = []
        for source in self.sources:
            if isinstance(source, Directory):
                folder = self._dirs[source]
                if not folder.keyed:
                    layers.extend(folder.layers())
                continue
            if isinstance(source, File):
                layer = self._files[source.path].layer
            else:
                layer = self._env.get(source.prefix)
            if layer is not None:
                layers.append(layer)
        return layers

    @property
    def heavy(self) -> bool:
        """Whether a layer is too large to have been parsed inline: building from it would
        stall the event loop too."""
        return any(
            len(layer.raw) > INLINE_LIMITS[layer.format]
            for layer in self.layers()
            if layer.raw is not None and layer.format is not None
        )

    def build(self) -> tuple[T, Mapping[str, str]]:
        """The typed config and the origin of every key path.

        Raises the first source's error, or a ValidationError with every bad field.
        """
        error = self.error
        if error is not None:
            raise error
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
        return config, DottedOrigins(merged)

    def build_keyed(self, merged: Merged | None = None) -> tuple[T, KeyedOrigins]:
        """``build`` with keyed Directories: their entries are taken as structured already."""
        if merged is None:
            merged = merge(self.layers())
        return build_keyed(self.converter, self.cls, merged, self.keyed)


class _Priority(Container[Path]):
    """Priority files and the files of priority Directories (not known in advance)."""

    def __init__(self, loader: Loader[Any]) -> None:
        self._loader = loader

    def __contains__(self, path: object) -> bool:
        return isinstance(path, Path) and self._loader.is_priority(path)


def load(
    cls: type[T],
    *sources: str | os.PathLike[str] | File | Env | Directory,
    env_prefix: str | None = None,
    strict_env: bool = False,
    forbid_unknown: bool = True,
    allow_nan: bool = False,
    max_size: int = MAX_SIZE,
    lock_timeout: float = 5.0,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Load and validate once, without watching: sync, for scripts and ``trioconf check``.

    Raises the same ConfigErrors as the initial load of :func:`open_reloader`, but does not
    wait for a missing file to come back. A file that a cooperating writer (a
    :class:`FileGuard`) is changing in place is read under its shared lock, waited for up to
    ``lock_timeout`` seconds (then :class:`LockTimeout`, naming the file and the holder).
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
    )
    converter = _shared_converter(allow_nan, forbid_unknown)
    reading.check_structurable(converter)
    options = Options(
        allow_nan=allow_nan, strict_env=strict_env, max_size=max_size, lock_timeout=lock_timeout
    )
    loader = Loader(cls, reading.sources, converter, options, environ)
    loader.refresh_sync()
    return loader.build()[0]


@functools.lru_cache(maxsize=4)
def _shared_converter(allow_nan: bool, forbid_unknown: bool) -> cattrs.Converter:
    # A converter generates its structuring code per class on first use: about 10 ms for a
    # 150-field config, which a script calling load() in a loop paid on every call. Nothing
    # changes a converter once made, so the four possible ones are kept.
    return make_converter(allow_nan=allow_nan, forbid_unknown=forbid_unknown)
