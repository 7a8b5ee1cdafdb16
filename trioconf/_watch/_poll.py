"""The polling watcher: a stat fingerprint of every path each ``poll_interval`` seconds.

A poll cannot see a writer close its file, so it waits for the file to settle instead: a path
whose fingerprint changed is held (``Hold``) and reported only once a whole interval went by
without a further change. A writer that pauses for less than the interval mid-write (a slow
``cp``, a large ``write_text``) is waited out; one that pauses longer cannot be told from a
finished save (docs/watching says so). A file that never stops changing is reported anyway
once it has been held for ``HOLD_LIMIT``, as inotify does with a writer that never closes.

A stat fingerprint misses a rewrite that keeps the size and lands within the filesystem's
timestamp granularity of the previous one. Git's "racy clean" rule closes that hole: while a
file's mtime is close to the moment it was fingerprinted, its content hash is kept too, and a
rewrite is caught by the hash even when the stat fields are identical. Files whose mtime is old
enough are never read.

A hash is a read like any other: bounded by ``max_size`` from the open descriptor's ``fstat``
before a byte is read, and under a cooperating writer's shared lock (``FileGuard``). A file
over ``max_size`` is not hashed at all: the loader refuses it whatever it holds, so only its
stat fields can matter (it becomes readable by shrinking, which changes its size). A writer
that holds the lock is never waited for (a round must not stall on one file): the path is
reported when the writer is first seen at work and again once it is gone, and the updater's
own read waits for the lock, with its ``lock_timeout``.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

import attrs
import trio

from .._errors import ConfigError
from .._read import DEFAULT_MAX_SIZE, read_consistent, read_unless_larger
from .._sidecar import has_sidecar, shared_lock_nowait
from ._events import HOLD_LIMIT, Hold, WatchEvent

logger = logging.getLogger("trioconf")

# Filesystem timestamp granularity (2 s on FAT, 1 s on ext3 and HFS+, coarse kernel ticks
# elsewhere) plus some clock slack: an mtime this close to "now" may hide a later write.
RACY_WINDOW_NS = 2_000_000_000


@attrs.frozen
class Fingerprint:
    """What a poll remembers of a path: stat fields, and a content hash while they are racy.

    ``key`` is ``None`` for a missing path, ``("error", errno)`` for one that cannot be
    stat'ed, otherwise ``(st_mode, st_mtime_ns, st_size, st_ino, st_dev)``; the mode covers the
    kind of file and a chmod that makes it readable again. ``locked``: the file was due a hash
    but a cooperating writer held its lock (the hash was not taken).
    """

    key: tuple[object, ...] | None
    digest: bytes | None = None
    # For a missing path: the nearest existing ancestor directory and its (inode, mtime).
    # Absence has no identity of its own, so "missing, then missing again" would hide a file
    # that came and went between two polls, although the updater may have read it meanwhile
    # (its missing-file grace re-reads on its own): the directory's mtime moves when it does.
    absence: tuple[object, ...] | None = None
    locked: bool = False


def take_fingerprint(
    path: Path,
    previous: Fingerprint | None = None,
    *,
    now_ns: int | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> tuple[Fingerprint, bool]:
    """Fingerprint ``path``; the bool says whether it changed since ``previous``.

    ``now_ns`` is the wall-clock time the mtime is judged against (default: now); a file
    larger than ``max_size`` is never read.
    """
    if now_ns is None:
        now_ns = time.time_ns()
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return _compare(Fingerprint(None, absence=_absence(path)), None, previous)
    except OSError as exc:
        return _compare(Fingerprint(("error", exc.errno)), None, previous)
    key = (st.st_mode, st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    if not stat.S_ISREG(st.st_mode):
        return _compare(Fingerprint(key), None, previous)
    # A future mtime (clock skew) counts as racy too: it says nothing about later writes.
    racy = now_ns - st.st_mtime_ns < RACY_WINDOW_NS
    # A file kept with a hash must be hashed once more even if its mtime is now old: the
    # rewrite we are looking for may have kept that same mtime.
    recheck = previous is not None and previous.digest is not None and previous.key == key
    if not (racy or recheck):
        return _compare(Fingerprint(key), None, previous)
    try:
        digest = _hash(path, max_size, previous is not None and previous.locked)
    except _Locked:
        return _compare(Fingerprint(key, locked=True), None, previous)
    return _compare(Fingerprint(key, digest if racy else None), digest, previous)


def _compare(
    new: Fingerprint, digest: bytes | None, previous: Fingerprint | None
) -> tuple[Fingerprint, bool]:
    if previous is None:
        return new, False
    if new.locked or previous.locked:
        # A writer at work is a change coming: reported when it is first seen (the updater
        # then reads under the lock, as soon as the writer lets go), not while it goes on,
        # and once more when it is gone (whatever it wrote since, the updater reads it).
        return new, new.locked != previous.locked
    if previous.key != new.key or previous.absence != new.absence:
        return new, True
    hash_differs = previous.digest is not None and digest is not None and previous.digest != digest
    return new, hash_differs


def _absence(path: Path) -> tuple[object, ...] | None:
    for parent in Path(os.path.abspath(path)).parents:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None
        return (str(parent), st.st_ino, st.st_mtime_ns)
    return None


class _Locked(Exception):
    """``_hash``: a cooperating writer holds the file's lock now; nothing was hashed."""


