"""A Directory source's state: which files its folder holds now, and what each one gave.

Per file the state keeps only what the next change needs: the digest of the bytes read last
(an identical rewrite re-parses nothing), the error if the file cannot be used, and what the
file contributes: in layered mode its ``Layer`` (the merge is rebuilt from every layer, and a
conf.d folder has a handful of files), in keyed mode the **structured entry** only. Neither the
raw bytes nor the parsed dict of a keyed entry is kept: ten thousand of them would weigh more
than the entries themselves, and a field error is located while the bytes are still at hand,
when the file is read, so nothing needs them later.

Keyed mode keeps ``entries``, stem → entry in the order of the keys' bytes: the very dict a
snapshot's mapping field holds. It is copied on the first change after a snapshot took it (copy
on write), so a snapshot never changes under its readers, and an unchanged entry is the same
object in every snapshot. ``dirty`` collects the stems whose entry changed since the snapshot
the updater compares with; the updater diffs only those (``_keyed``).
"""

from __future__ import annotations

import errno
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import attrs
import cattrs
import outcome
import trio

from ._errors import ConfigError, FieldError, MissingSourceError, SourceError, ValidationError
from ._formats import INLINE_LIMITS, NotInline, parse
from ._job import Deferred, read_and_parse_in_worker
from ._layer import Layer
from ._merge import dotted, merge
from ._read import Content, read_unless_larger
from ._sidecar import has_sidecar, shared_lock_if_present, shared_lock_if_present_sync
from ._sources import Directory, Format, format_of, matcher
from ._structure import structure

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


