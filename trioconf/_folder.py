"""What a Directory source's folder holds now, and what each of its files gave.

The part of a Directory source that does not depend on its mode: listing the folder, reading
its files (inline, or under a writer's lock and in a worker: ``_job``), and per file the digest
of the bytes read last (an identical rewrite re-parses nothing) and its error if it cannot be
used. What a file gives is the mode's business: a ``Layer`` for a layered folder
(``_folder_layered``), a structured entry for a keyed one (``_folder_keyed``); the subclasses
say it through the hooks at the end of ``Folder``.
"""

from __future__ import annotations

import abc
import errno
import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import outcome
import trio

from . import _anchor, _exact
from ._errors import (
    ConfigError,
    FieldError,
    MissingSourceError,
    SourceError,
    UnknownFormatError,
    ValidationError,
)
from ._formats import INLINE_LIMITS, NotInline, parse
from ._job import Deferred, read_guarded
from ._layer import Layer
from ._read import Content, read_unless_larger
from ._settings import Options
from ._sidecar import has_sidecar, shared_lock_if_present_sync
from ._source_state import Key
from ._sources import Directory, Format, format_of, matcher
from ._typeplan import apply

# Reading ten thousand files at start-up must not starve the other tasks: yield to the loop
# whenever this much time went by since the last checkpoint.
_CHECKPOINT_EVERY = 0.002


def name_order(name: str) -> bytes:
    """Files are taken in the order of their names' bytes, as run-parts and conf.d readers do
    (``os.fsencode`` on Linux, without its type checks: this runs for every file)."""
    return name.encode("utf-8", "surrogateescape")


def stem_of(name: str) -> str:
    """``acme.toml`` → ``acme``; ``acme.eu.toml`` → ``acme.eu``; ``acme`` → ``acme``."""
    base, dot, _ = name.rpartition(".")
    return base if dot and base else name


