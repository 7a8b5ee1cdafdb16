"""The watchfiles backend: the Rust ``notify`` crate (FSEvents/kqueue on macOS,
ReadDirectoryChangesW on Windows, inotify on Linux) behind watchfiles' ``RustNotify``.

What it sees and what it does not (docs/backends.rst has the table):

* directories, never files: the directory of each configured path and of every symlink hop on
  its way (``_chain``, as the inotify watcher resolves it), and each Directory source's folder,
  all non-recursive. A rename save replaces the file's inode, so a watch on the file itself
  would go deaf after the first save;
* only "added", "modified" and "deleted", each naming one path: no close-write, so a writer's
  end is not visible. A path named by an event is held (``Hold``) and reported once no event
  has named it for ``settle`` seconds (or after ``HOLD_LIMIT`` in a storm). A writer that
  pauses longer than that mid-write cannot be told from a finished save; the poll backend has
  the same limit with its interval;
* no event names the configured file when a Kubernetes ``..data`` symlink is swapped: an event
  naming any entry of the path's chain (``..data`` is one) holds the path too, and when a
  settled report is sent the chains are resolved again: if they now need other directories
  (the new ``..2024_...`` directory, a directory that appeared), a new ``RustNotify`` is made
  for them before the old one is closed, and everything is re-read (``RESCAN``), since changes
  the old one saw last may not have been collected;
* a queue overflow is dropped by watchfiles without a word (notify's rescan flag is not passed
  on): nothing here can notice it.

Cancellation: ``RustNotify.watch`` blocks a worker thread until a change, a timeout or its stop
event, which it checks every ``_STEP_MS``. A task beside the thread's waits to be cancelled and
then sets the stop event, so a cancelled watcher ends within a step; the thread is waited for
(never abandoned) before the ``RustNotify`` is closed. No timeout of watchfiles' is relied on
(it would be 5 s).
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ._chain import resolve
from ._events import HOLD_LIMIT, RESCAN, Hold, WatchEvent
from ._folders import Folder

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

SETTLE = 0.3
"""Seconds a path must go without events before it is reported (``poll_interval`` if that is
shorter): long enough for a writer's pause between two buffered writes, short enough to beat
polling by a wide margin."""

# How often the worker thread wakes to look at its stop event (and at new changes): the bound
# on cancellation, and most of the latency added to ``settle``. watchfiles' own default.
_STEP_MS = 50
# The most watchfiles groups distinct changes over before returning them: grouping is the
# debouncer's job here, so only enough to return a burst of events in one call.
_GROUP_MS = 100
# Directories may vanish between resolving and watching: try again this often, then fail.
_OPEN_ATTEMPTS = 8
# Kubernetes swaps this symlink in a mounted folder; no event names the files themselves.
_SWAP_NAME = "..data"

_INSTALL = "backend='watchfiles' needs the watchfiles package: pip install 'trioconf[watchfiles]'"

Changes = set[tuple[int, str]]


def watchfiles_available() -> bool:
    """Whether watchfiles can be imported (found, not imported: that waits for a watcher)."""
    return importlib.util.find_spec("watchfiles") is not None


def require_watchfiles() -> None:
    """Raise ``ModuleNotFoundError`` saying which extra to install, if watchfiles is missing."""
    if not watchfiles_available():
        raise ModuleNotFoundError(_INSTALL, name="watchfiles")


def _chain_of(abs_path: str) -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    """The entries a path's resolution consults, and the existing directories to watch.

    On POSIX, ``_chain.resolve`` (component by component, every symlink hop). Elsewhere
    (Windows paths have drives and backslashes) the path and its ``realpath``: a symlink's own
    entry and its final target, without intermediate hops.
    """
    if os.sep == "/":
        chain = resolve(abs_path)
        return frozenset((e.dir, e.name) for e in chain.entries), chain.watch_dirs
    entries = set()
    dirs = set()
    for p in dict.fromkeys([abs_path, os.path.realpath(abs_path)]):
        d, name = os.path.split(p)
        entries.add((d, name))
        while d and not os.path.isdir(d):
            d, name = os.path.split(d)
            entries.add((d, name))
        if d:
            dirs.add(d)
    return frozenset(entries), frozenset(dirs)


class _Plan:
    """Which directories to watch for the configured paths and folders, and which events
    name what: built from a fresh resolution of every path."""

    def __init__(self, paths: Sequence[Path], folders: Sequence[Folder]) -> None:
        self.users: dict[tuple[str, str], list[Path]] = {}
        dirs: set[str] = set()
        for path in [*paths, *(f.path for f in folders)]:
            entries, watch = _chain_of(os.path.abspath(path))
            dirs |= watch
            for entry in entries:
                self.users.setdefault(entry, []).append(path)
        # A folder's files are named by events in the folder itself (its real path: macOS
        # reports real paths whatever path was watched).
        self.folders: dict[str, Folder] = {}
        for folder in folders:
            real = os.path.realpath(folder.path)
            if os.path.isdir(real):
                self.folders[real] = folder
                dirs.add(real)
        self.dirs = frozenset(dirs)

    def affected(self, changes: Iterable[tuple[int, str]]) -> dict[Path, None]:
        """The configured paths, folders and folder files that the changes name."""
        out: dict[Path, None] = {}
        for _, changed in sorted(changes, key=lambda c: c[1]):
            d, name = os.path.split(changed)
            for path in self.users.get((d, name), ()):
                out[path] = None
            folder = self.folders.get(d)
            if folder is not None:
                if name == _SWAP_NAME:
                    out[folder.path] = None
                elif folder.matches(name):
                    out[folder.path / name] = None
        return out


class _Settle:
    """Paths named by events, held until ``settle`` seconds pass without another event."""

    def __init__(self, settle: float) -> None:
        self._settle = settle
        self._first: dict[Path, float] = {}
        self._last: dict[Path, float] = {}

    def touch(self, paths: Iterable[Path], now: float, out: list[WatchEvent]) -> None:
        for path in paths:
            if path not in self._first:
                self._first[path] = now
                out.append(Hold(path))
            self._last[path] = now

    def deadline(self) -> float:
        if not self._last:
            return math.inf
        quiet = min(self._last.values()) + self._settle
        return min(quiet, min(self._first.values()) + HOLD_LIMIT)

    def due(self, now: float) -> list[Path]:
        settled = [
            p
            for p, last in self._last.items()
            if now - last >= self._settle or now - self._first[p] >= HOLD_LIMIT
        ]
        for path in settled:
            del self._first[path]
            del self._last[path]
        return settled


Factory = Callable[[list[str]], "RustNotify"]


def _rust_notify(dirs: list[str]) -> RustNotify:
    from watchfiles._rust_notify import RustNotify  # an optional dependency: imported late

    # Not recursive: only the entries of each directory matter. Polling never forced: that
    # is the poll backend's job, which also hashes racy files. Permission errors raise.
    return RustNotify(dirs, False, False, 300, False, False)


async def run_watchfiles(
    paths: Sequence[Path],
    folders: Sequence[Folder],
    send: trio.MemorySendChannel[WatchEvent],
    *,
    settle: float = SETTLE,
    factory: Factory = _rust_notify,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Report changed paths (``_events``) until cancelled; ``started("watchfiles")`` once
    every watch is in place. ``factory`` makes the ``RustNotify`` (tests count them)."""
    require_watchfiles()
    plan, notify = _open(paths, folders, factory)
    try:
        task_status.started("watchfiles")
        held = _Settle(settle)
        while True:
            deadline = held.deadline()
            now = trio.current_time()
            # 0: no timeout. A held path's deadline is the only reason to come back early.
            timeout_ms = 0 if deadline == math.inf else max(1, math.ceil((deadline - now) * 1000))
            changes = await _watch_once(notify, timeout_ms)
            now = trio.current_time()
            out: list[WatchEvent] = []
            if changes:
                held.touch(plan.affected(changes), now, out)
            settled = held.due(now)
            out.extend(settled)
            if settled:
                fresh = _Plan(paths, folders)
                if fresh.dirs != plan.dirs:
                    # Watches first, then the old ones go: no moment without a watch. What the
                    # old one collected since its last return is lost: re-read everything.
                    plan, new = _open(paths, folders, factory)
                    notify.close()
                    notify = new
                    out.append(RESCAN)
                else:
                    plan = fresh
            for event in out:
                await send.send(event)
    finally:
        notify.close()