class Pacer:
    """Checkpoints in a long loop of awaited work, once per ``_CHECKPOINT_EVERY``."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    async def tick(self) -> None:
        now = time.perf_counter()
        if now - self._last >= _CHECKPOINT_EVERY:
            await trio.lowlevel.checkpoint()
            self._last = time.perf_counter()


def structure_entry(
    converter: cattrs.Converter,
    entry_type: Any,
    data: dict[str, Any],
    state: DirectoryState,
    name: str,
    content: Content,
) -> Any:
    """Structure the keyed entry of the file ``name``; a ValidationError names its fields
    under the entry's key path (``tenants.acme.port``), with the file and line.

    The fast path is the converter alone; only a failure builds the single-layer merge that
    ``structure`` needs to say which line of which file holds each bad field.
    """
    assert state.hook is not None  # keyed mode
    try:
        return state.hook(data, entry_type)
    except Exception:
        pass  # the detailed pass below says what was wrong, and where
    fmt = format_of(name, state.source.format)
    assert fmt is not None
    layer = Layer(os.path.join(state.folder, name), data, content.raw, fmt)
    try:
        return structure(converter, entry_type, merge([layer]))
    except ValidationError as exc:
        prefix = (*state.source.key_parts, stem_of(name))
        errors = [attrs.evolve(e, path=_under(prefix, e.path)) for e in exc.errors]
        raise ValidationError(errors) from exc.__cause__


def _under(prefix: tuple[str, ...], path: str) -> str:
    head = dotted(prefix)
    if not path:
        return head
    return head + path if path.startswith("[") else f"{head}.{path}"


class DirectoryState:
    """What one Directory source gives now. Not thread-safe; only the updater task uses it."""

    def __init__(
        self, source: Directory, converter: cattrs.Converter, entry_type: Any | None
    ) -> None:
        self.source = source
        self.folder = str(source.path)
        self._prefix = os.path.join(self.folder, "")  # + a name = that file's path
        self.matches = matcher(source.pattern)
        self.converter = converter
        self.entry_type = entry_type  # None: layered mode
        # The converter's hook for the entry type, looked up once rather than per file.
        self.hook: Callable[[Any, Any], Any] | None = (
            None if entry_type is None else converter.get_structure_hook(entry_type)
        )
        # Per file, in flat dicts keyed by name (no object per file: ten thousand of them cost
        # memory and garbage-collector passes at start-up): the digest of the bytes read last
        # (None: they could not be read), what the file gives (its entry, or its Layer), and
        # its error if it has one.
        self.files: dict[str, bytes | None] = {}
        self._given: dict[str, Any] = {}
        self._errors: dict[str, ConfigError] = {}
        self.folder_error: ConfigError | None = None
        # Keyed mode: stem → the name of its file, and the stems more than one file claims.
        self._owners: dict[str, str] = {}
        self._claims: dict[str, list[str]] = {}
        self.entries: dict[str, Any] = {}
        self._shared = False  # ``entries`` is held by a snapshot: copy it before changing it
        self.dirty: set[str] = set()
        # Files whose last document set nothing, and those of them that had settings before
        # (collected by the loader, which gives them their grace).
        self.empty: set[str] = set()
        self.emptied: set[str] = set()
        self.listed = False  # listed once: a file found empty from now on may be mid-write

    @property
    def keyed(self) -> bool:
        return self.entry_type is not None

    # -- what the rest of the loader asks ----------------------------------------------------

    def error(self) -> ConfigError | None:
        """Why this Directory cannot be used now: its folder's error, a file that cannot be
        read or parsed (the first by name), two files for one key, or every bad field of every
        entry, in one ValidationError."""
        if self.folder_error is not None:
            return self.folder_error
        if not self._errors and not self._claims:
            return None  # the usual case, on every change's path: no walk of the files
        named = sorted(self._errors, key=name_order)
        for name in named:
            if not isinstance(self._errors[name], ValidationError):
                return self._errors[name]
        if self._claims:
            first = min(self._claims.values(), key=lambda names: name_order(names[0]))
            both = " and ".join(first)
            return SourceError(self.folder, f"{both} both give the entry {stem_of(first[0])!r}")
        fields: list[FieldError] = []
        for name in named:
            error = self._errors[name]
            assert isinstance(error, ValidationError)
            fields.extend(error.errors)
        return ValidationError(fields)

    def layers(self) -> list[Layer]:
        """Layered mode: each usable file's layer, in name order."""
        return [self._given[name] for name in sorted(self._given, key=name_order)]

    def take_entries(self) -> dict[str, Any]:
        """Keyed mode: the entries, for a snapshot to hold (copied before the next change)."""
        self._shared = True
        return self.entries

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

    def relist_sync(self, max_size: int, allow_nan: bool, lock_timeout: float) -> bool:
        """Read the whole folder again, in this thread (for ``trioconf.load``): large files
        are parsed here too, and a writer's lock is waited for with ``time.sleep``."""
        names, sidecars, changed = self._relist_names()
        later: list[str] = []
        for name in names:
            if _sidecar(name) not in sidecars:
                step = self._step(name, max_size, allow_nan, True, later=later, limit=max_size)
                if type(step) is bool:
                    changed |= step
                    continue
            changed |= self._read_locked_sync(name, max_size, allow_nan, lock_timeout)
        for name in self._written_meanwhile(later):
            changed |= self._read_locked_sync(name, max_size, allow_nan, lock_timeout)
        self.listed = True
        return changed

    async def relist(
        self, max_size: int, allow_nan: bool, parse_timeout: float, lock_timeout: float
    ) -> bool:
        """Read the whole folder again: new files are read, vanished ones dropped, the others
        re-read (and re-parsed only if their bytes changed). Checkpoints as it goes."""
        names, sidecars, changed = self._relist_names()
        later: list[str] = []
        args = (max_size, allow_nan, parse_timeout, lock_timeout)
        # The loop body is synchronous for every file small enough to parse inline (no
        # coroutine per file: at 10,000 files that overhead showed); the clock decides when
        # to let other tasks run.
        last = time.perf_counter()
        for name in names:
            if sidecars and _sidecar(name) in sidecars:
                changed |= await self._read_slowly(name, *args)
            else:
                step = self._step(name, max_size, allow_nan, True, later=later)
                if type(step) is bool:
                    changed |= step
                else:
                    changed |= await self._read_slowly(name, *args)
            if time.perf_counter() - last >= _CHECKPOINT_EVERY:
                await trio.lowlevel.checkpoint()
                last = time.perf_counter()
        for name in self._written_meanwhile(later):
            changed |= await self._read_slowly(name, *args)
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

    async def refresh_name(
        self,
        name: str,
        max_size: int,
        allow_nan: bool,
        parse_timeout: float,
        lock_timeout: float,
    ) -> bool:
        """Read one file again (the watcher reported it); True when what it gives changed."""
        step = self._step(name, max_size, allow_nan, False)
        if type(step) is bool:
            return step
        return await self._read_slowly(name, max_size, allow_nan, parse_timeout, lock_timeout)

    def _step(
        self,
        name: str,
        max_size: int,
        allow_nan: bool,
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
        fmt = format_of(name, self.source.format)
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
            data = self._parse(name, content, fmt, allow_nan, inline)
        except NotInline:
            return Deferred.LARGE
        return self._settle(name, content, fmt, data)

    async def _read_slowly(
        self, name: str, max_size: int, allow_nan: bool, parse_timeout: float, lock_timeout: float
    ) -> bool:
        """Read a file under its writer's shared lock (if a sidecar exists): inline when it is
        small, else read and parsed in a worker process and structured in a thread, so that
        the loop keeps answering (as for a large File). A lock timeout is the file's error."""
        path = self._prefix + name
        fmt = format_of(name, self.source.format)
        try:
            async with shared_lock_if_present(path, lock_timeout):
                step = self._step(name, max_size, allow_nan, True, probe=False)
                if type(step) is bool:
                    return step
                assert fmt is not None  # a file of no format is read whole, inline
                known = self.files.get(name)
                job = (cast("Path", path), fmt, path, allow_nan, max_size, known, parse_timeout)
                digest, data, raw = await read_and_parse_in_worker(*job)
        except ConfigError as exc:  # the lock timed out, or the worker failed
            return self._unreadable(name, exc)
        if data is None:  # the bytes read last time
            return False
        settle = functools.partial(self._settle, name, Content(raw, digest), fmt, data)
        try:
            # Captured in the thread: what the thread machinery itself raises is told apart
            # from what structuring raised (a trioconf bug, re-raised by ``unwrap``).
            result = await trio.to_thread.run_sync(outcome.capture, settle)
        except RuntimeError as exc:  # "can't start new thread": the system's limits
            failure = f"no thread could start to structure it ({exc})"
        else:
            return result.unwrap()
        # Made out here, with no __context__ to keep alive while the error is kept.
        return self._fail(name, None, SourceError(path, failure))

    def _read_locked_sync(
        self, name: str, max_size: int, allow_nan: bool, lock_timeout: float
    ) -> bool:
        """``_read_slowly`` for ``trioconf.load``: inline whatever the size."""
        try:
            with shared_lock_if_present_sync(self._prefix + name, lock_timeout):
                step = self._step(name, max_size, allow_nan, True, probe=False, limit=max_size)
        except ConfigError as exc:
            return self._unreadable(name, exc)
        assert type(step) is bool  # nothing is larger than max_size without being refused
        return step

    def _unreadable(self, name: str, exc: ConfigError) -> bool:
        """A file that could not be read: gone (dropped) or this file's error."""
        if isinstance(exc, MissingSourceError) or not os.path.isfile(self._prefix + name):
            return self._remove(name)  # gone, or a folder or a FIFO by that name: not a file
        return self._fail(name, None, exc)

    def _parse(
        self, name: str, content: Content, fmt: Format | None, allow_nan: bool, inline: bool
    ) -> dict[str, Any] | ConfigError:
        path = self._prefix + name
        if fmt is None:
            msg = "cannot tell the format from the extension; narrow the Directory's pattern"
            return SourceError(path, msg + " or pass Directory(..., format=...)")
        try:
            return parse(content.raw, fmt, path, allow_nan, inline=inline)
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
        assert fmt is not None
        if data:
            self.empty.discard(name)
        else:
            # Emptied under the reloader (or created empty): maybe an in-place writer between
            # its truncate and its write, or a new file between its first close and the next
            # write. The loader gives it missing_grace to be written (``Loader.refresh``).
            if name not in self.empty and (name in self.files or self.listed):
                self.emptied.add(name)
            self.empty.add(name)
        if not self.keyed:
            layer = Layer(self._prefix + name, data, content.raw, fmt)
            return self._succeed(name, content.digest, layer)
        try:
            entry = structure_entry(self.converter, self.entry_type, data, self, name, content)
        except ValidationError as exc:
            return self._fail(name, content.digest, exc)
        return self._succeed(name, content.digest, entry)

    # -- bookkeeping ------------------------------------------------------------------------

    def _add(self, name: str) -> None:
        """A file not known before: in keyed mode, it claims its stem."""
        if not self.keyed:
            return
        stem = stem_of(name)
        owner = self._owners.get(stem)
        if owner is None:
            self._owners[stem] = name
            return
        claims = self._claims.setdefault(stem, [owner])
        claims.append(name)
        claims.sort(key=name_order)
        self._owners[stem] = claims[0]

    def _succeed(self, name: str, digest: bytes, value: Any) -> bool:
        files = self.files
        if name not in files:
            if self.keyed and not self._errors and not self._claims:
                # The common case, ten thousand times at start-up: a new file, all good.
                stem = stem_of(name)
                if stem not in self._owners:
                    self._owners[stem] = name
                    files[name] = digest
                    self._given[name] = value
                    self._set_value(stem, value)
                    self.dirty.add(stem)
                    return True
            self._add(name)
        files[name] = digest
        self._given[name] = value
        if name in self._errors:
            del self._errors[name]
        if self.keyed:
            self._restem(stem_of(name))
        return True

    def _fail(self, name: str, digest: bytes | None, error: ConfigError) -> bool:
        if name not in self.files:
            self._add(name)
            same = False
        else:
            before = self._errors.get(name)
            same = self.files[name] is None and before is not None
            same = same and not _error_changed(before, error)
        self.files[name] = digest
        self._errors[name] = error
        if self.keyed:
            # The entry keeps its last good value: the build fails while any file has an
            # error, and a fix that gives an equal entry is then no change.
            self.dirty.add(stem_of(name))
        else:
            self._given.pop(name, None)  # its stale layer is not kept (the error blocks it)
        return not same

    def _remove(self, name: str) -> bool:
        if name not in self.files:
            return False
        del self.files[name]
        self.empty.discard(name)
        self.emptied.discard(name)
        self._given.pop(name, None)
        self._errors.pop(name, None)
        if self.keyed:
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
        return True

    def _restem(self, stem: str) -> None:
        """Keyed mode: make ``entries[stem]`` what the file of that stem gives now. While two
        files claim it, or its file has an error, the build fails; the entry waits as it was."""
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
