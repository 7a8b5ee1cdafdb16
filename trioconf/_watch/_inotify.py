"""The inotify watcher: directory watches that follow symlink chains, reported per configured path.

Why directories and chains: an editor's rename save replaces the file's inode, so a watch on the
file itself goes deaf after the first save; a Kubernetes ConfigMap update swaps a ``..data``
symlink, so no event ever names the configured file; a symlink's target may live in another
directory, whose events the configured file's directory never sees. So each configured path is
resolved one component at a time (``resolve``), recording every entry consulted on the way; the
directory of every symlink hop and of the final entry is watched, and any event naming a recorded
entry either reports the path or makes the watcher resolve it again (and move its watches).

A path that does not exist resolves up to its first missing component: the directory holding that
component is the nearest existing ancestor, so watching it and walking back down as directories
reappear falls out of the same resolution.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import trio

from ._chain import Chain, Entry, Kind, resolve
from ._descriptor import SELF_MASK, WATCH_MASK, Descriptor, RawEvent, Unwatchable, overflowed
from ._events import WatchEvent
from ._held import OPEN_WRITER_GRACE as OPEN_WRITER_GRACE
from ._held import VANISH_SETTLE as VANISH_SETTLE
from ._held import Held
from ._lend import Lend
from ._libc import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Libc,
)

logger = logging.getLogger("trioconf")
_K = TypeVar("_K")

# Never through a symlink swapped in after we resolved the path: only real directories.
_DIR_MASK = WATCH_MASK | IN_DONT_FOLLOW
# A completed change to an entry: report the path.
_REPORT_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_ATTRIB
# The entry appeared, vanished or was replaced: the chain may lead elsewhere now.
_STRUCTURE_MASK = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO

_MAX_RESOLVE_ROUNDS = 8


class InotifyWatcher:
    """Watches configured paths through one inotify descriptor (which the caller owns).

    ``install()`` puts every watch in place synchronously; ``run(send)`` then reports until
    cancelled. A path inotify cannot serve (watch limit, remote filesystem when
    ``check_remote``) is dropped and passed to ``on_unwatchable(path, error, started)``, which
    may raise to abort or hand the path to another backend.
    """

    def __init__(
        self,
        libc: Libc,
        fd: int,
        paths: Sequence[Path],
        on_unwatchable: Callable[[Path, Unwatchable, bool], None],
        *,
        check_remote: bool,
    ) -> None:
        self._descriptor = Descriptor(libc, fd, check_remote=check_remote, names_dir=True)
        self._on_unwatchable = on_unwatchable
        self._started = False
        # Paths as the user gave them (what we send) → absolute path strings (what we resolve).
        self._abs = {p: os.path.abspath(p) for p in paths}
        self._chains: dict[Path, Chain] = {}
        self._entry_users: dict[tuple[str, str], set[Path]] = {}
        self._dir_users: dict[str, set[Path]] = {}
        # One descriptor per inode: aliases of one directory (bind mounts, a directory renamed
        # under us) share it, so it maps to a set of directory paths.
        self._dir_wd: dict[str, int] = {}
        self._wd_dirs: dict[int, set[str]] = {}
        # Paths being written, or gone a moment ago: held back until reported (``_held``).
        self._held = Held()

    @property
    def paths(self) -> list[Path]:
        """The paths this watcher still serves."""
        return list(self._abs)

    @property
    def watched_dirs(self) -> dict[str, int]:
        """Watched directory → watch descriptor (a copy, for tests and diagnostics)."""
        return dict(self._dir_wd)

    def install(self) -> None:
        """Install the watches of every path; nothing written after this returns is missed."""
        self._resync(list(self._abs))
        self._started = True

    async def run(self, send: trio.MemorySendChannel[WatchEvent], lend: Lend | None = None) -> None:
        """Report until cancelled. Call ``install()`` first. With ``lend``, the consumer
        waits on the descriptor and takes the reports itself (``_lend``)."""
        await self._descriptor.pump(self.process, self._held, send, lend)

    def process(self, events: Iterable[RawEvent], now: float) -> list[WatchEvent]:
        """Apply a batch of events; return what to send, each path at most once."""
        reports: dict[Path, None] = {}
        resync: dict[Path, None] = {}
        for event in events:
            if event.mask & IN_Q_OVERFLOW:
                # Events were lost, the structural ones too: rebuild every chain, re-read all.
                logger.warning("inotify queue overflowed; rescanning every configured file")
                self._resync(list(self._abs))
                return overflowed(self._held)
            dirs = self._wd_dirs.get(event.wd)
            if dirs is None:
                continue  # a watch already dropped (its IN_IGNORED, or events queued before)
            if event.mask & SELF_MASK:
                affected = {p for d in dirs for p in self._dir_users.get(d, ())}
                reports.update(dict.fromkeys(sorted(affected, key=str)))
                resync.update(dict.fromkeys(sorted(affected, key=str)))
                self._drop_wd(event.wd, remove=not event.mask & IN_IGNORED)
                continue
            if event.mask & IN_ATTRIB and not event.name:
                # A chmod of the watched directory itself (made unsearchable, or searchable
                # again): every path resolved through it may be readable or not now, and
                # nothing else reports it, since no entry inside changed.
                affected = {p for d in dirs for p in self._dir_users.get(d, ())}
                reports.update(dict.fromkeys(sorted(affected, key=str)))
                resync.update(dict.fromkeys(sorted(affected, key=str)))
                continue
            # Sorted for a stable order where several apply; almost always one does.
            for d in dirs if len(dirs) == 1 else sorted(dirs):
                users = self._entry_users.get((d, event.name))
                if users:
                    for path in users if len(users) == 1 else sorted(users, key=str):
                        self._classify(path, d, event, now, reports, resync)
        if resync:
            for path in self._resync(list(resync)):
                reports[path] = None
        return self._held.announce(reports)

    def _classify(
        self,
        path: Path,
        d: str,
        event: RawEvent,
        now: float,
        reports: dict[Path, None],
        resync: dict[Path, None],
    ) -> None:
        final = self._chains[path].final
        is_final = (final.dir, final.name) == (d, event.name)
        if event.mask & _STRUCTURE_MASK and not (
            is_final and self._file_renamed_over(final, event)
        ):
            resync[path] = None
        if is_final and event.mask & (IN_DELETE | IN_MOVED_FROM):
            # Maybe replaced in a moment (see VANISH_SETTLE): report it only if not.
            self._held.vanished(path, now)
        elif event.mask & _REPORT_MASK:
            reports[path] = None
        elif not is_final:
            return  # a hop or intermediate directory: resolving again decides
        elif event.mask & IN_CREATE:
            self._created(path, os.path.join(d, event.name), now, reports)
        elif event.mask & IN_MODIFY:
            self._held.writing(path, now)

    @staticmethod
    def _file_renamed_over(final: Entry, event: RawEvent) -> bool:
        """An atomic save: a regular file renamed over the regular file the path ends at.

        Resolving again would give the same chain (only the final entry's inode changed), so
        the resolution, an lstat and more per component, is skipped on every rename save.
        """
        if not event.mask & IN_MOVED_TO or final.kind is not Kind.FILE:
            return False
        try:
            return stat.S_ISREG(os.lstat(os.path.join(final.dir, final.name)).st_mode)
        except OSError:
            return False  # gone again already: resolve

    def _created(self, path: Path, full: str, now: float, reports: dict[Path, None]) -> None:
        try:
            st = os.lstat(full)
        except OSError:
            return  # already gone again: its IN_DELETE / IN_MOVED_FROM follows
        if stat.S_ISDIR(st.st_mode):
            # A directory on the way: the resolution it triggers decides. A directory where
            # the file itself belongs (the file replaced by a directory) leads nowhere else,
            # so only reporting it lets the reader say "is a directory".
            here = Entry(os.path.dirname(full), os.path.basename(full), Kind.DIR)
            if resolve(self._abs[path]).final == here:
                reports[path] = None
            return
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            # A new file: its writer's close reports it; if it never closes, the grace does.
            # It replaces a file that just vanished: that one needs no report of its own.
            self._held.replaced(path, now)
            return
        # A symlink, or a hard link to an existing (complete) file: no close will follow.
        reports[path] = None

    # --- chains and watches ----------------------------------------------------------------

    def _resync(self, paths: list[Path]) -> list[Path]:
        """Resolve the paths again, moving watches; return those that now lead elsewhere."""
        moved = []
        for path in paths:
            if path not in self._abs:
                continue  # handed over to another backend meanwhile
            old = self._chains.get(path)
            try:
                chain = self._resolve_and_watch(self._abs[path])
            except Unwatchable as exc:
                self._set_chain(path, None)
                del self._abs[path]
                self._held.forget(path)
                self._on_unwatchable(path, exc, self._started)
                continue
            self._set_chain(path, chain)
            if old is not None and chain.leads_elsewhere_than(old):
                moved.append(path)
        self._sweep()
        return moved

    def _resolve_and_watch(self, abs_path: str) -> Chain:
        # Resolving after the watches are in place is what makes this race-free: anything that
        # changes later produces an event, anything earlier is seen by the next resolution.
        chain = resolve(abs_path)
        for _ in range(_MAX_RESOLVE_ROUNDS):
            missing = sorted(chain.watch_dirs - self._dir_wd.keys())
            if not missing:
                break
            for d in missing:
                self._watch_dir(d)
            chain = resolve(abs_path)
        return chain

    def _watch_dir(self, d: str) -> None:
        wd = self._descriptor.watch(d, _DIR_MASK)
        if wd is None:
            return  # replaced since we resolved it: the next resolution sees what is there
        self._dir_wd[d] = wd
        self._wd_dirs.setdefault(wd, set()).add(d)

    def _set_chain(self, path: Path, chain: Chain | None) -> None:
        old = self._chains.pop(path, None)
        if old is not None:
            for e in old.entries:
                _discard(self._entry_users, (e.dir, e.name), path)
            for d in old.watch_dirs:
                _discard(self._dir_users, d, path)
        if chain is not None:
            self._chains[path] = chain
            for e in chain.entries:
                self._entry_users.setdefault((e.dir, e.name), set()).add(path)
            for d in chain.watch_dirs:
                self._dir_users.setdefault(d, set()).add(path)

    def _sweep(self) -> None:
        """Remove the watches no path needs any more (keeping descriptors shared by aliases)."""
        for d in [d for d in self._dir_wd if d not in self._dir_users]:
            wd = self._dir_wd.pop(d)
            dirs = self._wd_dirs[wd]
            dirs.discard(d)
            if not dirs:
                self._drop_wd(wd, remove=True)

    def _drop_wd(self, wd: int, *, remove: bool) -> None:
        for d in self._wd_dirs.pop(wd, ()):
            self._dir_wd.pop(d, None)
        if remove:
            self._descriptor.unwatch(wd)


def _discard(index: dict[_K, set[Path]], key: _K, path: Path) -> None:
    users = index.get(key)
    if users is not None:
        users.discard(path)
        if not users:
            del index[key]
