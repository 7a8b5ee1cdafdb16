"""A ``File`` source: the digest of the bytes it read last, and what they gave.

Refreshing re-reads the file and re-parses only when the bytes changed; what they gave is a
parsed layer, nothing (a missing optional file), or the error. Small files are read and parsed
inline (a thread or process hop costs more than the parse), large ones in a worker process,
under the parse timeout (``_job``).

A file found gone, or emptied where it had settings, joins ``waiting``: a rename save, a
delete-then-write or an in-place writer's truncate leave exactly that state for a moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import trio

from . import _anchor, _exact
from ._errors import ConfigError, MissingSourceError
from ._formats import INLINE_LIMITS
from ._job import Deferred, Payload, read_and_parse, read_guarded
from ._layer import Layer
from ._settings import Options
from ._sidecar import shared_lock_if_present_sync
from ._source_state import Key, OneLayer
from ._sources import File, Format
from ._typeplan import apply


def absent_for(path: Path, grace: float) -> bool:
    """Whether ``path`` is known to have been absent for ``grace`` seconds already, so that
    waiting out its grace (for a rename save or a delete-and-write to finish) would only
    repeat that: a file that was never there (a typo, a deploy that forgot it) is reported at
    once, at start-up too, rather than after ``missing_grace``.

    Every entry added, removed or renamed in a directory sets its mtime; the nearest existing
    directory of the path, symlinks on the way followed (a Kubernetes ``..data`` swap or a
    dangling link's target directory counts), unchanged for ``grace`` seconds has not held the
    file for that long. Its clock is the filesystem's: a directory stamped in the future (a
    skewed server) only ever means "wait"."""
    if grace <= 0:
        return False
    now = time.time()
    for directory in Path(os.path.realpath(path)).parents:
        try:
            changed = os.stat(directory).st_mtime
        except OSError:
            continue  # gone too (or unreadable): its parent's change is what counts
        return now - changed >= grace
    return False


class FileState(OneLayer[File]):
    """One ``File`` source (``_source_state.SourceState``)."""

    def __init__(self, source: File, options: Options, *, doc_type: Any = None) -> None:
        super().__init__()
        self.source = source
        self.options = options
        # Where the document's type (the config class) has Path values, made absolute against
        # the file's directory (``_anchor``), and Decimal ones, read as written (``_exact``);
        # None: nowhere, and the document is not walked.
        self.paths = _anchor.plan(doc_type)
        self.decimals = _exact.plan(doc_type)
        self.anchor = _anchor.from_file(str(source.path.parent))
        self.format: Format = source.resolved_format  # an unknown extension fails here, plainly
        self.limit = INLINE_LIMITS[self.format]
        self.digest: bytes | None = None  # of the bytes last read; None: they could not be
        self.read = False  # read at least once (a file found empty at start-up is just empty)
        self._waiting = False

    @property
    def waiting(self) -> frozenset[Path]:
        return frozenset((self.source.path,)) if self._waiting else frozenset()

    def grace_over(self) -> None:
        self._waiting = False

    def outcome(self) -> tuple[object, ...]:
        # Errors are compared by what they say: re-reading a file that is still missing makes
        # a new exception object, but nothing changed.
        error = None if self._error is None else (type(self._error), str(self._error))
        return self.digest, id(self.layer), error

    # -- what the last read found ----------------------------------------------------------

    def _absent(self) -> bool:
        """An optional file found missing: no bytes and no error (see ``_settle_error``)."""
        return self.digest is None and self._error is None

    def _gone(self) -> bool:
        return isinstance(self._error, MissingSourceError) or self._absent()

    def _emptied(self) -> bool:
        """The file reads as a document that sets nothing: empty, or only comments."""
        return self.layer is not None and not self.layer.data

    # -- refreshing ----------------------------------------------------------------------------

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        """Read the file again (its path is the only key it has).

        A file this read found gone (a required file missing, an optional one that was
        there, unless it was reported missing already) or emptied (a document that sets
        nothing where the last read found anything else: settings, bytes that did not parse,
        or no file) starts waiting; only a later read that finds it back, whole, or the grace
        running out (``grace_over``) ends that.
        """
        before = self.outcome()
        present = self.source.optional and not self._absent()
        # A file already reported missing gets no second grace: it is not in the middle of a
        # save, and each event for it (a poll seeing its directory change) would hold every
        # other source's reload back for the whole grace.
        reported = isinstance(self._error, MissingSourceError)
        # Anything but an empty document before (settings, bytes that did not parse, no file
        # at all): a file that reads empty now may be between an in-place writer's truncate
        # (or create) and its write. That includes a file reported missing: a new one written
        # twice in a row can be read between the first close and the second truncate.
        was_empty = not self.read or self._emptied()
        await self._refresh()
        self.read = True
        if self._waiting:
            if not (self._gone() or self._emptied()):
                self._waiting = False  # back, whole: its writer closed it
        elif (not was_empty and self._emptied()) or (
            not reported
            and (isinstance(self._error, MissingSourceError) or (present and self._absent()))
            and not absent_for(self.source.path, self.options.missing_grace)
        ):
            self._waiting = True
        return self.outcome() != before

    async def _refresh(self) -> None:
        # Optimistic first: a small file is read inline without a lock and kept unless a
        # cooperating writer's sidecar lock stands beside it, which is almost never (and then
        # costs one read more). Otherwise the slow read (``read_guarded``): under the writer's
        # shared lock, so a half-written file is never read, in a worker if the file is large.
        try:
            result = read_and_parse(*self._job(), self.limit, True)
            large = False
            if isinstance(result, Deferred):
                large = True
                options = self.options
                result, _ = await read_guarded(
                    *self._job(),
                    limit=self.limit,
                    parse_timeout=options.parse_timeout,
                    lock_timeout=options.lock_timeout,
                )
        except ConfigError as exc:  # unreadable, a lock timeout, a worker that failed
            self._settle_error(exc)
        else:
            if large and (self.paths is not None or self.decimals is not None):
                # Rewriting a large document's values (and reading its decimals' literals
                # again) is a walk as long as the parse: not in the event loop either.
                await trio.to_thread.run_sync(self._settle, *result)
            else:
                self._settle(*result)
        # An inline parse cannot be interrupted: a cancellation that arrived meanwhile (a
        # deadline, the reloader closing) stops the attempt here, before anything applies. No
        # yield otherwise: a task switch per read costs more than the read.
        await trio.lowlevel.checkpoint_if_cancelled()

    def refresh_sync(self) -> None:
        """Read and parse, however large, in this thread (``trioconf.load``): optimistic first
        as the reloader reads, then under a cooperating writer's shared lock, waited for with
        ``time.sleep``."""
        try:
            result = read_and_parse(*self._job(), None, True)
            if result is Deferred.LOCKED:
                with shared_lock_if_present_sync(self.source.path, self.options.lock_timeout):
                    result = read_and_parse(*self._job())
        except ConfigError as exc:
            self._settle_error(exc)
        else:
            assert not isinstance(result, Deferred)  # no limit given: always parsed
            self._settle(*result)
        self.read = True

    def _job(self) -> tuple[Path, Format, str, bool, int, bytes | None]:
        options = self.options
        path, name = self.source.path, self.name
        return path, self.format, name, options.allow_nan, options.max_size, self.digest

    def _settle(self, digest: bytes, payload: Payload, raw: bytes) -> None:
        if payload is None:  # the same bytes as last time: nothing to do
            return
        self.digest = digest
        if isinstance(payload, ConfigError):
            self.layer, self._error = None, payload
        else:
            if self.paths is not None:
                payload = apply(payload, self.paths, self.anchor)
            if self.decimals is not None:
                payload = apply(payload, self.decimals, _exact.as_written(raw, self.format))
            self.layer = Layer(self.name, payload, raw, self.format)
            self._error = None

    def _settle_error(self, exc: ConfigError) -> None:
        self.digest, self.layer = None, None
        # A missing optional file is no error: its layer simply drops out.
        optional_gone = isinstance(exc, MissingSourceError) and self.source.optional
        self._error = None if optional_gone else exc