def _open(
    paths: Sequence[Path], folders: Sequence[Folder], factory: Factory
) -> tuple[_Plan, RustNotify]:
    """Resolve, watch, and resolve again until the watched directories are those the paths
    need (a directory may vanish or appear meanwhile)."""
    plan = _Plan(paths, folders)
    for _ in range(_OPEN_ATTEMPTS):
        try:
            notify = factory(sorted(plan.dirs))
        except FileNotFoundError:
            plan = _Plan(paths, folders)  # a directory vanished after it was resolved
            continue
        # Resolving after the watches are in place: a change after this is an event.
        again = _Plan(paths, folders)
        if again.dirs <= plan.dirs:
            return again, notify
        notify.close()
        plan = again
    msg = f"the watched directories kept changing: {sorted(plan.dirs)}"
    raise OSError(msg)


async def _watch_once(notify: RustNotify, timeout_ms: int) -> Changes | None:
    """One ``RustNotify.watch`` in a worker thread: the changes, or None on a timeout.

    Cancellation is prompt: a sibling task sets the stop event when the scope is cancelled,
    and the thread returns within a step (``_STEP_MS``). The thread is never abandoned: it
    must not outlive the ``RustNotify`` it uses, which the caller closes next.
    """
    stop = threading.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_cancel, stop)
        result = await trio.to_thread.run_sync(notify.watch, _GROUP_MS, _STEP_MS, timeout_ms, stop)
        nursery.cancel_scope.cancel()
    if isinstance(result, set):
        return result
    return None  # "timeout" ("stop": cancelled, raised above; "signal": not in a thread)


async def _stop_on_cancel(stop: threading.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        stop.set()
