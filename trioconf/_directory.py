"""A Directory source's state: which files its folder holds now, and what each one gave.

Per file the state keeps only what the next change needs: the digest of the bytes read last
(an identical rewrite re-parses nothing), the error if the file cannot be used, and what the
file contributes: in layered mode its ``Layer`` (the merge is rebuilt from every layer, and a
conf.d folder has a handful of files), in keyed mode the **structured entry** only. Neither the
raw bytes nor the parsed dict of a keyed entry is kept: ten thousand of them would weigh more
than the entries themselves, and a field error is located while the bytes are still at hand,
when the file is read, so nothing needs them later.

Keyed mode keeps ``values``, stem → entry in the order of the keys' bytes: the very dict a
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
import trio
import trio_parallel

from ._errors import ConfigError, FieldError, MissingSourceError, SourceError, ValidationError
from ._formats import INLINE_LIMITS, parse
from ._layer import Layer
from ._merge import dotted, merge
from ._read import Content, read_consistent
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
        self.counts = matcher(source.pattern)
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
        self._values: dict[str, Any] = {}
        self._errors: dict[str, ConfigError] = {}
        self.folder_error: ConfigError | None = None
        # Keyed mode: stem → the name of its file, and the stems more than one file claims.
        self._owners: dict[str, str] = {}
        self._claims: dict[str, list[str]] = {}
        self.values: dict[str, Any] = {}
        self._shared = False  # ``values`` is held by a snapshot: copy it before changing it
        self.dirty: set[str] = set()

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
        return [self._values[name] for name in sorted(self._values, key=name_order)]

    def take_values(self) -> dict[str, Any]:
        """Keyed mode: the entries, for a snapshot to hold (copied before the next change)."""
        self._shared = True
        return self.values

    def owner(self, stem: str) -> str | None:
        """The path of the file that supplies the entry ``stem`` now."""
        name = self._owners.get(stem)
        return None if name is None else os.path.join(self.folder, name)

    def reuse(self, stem: str, entry: Any) -> None:
        """Put back an equal entry from the current snapshot, so it stays the same object."""
        name = self._owners.get(stem)
        if name is not None and stem not in self._claims and name not in self._errors:
            self._values[name] = entry
            self._set_value(stem, entry)
        self.dirty.discard(stem)

    # -- refreshing -------------------------------------------------------------------------

    def list_names(self) -> list[str]:
        """The matching names in the folder now, in name order; sets ``folder_error``."""
        try:
            with os.scandir(self.folder) as it:
                names = [e.name for e in it if self.counts(e.name) and _is_file(e)]
        except OSError as exc:
            self.folder_error = self._folder_error(exc)
            return []
        self.folder_error = None
        names.sort(key=name_order)
        return names

    def _folder_error(self, exc: OSError) -> ConfigError | None:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not os.path.isdir(self.folder):
            if exc.errno == errno.ENOTDIR and os.path.exists(self.folder):
                return SourceError(self.folder, "is not a directory")
            if self.source.optional:
                return None
            return MissingSourceError(self.folder, "does not exist")
        reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        return SourceError(self.folder, reason or str(exc))

    def relist_sync(self, max_size: int, allow_nan: bool) -> bool:
        """Read the whole folder again, inline (for ``trioconf.load``)."""
        before = self.folder_error
        names = self.list_names()
        changed = _error_changed(before, self.folder_error)
        changed |= self._drop_missing(names)
        for name in names:
            changed |= self.refresh_name_sync(name, max_size, allow_nan, listed=True)
        return changed

    async def relist(self, max_size: int, allow_nan: bool, parse_timeout: float) -> bool:
        """Read the whole folder again: new files are read, vanished ones dropped, the others
        re-read (and re-parsed only if their bytes changed). Checkpoints as it goes."""
        before = self.folder_error
        names = self.list_names()
        changed = _error_changed(before, self.folder_error)
        changed |= self._drop_missing(names)
        # The loop body is synchronous for every file small enough to parse inline (no
        # coroutine per file: at 10,000 files that overhead showed); the clock decides when
        # to let other tasks run.
        last = time.perf_counter()
        for name in names:
            step = self._step(name, max_size, allow_nan, listed=True)
            if type(step) is bool:
                changed |= step
            else:
                changed |= await self._in_worker(name, *step, allow_nan, parse_timeout)
            if time.perf_counter() - last >= _CHECKPOINT_EVERY:
                await trio.lowlevel.checkpoint()
                last = time.perf_counter()
        return changed

    def _drop_missing(self, names: list[str]) -> bool:
        present = set(names)
        gone = [name for name in self.files if name not in present]
        for name in gone:
            self._remove(name)
        return bool(gone)

    def refresh_name_sync(
        self, name: str, max_size: int, allow_nan: bool, *, listed: bool = False
    ) -> bool:
        step = self._step(name, max_size, allow_nan, listed)
        if type(step) is bool:
            return step
        content, fmt = step
        return self._settle(name, content, fmt, self._parse(name, content, fmt, allow_nan))

    async def refresh_name(
        self,
        name: str,
        max_size: int,
        allow_nan: bool,
        parse_timeout: float,
        *,
        listed: bool = False,
    ) -> bool:
        """Read one file again; True when what it gives changed."""
        step = self._step(name, max_size, allow_nan, listed)
        if type(step) is bool:
            return step
        return await self._in_worker(name, *step, allow_nan, parse_timeout)

    def _step(
        self, name: str, max_size: int, allow_nan: bool, listed: bool
    ) -> bool | tuple[Content, Format]:
        """Read a file and, when it is small enough, parse and settle it here (whether that
        changed anything); a large file's bytes and format are returned for a worker."""
        content = self._read(name, max_size, listed)
        if type(content) is bool:
            return content
        assert isinstance(content, Content)
        fmt = format_of(name, self.source.format)
        if fmt is not None and len(content.raw) > INLINE_LIMITS[fmt]:
            return content, fmt
        return self._settle(name, content, fmt, self._parse(name, content, fmt, allow_nan))

    async def _in_worker(
        self, name: str, content: Content, fmt: Format, allow_nan: bool, parse_timeout: float
    ) -> bool:
        # Too large to parse inline: a worker process parses it, and a thread structures it,
        # so that the loop keeps answering (as for a large File).
        path = self._prefix + name
        job = functools.partial(parse, content.raw, fmt, path, allow_nan)
        data: dict[str, Any] | ConfigError
        try:
            with trio.fail_after(parse_timeout):
                data = await trio_parallel.run_sync(job, kill_on_cancel=True)
        except trio.TooSlowError:
            msg = f"parsing took longer than {parse_timeout} s; the worker was stopped"
            data = SourceError(path, msg)
        except trio_parallel.BrokenWorkerError:
            data = SourceError(path, "the worker process parsing it died unexpectedly")
        except ConfigError as exc:
            data = exc
        settle = functools.partial(self._settle, name, content, fmt, data)
        return await trio.to_thread.run_sync(settle)

    def _read(self, name: str, max_size: int, listed: bool) -> Content | bool:
        """The file's bytes, or whether the state changed when they cannot be had (a file
        gone is dropped; an unreadable one is its error) or are those read last time.
        ``listed``: the name comes from the folder's listing, so it matches already."""
        if not listed and not self.counts(name):
            return False
        try:
            # read_consistent only hands the path to os.open and friends: a str serves, and
            # skips building ten thousand Path objects at start-up.
            content = read_consistent(cast("Path", self._prefix + name), max_size)
        except MissingSourceError:
            return self._remove(name)
        except ConfigError as exc:
            if not os.path.isfile(self._prefix + name):
                return self._remove(name)  # a folder or a FIFO by that name: not a file
            return self._fail(name, None, exc)
        if self.files.get(name) == content.digest:
            return False
        return content

    def _parse(
        self, name: str, content: Content, fmt: Format | None, allow_nan: bool
    ) -> dict[str, Any] | ConfigError:
        path = self._prefix + name
        if fmt is None:
            msg = "cannot tell the format from the extension; narrow the Directory's pattern"
            return SourceError(path, msg + " or pass Directory(..., format=...)")
        try:
            return parse(content.raw, fmt, path, allow_nan)
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
                    self._values[name] = value
                    self._set_value(stem, value)
                    self.dirty.add(stem)
                    return True
            self._add(name)
        files[name] = digest
        self._values[name] = value
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
            self._values.pop(name, None)  # its stale layer is not kept (the error blocks it)
        return not same

    def _remove(self, name: str) -> bool:
        if name not in self.files:
            return False
        del self.files[name]
        self._values.pop(name, None)
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
        """Keyed mode: make ``values[stem]`` what the file of that stem gives now. While two
        files claim it, or its file has an error, the build fails; the entry waits as it was."""
        name = self._owners.get(stem)
        if name is None:
            if stem in self.values:
                self._copy_if_shared()
                del self.values[stem]
                self.dirty.add(stem)
            return
        if stem not in self._claims and name not in self._errors:
            value = self._values[name]
            if self.values.get(stem) is not value:
                self._set_value(stem, value)
        self.dirty.add(stem)

    def _set_value(self, stem: str, entry: Any) -> None:
        self._copy_if_shared()
        values = self.values
        if stem in values or not values or name_order(stem) > name_order(next(reversed(values))):
            # In place, or appended: a listing in name order only ever appends.
            values[stem] = entry
            return
        values[stem] = entry
        # Inserted in the middle: rebuild the dict in key order (a new file, not an edit).
        self.values = {s: values[s] for s in sorted(values, key=name_order)}

    def _copy_if_shared(self) -> None:
        if self._shared:
            self.values = self.values.copy()  # the fast clone of a compact dict
            self._shared = False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()  # follows symlinks: a link to a file counts
    except OSError:
        return False


def _error_changed(before: ConfigError | None, after: ConfigError | None) -> bool:
    if before is None or after is None:
        return before is not after
    return (type(before), str(before)) != (type(after), str(after))
