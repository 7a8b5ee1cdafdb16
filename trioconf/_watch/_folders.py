"""Watching the folders of Directory sources: every matching name in them, not fixed paths.

A Directory is "whatever files match in that folder", so the folder itself is watched (on its
own inotify descriptor, beside the descriptor of the file watcher) and each event naming a
matching file is reported as that file's path: the debouncer then coalesces per file, and the
loader re-reads that file only. The folder's own appearance, disappearance or replacement is
the file watcher's business: the folder path is handed to it like a configured file (its
parent directory and symlink chain are watched), and when it reports the folder, the folder
watch is put back (``rearm``) before the report travels on, so the loader's re-listing sees
every file created since. A lost queue (overflow) is a rescan, which re-lists every folder.

The poll backend (``FolderPoller``) lists each folder and fingerprints its matching files each
interval, with the file poller's fingerprints (and their racy-mtime rule) and its settle rule:
a file that changed, appeared or vanished is held until a whole interval passed without a
further change.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs
import trio

from .._read import DEFAULT_MAX_SIZE
from ._descriptor import GONE, SELF_MASK, WATCH_MASK, Descriptor, RawEvent, Unwatchable, overflowed
from ._events import WatchEvent
from ._held import Held
from ._libc import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_IGNORED,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Libc,
)
from ._poll import Fingerprint, Settling, check_interval, take_fingerprint

# A completed change to a file in the folder: report it.
_REPORT_MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB
# The file left: report it only if nothing takes its place soon (``VANISH_SETTLE``).
_VANISH_MASK = IN_MOVED_FROM | IN_DELETE
# Absent, or unsearchable, now: the file watcher reports the folder's return (or its mode).
_ABSENT = GONE | {errno.EACCES}
# Kubernetes mounts a ConfigMap as symlinks through ``..data``, swapped in one rename: no
# event names the files themselves, so a swap re-lists the folder.
_SWAP_NAME = "..data"

Matches = Callable[[str], bool]


@attrs.frozen
class Folder:
    """A watched folder and which names in it count (the Directories' patterns, combined)."""

    path: Path
    matches: Matches


class FolderWatcher:
    """Reports changed matching files of folders, through an inotify descriptor it is given.

    ``on_unwatchable(folder, error)`` receives a folder inotify cannot serve (watch limit, a
    remote filesystem when ``check_remote``); it may raise, or hand the folder to a poller.
    """

    def __init__(
        self,
        libc: Libc,
        fd: int,
        folders: Iterable[Folder],
        on_unwatchable: Callable[[Folder, Unwatchable], None],
        *,
        check_remote: bool,
    ) -> None:
        # The folder's path prefixes whatever reports a refusal: the reason need not name it.
        self._descriptor = Descriptor(libc, fd, check_remote=check_remote, names_dir=False)
        self._on_unwatchable = on_unwatchable
        self._folders = {f.path: f for f in folders}
        self._wd: dict[int, Folder] = {}
        self._held = Held()  # files being written, or gone a moment ago

    @property
    def folders(self) -> list[Path]:
        return list(self._folders)

    def install(self) -> None:
        for folder in list(self._folders.values()):
            self.arm(folder.path)

    def arm(self, path: Path) -> None:
        """(Re)install the watch of a folder, if it exists now; idempotent."""
        folder = self._folders.get(path)
        if folder is None:
            return
        # A folder path that is a symlink is followed (no IN_DONT_FOLLOW): its contents count.
        try:
            wd = self._descriptor.watch(str(path), WATCH_MASK, absent=_ABSENT)
        except Unwatchable as exc:
            self._give_up(folder, exc)
            return
        if wd is not None:
            self._wd[wd] = folder

    def _give_up(self, folder: Folder, exc: Unwatchable) -> None:
        self.forget(folder.path)
        self._on_unwatchable(folder, exc)

    def forget(self, path: Path) -> None:
        """Stop watching a folder (another backend serves it from now on)."""
        folder = self._folders.pop(path, None)
        for wd in [wd for wd, f in self._wd.items() if f is folder]:
            del self._wd[wd]
            self._descriptor.unwatch(wd)

    async def run(self, send: trio.MemorySendChannel[WatchEvent]) -> None:
        """Report until cancelled. Call ``install()`` first."""
        await self._descriptor.pump(self.process, self._held, send)

    def process(self, events: Iterable[RawEvent], now: float) -> list[WatchEvent]:
        """Apply a batch of events; return what to send, each path at most once."""
        reports: dict[Path, None] = {}
        for event in events:
            if event.mask & IN_Q_OVERFLOW:
                return overflowed(self._held)
            folder = self._wd.get(event.wd)
            if folder is None:
                continue
            if event.mask & SELF_MASK:
                del self._wd[event.wd]
                if not event.mask & IN_IGNORED:
                    self._descriptor.unwatch(event.wd)
                reports[folder.path] = None  # the loader re-lists: gone, or another folder
                continue
            if not event.name:
                if event.mask & IN_ATTRIB:
                    reports[folder.path] = None  # chmod of the folder: readable or not now
                continue
            if event.name == _SWAP_NAME:
                reports[folder.path] = None
                continue
            if not folder.matches(event.name):
                continue
            path = folder.path / event.name
            if event.mask & _REPORT_MASK:
                reports[path] = None
            elif event.mask & _VANISH_MASK:
                # ``git checkout`` and rename saves take the file away and put a new one in
                # its place: the entry must not drop out of a snapshot in between.
                self._held.vanished(path, now)
            elif event.mask & IN_CREATE:
                if _complete_on_create(path):
                    reports[path] = None
                else:
                    self._held.replaced(path, now)
            elif event.mask & IN_MODIFY:
                self._held.writing(path, now)
        return self._held.announce(reports)


def _complete_on_create(path: Path) -> bool:
    """A new symlink, hard link or directory gets no close event: report it at once. A new
    regular file is reported by its writer's close (or the open-writer grace)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False  # gone again: its delete event follows
    return not (stat.S_ISREG(st.st_mode) and st.st_nlink == 1)


# Fingerprinting ten thousand files must not hold the loop for the whole pass.
_POLL_CHECKPOINT_EVERY = 256


@attrs.define(eq=False)
class _Listing:
    folder: Folder
    present: bool = False
    prints: dict[str, Fingerprint] = attrs.field(factory=dict)
    gone: set[str] = attrs.field(factory=set)  # removed since the last round: held


class FolderPoller:
    """Lists each folder and fingerprints its matching files every ``interval`` seconds (a
    file larger than ``max_size`` by its stat fields alone, as the file poller does)."""

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
        self._listings: dict[Path, _Listing] = {}
        self._report_next: set[Path] = set()
        self._has_folders = trio.Event()
        self._settling = Settling()

    @property
    def folders(self) -> list[Path]:
        return list(self._listings)

    async def add(self, folder: Folder) -> None:
        """Poll ``folder`` from now on, with a baseline taken now (so nothing written after
        this returns is missed), checkpointing through a large folder."""
        if folder.path not in self._listings:
            listing = self._listings[folder.path] = _Listing(folder)
            await self._scan(listing, baseline=True)
        self._has_folders.set()

    def add_sync(self, folder: Folder, *, report: bool = False) -> None:
        """Poll ``folder`` from now on, handed over by inotify (synchronously: the baseline
        scan does not pause), and with ``report`` re-list it on the next round, in case
        inotify missed a change meanwhile."""
        if folder.path not in self._listings:
            listing = self._listings[folder.path] = _Listing(folder)
            for _ in _scanning(listing, True, [], self._max_size, self._settling):
                pass
        if report:
            self._report_next.add(folder.path)
        self._has_folders.set()

    async def run(self) -> None:
        await self._has_folders.wait()
        while True:
            await trio.sleep(self._interval)
            for listing in list(self._listings.values()):
                if listing.folder.path in self._report_next:
                    self._report_next.discard(listing.folder.path)
                    await self._send.send(listing.folder.path)
                for event in await self._scan(listing):
                    await self._send.send(event)

    async def _scan(self, listing: _Listing, *, baseline: bool = False) -> list[WatchEvent]:
        """What changed since the last scan (nothing for a ``baseline``): holds for files
        that changed, reports for those that settled (the file poller's settle rule), with a
        checkpoint every few hundred files."""
        out: list[WatchEvent] = []
        scan = _scanning(listing, baseline, out, self._max_size, self._settling)
        for _ in scan:
            await trio.lowlevel.checkpoint()
        return out


def _scanning(
    listing: _Listing,
    baseline: bool,
    out: list[WatchEvent],
    max_size: int,
    settling: Settling,
) -> Iterator[None]:
    """Scan a folder, appending what changed to ``out``; yields where a caller may pause."""
    folder = listing.folder
    now = trio.current_time()
    try:
        with os.scandir(folder.path) as it:
            names: list[str] | None = [e.name for e in it if folder.matches(e.name)]
    except OSError:
        names = None
    if (names is not None) != listing.present:
        # Appeared or vanished: the loader re-lists it all, so only new prints are taken.
        listing.present = names is not None
        for name in [*listing.prints, *listing.gone]:
            settling.forget(folder.path / name)
        listing.prints.clear()
        listing.gone.clear()
        if not baseline:
            out.append(folder.path)
        baseline = True
    if names is None:
        return
    prints = listing.prints
    present = set(names)
    # A file gone since the last round is held like a changed one (a rename save or a
    # checkout puts a new one in its place); still gone a round later, it is reported.
    for name in [n for n in listing.gone if n not in present]:
        listing.gone.discard(name)
        settling.observe(folder.path / name, False, now, out)
    for gone in [n for n in prints if n not in present]:
        del prints[gone]
        if not baseline:
            listing.gone.add(gone)
            settling.observe(folder.path / gone, True, now, out)
    for i, name in enumerate(names):
        if i % _POLL_CHECKPOINT_EVERY == _POLL_CHECKPOINT_EVERY - 1:
            yield
        path = folder.path / name
        current, differs = take_fingerprint(path, prints.get(name), max_size=max_size)
        if not baseline:
            listing.gone.discard(name)
            changing = name not in prints or differs or current.locked
            settling.observe(path, changing, now, out)
        prints[name] = current