def _hash(path: Path, max_size: int, writer_seen: bool) -> bytes | None:
    """The content hash; None where the stat fields must do (unreadable, not a regular file,
    over ``max_size``). Raises ``_Locked`` when a cooperating writer holds the file's lock.

    Read optimistically, as the loader reads: the sidecar is looked for after the read,
    beside the file read, and only then is the lock tried. When the last round saw a writer
    at work (``writer_seen``), the lock is tried first: nothing is read while it goes on.
    """
    try:
        if not writer_seen:
            content = read_unless_larger(path, max_size, max_size, real=True)
            assert content is not None  # nothing is larger than max_size without being refused
            if content.real is not None and not has_sidecar(content.real):
                return content.digest
        with shared_lock_nowait(path) as granted:
            if not granted:
                raise _Locked
            return read_consistent(path, max_size).digest
    except ConfigError:
        # Unreadable now: the stat fields still say what they can; the updater reports errors.
        return None


def check_interval(interval: float) -> None:
    """The poll interval every poller needs: a positive number of seconds."""
    if interval <= 0:
        msg = f"poll_interval must be positive, not {interval!r}"
        raise ValueError(msg)


class Poller:
    """Polls a growing set of paths; holds each one whose fingerprint changed and reports it
    once it settled (see the module's docstring).

    ``add`` is synchronous and fingerprints at once, so a path added before the watcher reports
    itself started has a baseline, and nothing written afterwards is missed.
    """

    def __init__(
        self,
        send: trio.MemorySendChannel[WatchEvent],
        interval: float,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        check_interval(interval)
        self._send = send
        self._interval = interval
        self._max_size = max_size
        self._prints: dict[Path, Fingerprint] = {}
        self._report_next: set[Path] = set()
        self._has_paths = trio.Event()
        self._settling = Settling()

    @property
    def paths(self) -> list[Path]:
        """The polled paths, in the order they were added."""
        return list(self._prints)

    def add(self, path: Path, *, report: bool = False) -> None:
        """Poll ``path`` from now on; ``report`` sends it on the next round regardless
        (for a path handed over by another watcher that may have missed a change)."""
        if path not in self._prints:
            self._prints[path] = take_fingerprint(path, max_size=self._max_size)[0]
        if report:
            self._report_next.add(path)
        self._has_paths.set()

    def add_all(self, paths: Iterable[Path]) -> None:
        """``add`` each path, without reports."""
        for path in paths:
            self.add(path)

    async def run(self) -> None:
        """Poll until cancelled (sleeps without waking while there is nothing to poll)."""
        await self._has_paths.wait()
        while True:
            await trio.sleep(self._interval)
            for event in self._poll_once(trio.current_time()):
                await self._send.send(event)

    def _poll_once(self, now: float) -> list[WatchEvent]:
        out: list[WatchEvent] = []
        settling = self._settling
        for path, previous in self._prints.items():
            current, differs = take_fingerprint(path, previous, max_size=self._max_size)
            self._prints[path] = current
            # A file its cooperating writer holds locked is at work: held, not settled.
            settling.observe(path, differs or current.locked, now, out)
            if path in self._report_next and path not in out:
                out.append(path)
        self._report_next.clear()
        return out


class Settling:
    """The settle rule shared by the pollers: which changed paths are held, which settled."""

    def __init__(self) -> None:
        self._since: dict[Path, float] = {}  # held path → when it was first seen changing
        self._warned: set[Path] = set()

    def observe(self, path: Path, differs: bool, now: float, out: list[WatchEvent]) -> None:
        """One poll's look at ``path``: append its ``Hold`` or its report to ``out``."""
        since = self._since.get(path)
        if not differs:
            if since is not None:
                del self._since[path]
                out.append(path)  # unchanged for a whole interval: settled
            return
        if since is None:
            self._since[path] = now
            out.append(Hold(path))
        elif now - since >= HOLD_LIMIT:
            # Rewritten on every poll for this long: report it anyway (a log appended to
            # without pause never settles); its next change is held anew.
            del self._since[path]
            out.append(path)
            if path not in self._warned:
                self._warned.add(path)
                logger.warning(
                    "%s changed (or stayed locked by its writer) on every poll for %.0f s; "
                    "reloading it anyway",
                    path,
                    HOLD_LIMIT,
                )

    def forget(self, path: Path) -> None:
        """``path`` is no longer polled (a file gone from a polled folder)."""
        self._since.pop(path, None)
        self._warned.discard(path)