class Folder(abc.ABC):
    """One Directory source (``_source_state.SourceState``), less what its files give.

    Not thread-safe; only the updater task uses it.
    """

    def __init__(self, source: Directory, options: Options, *, doc_type: Any = None) -> None:
        self.source = source
        self.options = options
        self.folder = str(source.path)
        self._prefix = os.path.join(self.folder, "")  # + a name = that file's path
        # Where a file's document (of ``doc_type``: the config class, or a keyed entry's type)
        # has Path values, made absolute against the folder, every file's directory
        # (``_anchor``), and Decimal ones, read as written (``_exact``); None: nowhere.
        self.paths = _anchor.plan(doc_type)
        self.decimals = _exact.plan(doc_type)
        self._anchor = _anchor.from_file(self.folder)
        self.matches = matcher(source.pattern)
        # Per file, in flat dicts keyed by name (no object per file: ten thousand of them cost
        # memory and garbage-collector passes at start-up): the digest of the bytes read last
        # (None: they could not be read), what the file gives (its entry, or its Layer), and
        # its error if it has one.
        self.files: dict[str, bytes | None] = {}
        self._given: dict[str, Any] = {}
        self._errors: dict[str, ConfigError] = {}
        self.folder_error: ConfigError | None = None
        # Files whose last document set nothing, those of them that had settings before (or
        # are new since the first listing), and the names waiting for their grace.
        self.empty: set[str] = set()
        self.emptied: set[str] = set()
        self._waiting: set[str] = set()
        self.listed = False  # listed once: a file found empty from now on may be mid-write

    @property
    def name(self) -> str:
        return self.source.name

    # -- what the loader asks ------------------------------------------------------------------

    @property
    def error(self) -> ConfigError | None:
        """Why this Directory cannot be used now: its folder's error, a file that cannot be
        read or parsed (the first by name), a conflict between files (``_conflict``), or every
        bad field of every file, in one ValidationError."""
        if self.folder_error is not None:
            return self.folder_error
        if not self._errors:
            return self._conflict()  # the usual case, on every change's path: no walk
        named = sorted(self._errors, key=name_order)
        for name in named:
            if not isinstance(self._errors[name], ValidationError):
                return self._errors[name]
        conflict = self._conflict()
        if conflict is not None:
            return conflict
        fields: list[FieldError] = []
        for name in named:
            error = self._errors[name]
            assert isinstance(error, ValidationError)
            fields.extend(error.errors)
        return ValidationError(fields)

    def layers(self) -> Sequence[Layer]:
        return ()

    @property
    def waiting(self) -> frozenset[Path]:
        return frozenset(Path(self._prefix + name) for name in self._waiting)

    def grace_over(self) -> None:
        self._waiting.clear()

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        """Re-list the folder when it is named itself (it appeared, vanished, or the watcher
        lost track) or for ``None``; re-read a file of it that is named."""
        if keys is None:
            changed = await self.relist()
        else:
            changed = False
            last = time.perf_counter()
            for key in keys:
                if not isinstance(key, Path):
                    continue
                if str(key) == self.folder:
                    changed |= await self.relist()
                elif str(key.parent) == self.folder:
                    changed |= await self.refresh_name(key.name)
                    if time.perf_counter() - last >= _CHECKPOINT_EVERY:
                        await trio.lowlevel.checkpoint()
                        last = time.perf_counter()
        # A file emptied under the reloader waits like a File (``FileState.refresh``) until it
        # is written again, or removed.
        self._waiting |= self.emptied
        self.emptied.clear()
        self._waiting &= self.empty
        return changed

    def refresh_sync(self) -> None:
        self.relist_sync()

    # -- refreshing -------------------------------------------------------------------------
    #
    # Every read takes a cooperating writer's lock (FileGuard: ``.<name>.lock`` beside the
    # file) as a File's read does: optimistic first, without any lock, and again under the
    # shared lock when a sidecar stands beside the file read, which is almost never. One file
    # (a change the watcher reported) is probed right after its read. A whole folder
    # (start-up, a rescan, ``reload()``) is probed with two listings instead of ten thousand
    # lookups: a sidecar already there when the folder is listed sends its file straight to
    # the locked read; one that appeared during the pass shows in one listing after it, and
    # its file is read again under the lock. Either way the sidecar is looked for after the
    # read: a writer creates it before it takes the lock and writes, so a read that saw any of
    # its bytes cannot miss it.

    def list_names(self) -> tuple[list[str], set[str]]:
        """The matching names in the folder now, in name order, and the sidecar lock files
        there (``.<name>.lock``); sets ``folder_error``."""
        matches = self.matches
        names: list[str] = []
        sidecars: set[str] = set()
        try:
            with os.scandir(self.folder) as it:
                for entry in it:
                    name = entry.name
                    if matches(name):
                        if _is_file(entry):
                            names.append(name)
                    elif name[0] == "." and name.endswith(".lock"):
                        sidecars.add(name)
        except OSError as exc:
            self.folder_error = self._folder_error(exc)
            return [], set()
        self.folder_error = None
        names.sort(key=name_order)
        return names, sidecars

    def _folder_error(self, exc: OSError) -> ConfigError | None:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not os.path.isdir(self.folder):
            if exc.errno == errno.ENOTDIR and os.path.exists(self.folder):
                return SourceError(self.folder, "is not a directory")
            if self.source.optional:
                return None
            return MissingSourceError(self.folder, "does not exist")
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        return SourceError(self.folder, reason or str(exc))

    def relist_sync(self) -> bool:
        """Read the whole folder again, in this thread (for ``trioconf.load``): large files
        are parsed here too, and a writer's lock is waited for with ``time.sleep``."""
        names, sidecars, changed = self._relist_names()
        later: list[str] = []
        max_size = self.options.max_size
        for name in names:
            if _sidecar(name) not in sidecars:
                step = self._step(name, True, later=later, limit=max_size)
                if not isinstance(step, Deferred):
                    changed |= step
                    continue
            changed |= self._read_locked_sync(name)
        for name in self._written_meanwhile(later):
            changed |= self._read_locked_sync(name)
        self.listed = True
        return changed

    async def relist(self) -> bool:
        """Read the whole folder again: new files are read, vanished ones dropped, the others
        re-read (and re-parsed only if their bytes changed). Checkpoints as it goes."""
        names, sidecars, changed = self._relist_names()
        later: list[str] = []
        # The loop body is synchronous for every file small enough to parse inline (no
        # coroutine per file: at 10,000 files that overhead showed); the clock decides when
        # to let other tasks run.
        last = time.perf_counter()
        for name in names:
            if sidecars and _sidecar(name) in sidecars:
                changed |= await self._read_slowly(name)
            else:
                step = self._step(name, True, later=later)
                if isinstance(step, Deferred):
                    changed |= await self._read_slowly(name)
                else:
                    changed |= step
            if time.perf_counter() - last >= _CHECKPOINT_EVERY:
                await trio.lowlevel.checkpoint()
                last = time.perf_counter()
        for name in self._written_meanwhile(later):
            changed |= await self._read_slowly(name)
        self.listed = True
        return changed

    def _relist_names(self) -> tuple[list[str], set[str], bool]:
        """``list_names``, and drop the files gone from the folder; the bool says whether
        that (or the folder's own error) changed anything."""
        before = self.folder_error
        names, sidecars = self.list_names()
        changed = _error_changed(before, self.folder_error)
        changed |= self._drop_missing(names)
        return names, sidecars, changed

    def _written_meanwhile(self, later: list[str]) -> list[str]:
        """Of the files read unlocked during a pass, those whose sidecar exists now."""
        if not later:
            return []
        try:
            present = {n for n in os.listdir(self.folder) if n[0] == "." and n.endswith(".lock")}
        except OSError:
            # The folder went away meanwhile: look for each sidecar itself (a read under the
            # lock then reports whatever is wrong, file by file).
            return [name for name in later if has_sidecar(self._prefix + name)]
        return [name for name in later if _sidecar(name) in present] if present else []

    def _drop_missing(self, names: list[str]) -> bool:
        present = set(names)
        gone = [name for name in self.files if name not in present]
        for name in gone:
            self._remove(name)
        return bool(gone)

    async def refresh_name(self, name: str) -> bool:
        """Read one file again (the watcher reported it); True when what it gives changed."""
        step = self._step(name, False)
        if isinstance(step, Deferred):
            return await self._read_slowly(name)
        return step

    def _step(
        self,
        name: str,
        listed: bool,
        *,
        probe: bool = True,
        later: list[str] | None = None,
        limit: int | None = None,
    ) -> bool | Deferred:
        """Read a file and, when it is small enough (``INLINE_LIMITS``, or ``limit``), parse
        and settle it here: whether that changed anything. ``Deferred``: read it the slow
        way, in a worker or under a writer's lock (nothing was settled).

        ``listed``: the name comes from the folder's listing, so it matches already.
        ``probe``: the read took no lock, so look for a writer's sidecar beside the file
        read; with ``later``, a file read directly in the folder is appended to it, for the
        look after the pass, instead of looking now.
        """
        if not listed and not self.matches(name):
            return False
        path = self._prefix + name
        fmt = self._format_of(name)
        max_size = self.options.max_size
        inline = limit is None  # in the event loop, with a worker to fall back on
        if limit is None:
            limit = max_size if fmt is None else INLINE_LIMITS[fmt]
        try:
            # read_unless_larger only hands the path to os.open and friends: a str serves,
            # and skips building ten thousand Path objects at start-up.
            content = read_unless_larger(cast("Path", path), limit, max_size, real=probe)
        except ConfigError as exc:
            return self._unreadable(name, exc)
        if content is None:
            return Deferred.LARGE
        if not probe:
            pass
        elif later is not None and content.real == path:
            later.append(name)
        elif content.real is None or has_sidecar(content.real):
            return Deferred.LOCKED
        if self.files.get(name) == content.digest:
            return False
        try:
            data = self._parse(name, content, fmt, inline)
        except NotInline:
            return Deferred.LARGE
        return self._settle(name, content, fmt, data)

    async def _read_slowly(self, name: str) -> bool:
        """Read a file the slow way (``_job.read_guarded``): under its writer's shared lock
        (if a sidecar exists), inline when it is small, else read and parsed in a worker
        process and settled in a thread, so that the loop keeps answering (as for a large
        File). A lock timeout, or a worker that failed, is the file's error."""
        path = self._prefix + name
        fmt = self._format_of(name)
        options = self.options
        if fmt is None:
            # No format to parse it as: its error says so whatever a writer is doing to it.
            step = self._step(name, True, probe=False)
            assert not isinstance(step, Deferred)  # read whole: nothing to parse
            return step
        try:
            job = (cast("Path", path), fmt, path, options.allow_nan, options.max_size)
            parsed, in_worker = await read_guarded(
                *job,
                self.files.get(name),
                limit=INLINE_LIMITS[fmt],
                parse_timeout=options.parse_timeout,
                lock_timeout=options.lock_timeout,
            )
        except ConfigError as exc:  # unreadable, the lock timed out, or the worker failed
            return self._unreadable(name, exc)
        digest, data, raw = parsed
        if data is None:  # the bytes read last time
            return False
        settle = functools.partial(self._settle, name, Content(raw, digest), fmt, data)
        if not in_worker:
            return settle()
        try:
            # Captured in the thread: what the thread machinery itself raises is told apart
            # from what settling raised (a trioconf bug, re-raised by ``unwrap``).
            result = await trio.to_thread.run_sync(outcome.capture, settle)
        except RuntimeError as exc:  # "can't start new thread": the system's limits
            failure = f"no thread could start to structure it ({exc})"
        else:
            return result.unwrap()
        # Made out here, with no __context__ to keep alive while the error is kept.
        return self._fail(name, None, SourceError(path, failure))

    def _read_locked_sync(self, name: str) -> bool:
        """``_read_slowly`` for ``trioconf.load``: inline whatever the size."""
        options = self.options
        try:
            with shared_lock_if_present_sync(self._prefix + name, options.lock_timeout):
                step = self._step(name, True, probe=False, limit=options.max_size)
        except ConfigError as exc:
            return self._unreadable(name, exc)
        assert not isinstance(step, Deferred)  # nothing larger than max_size is read
        return step

    def _unreadable(self, name: str, exc: ConfigError) -> bool:
        """A file that could not be read: gone (dropped) or this file's error."""
        if isinstance(exc, MissingSourceError) or not os.path.isfile(self._prefix + name):
            return self._remove(name)  # gone, or a folder or a FIFO by that name: not a file
        return self._fail(name, None, exc)

    def _parse(
        self, name: str, content: Content, fmt: Format | None, inline: bool
    ) -> dict[str, Any] | ConfigError:
        path = self._prefix + name
        if fmt is None:
            msg = "cannot tell the format from the extension; narrow the Directory's pattern"
            return UnknownFormatError(path, msg + " or pass Directory(..., format=...)")
        try:
            return parse(content.raw, fmt, path, self.options.allow_nan, inline=inline)
        except ConfigError as exc:
            return exc

    def _settle(
        self,
        name: str,
        content: Content,
        fmt: Format | None,
        data: dict[str, Any] | ConfigError,
    ) -> bool:
        if isinstance(data, ConfigError):
            return self._fail(name, content.digest, data)
        if data:
            self.empty.discard(name)
        else:
            # Emptied under the reloader (or created empty): maybe an in-place writer between
            # its truncate and its write, or a new file between its first close and the next
            # write. It gets missing_grace to be written (``refresh``).
            if name not in self.empty and (name in self.files or self.listed):
                self.emptied.add(name)
            self.empty.add(name)
        if self.paths is not None:
            data = apply(data, self.paths, self._anchor)
        if self.decimals is not None and fmt is not None:
            data = apply(data, self.decimals, _exact.as_written(content.raw, fmt))
        try:
            value = self._value(name, content, fmt, data)
        except ValidationError as exc:
            return self._fail(name, content.digest, exc)
        return self._succeed(name, content.digest, value)

    # -- bookkeeping ------------------------------------------------------------------------

    def _succeed(self, name: str, digest: bytes, value: Any) -> bool:
        if name not in self.files:
            self._added(name)
        self.files[name] = digest
        self._given[name] = value
        if name in self._errors:
            del self._errors[name]
        self._gave(name)
        return True

    def _fail(self, name: str, digest: bytes | None, error: ConfigError) -> bool:
        if name not in self.files:
            self._added(name)
            same = False
        else:
            before = self._errors.get(name)
            same = self.files[name] is None and before is not None
            same = same and not _error_changed(before, error)
        self.files[name] = digest
        self._errors[name] = error
        self._failed(name)
        return not same

    def _remove(self, name: str) -> bool:
        if name not in self.files:
            return False
        del self.files[name]
        self.empty.discard(name)
        self.emptied.discard(name)
        self._given.pop(name, None)
        self._errors.pop(name, None)
        self._removed(name)
        return True

    # -- what a mode adds (``_folder_layered``, ``_folder_keyed``) ---------------------------

    def _format_of(self, name: str) -> Format | None:
        """The format to parse the file ``name`` as (None: none is known; ``_parse`` says so,
        unless a mode reads such files its own way)."""
        return format_of(name, self.source.format)

    @abc.abstractmethod
    def _value(self, name: str, content: Content, fmt: Format | None, data: dict[str, Any]) -> Any:
        """What the file ``name`` gives, from its parsed document; a ValidationError makes
        it the file's error."""

    def _conflict(self) -> ConfigError | None:
        """An error between files rather than of one (two files for one keyed entry)."""
        return None

    def _added(self, name: str) -> None:  # noqa: B027 (a hook: nothing, unless a mode says)
        """A file not known before is about to be recorded."""

    def _gave(self, name: str) -> None:  # noqa: B027 (a hook: nothing, unless a mode says)
        """The file ``name`` now gives ``_given[name]``."""

    def _failed(self, name: str) -> None:  # noqa: B027 (a hook: nothing, unless a mode says)
        """The file ``name`` now has an error."""

    def _removed(self, name: str) -> None:  # noqa: B027 (a hook: nothing, unless a mode says)
        """The file ``name`` left the folder."""


def _sidecar(name: str) -> str:
    """The name of the sidecar lock file of the file ``name`` (see ``_sidecar.lock_path_for``)."""
    return f".{name}.lock"


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()  # follows symlinks: a link to a file counts
    except OSError:
        return False


def _error_changed(before: ConfigError | None, after: ConfigError | None) -> bool:
    if before is None or after is None:
        return before is not after
    return (type(before), str(before)) != (type(after), str(after))
