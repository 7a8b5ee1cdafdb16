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
    """Checkpoints in a long loop of synchronous work, once per ``_CHECKPOINT_EVERY``."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    async def tick(self) -> None:
        now = time.perf_counter()
        if now - self._last >= _CHECKPOINT_EVERY:
            await trio.lowlevel.checkpoint()
            self._last = time.perf_counter()


@attrs.define(slots=True, eq=False)
class _DirFile:
    """One matching file: its digest, and its entry or layer, or its error."""

    stem: str
    digest: bytes | None = None
    value: Any = None  # keyed: the structured entry; layered: its Layer; None: unusable
    error: ConfigError | None = None


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
    try:
        return converter.structure(data, entry_type)
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
        self.files: dict[str, _DirFile] = {}
        self.folder_error: ConfigError | None = None
        self._errors: dict[str, ConfigError] = {}  # name → error, only for files that have one
        # Keyed mode: stem → names (more than one is an error), and stem → entry.
        self._stems: dict[str, list[str]] = {}
        self._dupes: set[str] = set()  # stems claimed by more than one file
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
        if not self._errors and not self._dupes:
            return None  # the usual case, on every change's path: no walk of the files
        named = sorted(self._errors, key=name_order)
        for name in named:
            if not isinstance(self._errors[name], ValidationError):
                return self._errors[name]
        if self._dupes:
            first = min((self._stems[s] for s in self._dupes), key=lambda n: name_order(n[0]))
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
        return [
            self.files[name].value
            for name in sorted(self.files, key=name_order)
            if self.files[name].value is not None
        ]

    def take_values(self) -> dict[str, Any]:
        """Keyed mode: the entries, for a snapshot to hold (copied before the next change)."""
        self._shared = True
        return self.values

    def owner(self, stem: str) -> str | None:
        """The path of the file that supplies the entry ``stem`` now."""
        names = self._stems.get(stem)
        return os.path.join(self.folder, names[0]) if names else None

    def reuse(self, stem: str, entry: Any) -> None:
        """Put back an equal entry from the current snapshot, so it stays the same object."""
        names = self._stems.get(stem, ())
        if len(names) == 1 and self.files[names[0]].error is None:
            self.files[names[0]].value = entry
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
        pacer = Pacer()
        for name in names:
            changed |= await self.refresh_name(
                name, max_size, allow_nan, parse_timeout, listed=True
            )
            await pacer.tick()
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
        content = self._read(name, max_size, listed)
        if not isinstance(content, Content):
            return content
        fmt, data = self._parse_inline(name, content, allow_nan)
        return self._settle(name, content, fmt, data)

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
        content = self._read(name, max_size, listed)
        if not isinstance(content, Content):
            return content
        fmt = format_of(name, self.source.format)
        if fmt is None or len(content.raw) <= INLINE_LIMITS[fmt]:
            fmt, data = self._parse_inline(name, content, allow_nan)
            return self._settle(name, content, fmt, data)
        # Too large to parse inline: a worker process parses it, and a thread structures it,
        # so that the loop keeps answering (as for a large File).
        path = self._prefix + name
        job = functools.partial(parse, content.raw, fmt, path, allow_nan)
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
        known = self.files.get(name)
        if known is not None and known.digest == content.digest:
            return False
        return content

    def _parse_inline(
        self, name: str, content: Content, allow_nan: bool
    ) -> tuple[Format | None, dict[str, Any] | ConfigError]:
        path = self._prefix + name
        fmt = format_of(name, self.source.format)
        if fmt is None:
            msg = "cannot tell the format from the extension; narrow the Directory's pattern"
            return None, SourceError(path, msg + " or pass Directory(..., format=...)")
        try:
            return fmt, parse(content.raw, fmt, path, allow_nan)
        except ConfigError as exc:
            return fmt, exc

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

    def _file(self, name: str) -> _DirFile:
        known = self.files.get(name)
        if known is None:
            known = self.files[name] = _DirFile(stem_of(name))
            if self.keyed:
                names = self._stems.get(known.stem)
                if names is None:
                    self._stems[known.stem] = [name]
                else:
                    names.append(name)
                    names.sort(key=name_order)
                    self._dupes.add(known.stem)
        return known

    def _succeed(self, name: str, digest: bytes, value: Any) -> bool:
        known = self.files.get(name) or self._file(name)
        known.digest, known.value = digest, value
        if known.error is not None:
            known.error = None
            del self._errors[name]
        if self.keyed:
            self._restem(known.stem)
        return True

    def _fail(self, name: str, digest: bytes | None, error: ConfigError) -> bool:
        known = self._file(name)
        same = known.digest is None and _error_changed(known.error, error) is False
        known.digest, known.error = digest, error
        if not self.keyed:
            known.value = None
        self._errors[name] = error
        if self.keyed:
            self.dirty.add(known.stem)
        return not same

    def _remove(self, name: str) -> bool:
        known = self.files.pop(name, None)
        if known is None:
            return False
        self._errors.pop(name, None)
        if self.keyed:
            names = self._stems[known.stem]
            names.remove(name)
            if len(names) < 2:
                self._dupes.discard(known.stem)
            if not names:
                del self._stems[known.stem]
            self._restem(known.stem)
        return True

    def _restem(self, stem: str) -> None:
        """Keyed mode: make ``values[stem]`` what the files of that stem give now. While two
        files claim it, or its file has an error, the build fails; the entry waits as it was."""
        names = self._stems.get(stem)
        if not names:
            if stem in self.values:
                self._copy_if_shared()
                del self.values[stem]
                self.dirty.add(stem)
            return
        if len(names) == 1:
            known = self.files[names[0]]
            if known.error is None and self.values.get(stem) is not known.value:
                self._set_value(stem, known.value)
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
