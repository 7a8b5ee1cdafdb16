"""``run_watcher``: picks the backend per path, installs every watch, then reports until cancelled.

``"auto"`` prefers inotify and falls back to polling, loudly (a warning on the ``trioconf``
logger), where inotify cannot be trusted: no inotify instance (``EMFILE``: the per-user instance
limit; ``ENOSYS``), the watch limit reached for some directory (``ENOSPC``: only the paths that
need it are polled), or a directory on a filesystem whose remote writes inotify never sees (NFS,
CIFS, FUSE, ...: decided by ``statfs``). Off Linux, ``"auto"`` means the watchfiles backend
(``_watchfiles``: FSEvents/kqueue on macOS, ReadDirectoryChangesW on Windows) when watchfiles is
importable (``trioconf[watchfiles]``), else polling, with a warning saying which extra to install.
``"watchfiles"`` asks for it by name, on any system (Linux included: the tests run it there).

Directory sources' folders are watched the same way (``_folders``): their contents on a second
inotify descriptor, their own appearance and disappearance by the file watcher, or polled.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import trio

from .._read import DEFAULT_MAX_SIZE
from .._sources import Directory, matcher
from ._descriptor import RawEvent, Unwatchable
from ._events import WatchEvent
from ._fallback import Backend, Fallback
from ._folders import Folder, FolderPoller, FolderWatcher
from ._inotify import InotifyWatcher
from ._lend import Lend
from ._libc import Libc
from ._poll import Poller
from ._watchfiles import SETTLE, require_watchfiles, run_watchfiles, watchfiles_available

logger = logging.getLogger("trioconf")


async def run_watcher(
    paths: Sequence[Path],
    send: trio.MemorySendChannel[WatchEvent],
    *,
    directories: Sequence[Directory] = (),
    backend: Backend = "auto",
    poll_interval: float = 1.0,
    max_size: int = DEFAULT_MAX_SIZE,
    libc: Libc | None = None,
    lend: Lend | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Report configured paths that may have changed (or ``RESCAN``) on ``send`` until cancelled.

    Call it as ``name = await nursery.start(run_watcher, paths, send)``: ``start`` returns once
    every watch is installed, so nothing written afterwards is missed, with the backend's name:
    ``"inotify"``, ``"poll"``, ``"inotify+poll"`` (some paths polled) or ``"watchfiles"``.
    Paths are sent as given (the same objects), never their contents. For ``directories``, the
    path of each changed matching file in their folders is sent, or the folder's own path when
    the folder must be listed again (it appeared, vanished or was replaced). Pollers never read
    a file larger than ``max_size`` (the loader's limit) to hash it.

    ``backend="inotify"`` raises ``OSError`` when inotify is unavailable or cannot watch a
    directory (at start, or later when a path moves to a new directory). ``libc`` replaces the
    system-call wrapper (tests use it to make the kernel refuse a call); the default is real.
    With ``lend``, the file watcher's inotify descriptor is lent to the consumer (``_lend``):
    its reports are then taken by the consumer's task, not sent on ``send``.
    """
    if backend not in ("auto", "inotify", "poll", "watchfiles"):
        msg = f"backend must be 'auto', 'inotify', 'poll' or 'watchfiles', not {backend!r}"
        raise ValueError(msg)
    if backend == "watchfiles":
        require_watchfiles()  # before anything starts: a usage error, not a watcher's failure
    fallback = Fallback(backend, poll_interval)
    poller = Poller(send, poll_interval, max_size)
    folder_poller = FolderPoller(send, poll_interval, max_size)
    unique = list(dict.fromkeys(paths))
    folders = _folders(directories)
    if backend == "auto" and not sys.platform.startswith("linux"):
        if watchfiles_available():
            backend = "watchfiles"
        else:
            logger.warning(
                "no inotify on %s and watchfiles is not installed: polling every %g s "
                "(pip install 'trioconf[watchfiles]' for change events)",
                sys.platform,
                poll_interval,
            )
            backend = "poll"
    if backend == "watchfiles":
        # Held until quiet for ``settle``: watchfiles cannot see a writer close its file.
        settle = min(SETTLE, poll_interval)
        await run_watchfiles(unique, folders, send, settle=settle, task_status=task_status)
        return
    if backend == "poll":
        await _run_poll(poller, folder_poller, unique, folders, task_status)
        return
    try:
        libc = libc or Libc()
        fd = libc.inotify_init()
    except OSError as exc:
        fallback.unavailable(exc)
        await _run_poll(poller, folder_poller, unique, folders, task_status)
        return
    try:
        if folders:
            await _run_with_folders(
                libc, fd, unique, folders, send, poller, folder_poller, fallback, lend, task_status
            )  # fmt: skip
        else:
            await _run_inotify(libc, fd, unique, send, poller, fallback, lend, task_status)
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)


def _folders(directories: Sequence[Directory]) -> list[Folder]:
    """One Folder per distinct folder; the patterns of Directories sharing it are combined."""
    by_path: dict[Path, list[Directory]] = {}
    for d in directories:
        by_path.setdefault(d.path, []).append(d)
    folders = []
    for path, group in by_path.items():
        tests = [matcher(d.pattern) for d in group]
        counts = tests[0] if len(tests) == 1 else (lambda n, t=tests: any(f(n) for f in t))
        folders.append(Folder(path, counts))
    return folders


async def _run_poll(
    poller: Poller,
    folder_poller: FolderPoller,
    paths: list[Path],
    folders: list[Folder],
    task_status: trio.TaskStatus[str],
) -> None:
    poller.add_all(paths)  # fingerprints taken now: a change after started() is a change
    for folder in folders:
        await folder_poller.add(folder)
    task_status.started("poll")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(poller.run)
        nursery.start_soon(folder_poller.run)


async def _run_inotify(
    libc: Libc,
    fd: int,
    paths: list[Path],
    send: trio.MemorySendChannel[WatchEvent],
    poller: Poller,
    fallback: Fallback,
    lend: Lend | None,
    task_status: trio.TaskStatus[str],
) -> None:
    def on_unwatchable(path: Path, exc: Unwatchable, started: bool) -> None:
        fallback.unwatchable(path, exc)
        # Once running, the change that moved the path may itself be what inotify missed.
        poller.add(path, report=started)

    check_remote = fallback.check_remote
    watcher = InotifyWatcher(libc, fd, paths, on_unwatchable, check_remote=check_remote)
    watcher.install()
    if fallback.backend == "inotify":
        task_status.started("inotify")
        await watcher.run(send, lend)
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watcher.run, send, lend)
        nursery.start_soon(poller.run)
        task_status.started("inotify+poll" if poller.paths else "inotify")


class _Rearming(InotifyWatcher):
    """The file watcher, which also watches the folders' own paths: when it reports a folder
    (it appeared or was replaced), the folder's content watch is put back before the report
    travels on, so the loader's re-listing that follows sees every file created from then on
    (listed, or reported by the new watch)."""

    def __init__(self, folders: FolderWatcher, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._folder_watcher = folders

    def process(self, events: Iterable[RawEvent], now: float) -> list[WatchEvent]:
        out = super().process(events, now)
        for event in out:
            if isinstance(event, Path):
                self._folder_watcher.arm(event)
        return out


async def _run_with_folders(
    libc: Libc,
    fd: int,
    paths: list[Path],
    folders: list[Folder],
    send: trio.MemorySendChannel[WatchEvent],
    poller: Poller,
    folder_poller: FolderPoller,
    fallback: Fallback,
    lend: Lend | None,
    task_status: trio.TaskStatus[str],
) -> None:
    """Files and folders: the file watcher watches the files and the folders' own paths, a
    FolderWatcher (on a second descriptor) what is in the folders."""
    by_path = {f.path: f for f in folders}
    started = False

    def to_poller(folder: Folder, exc: Unwatchable) -> None:
        fallback.unwatchable(folder.path, exc)
        folder_poller.add_sync(folder, report=started)

    try:
        folder_fd = libc.inotify_init()
    except OSError as exc:
        fallback.unavailable(exc, [f.path for f in folders])
        for folder in folders:
            folder_poller.add_sync(folder, report=started)
        folder_fd = None
    try:
        watcher = FolderWatcher(
            libc,
            folder_fd if folder_fd is not None else -1,
            folders if folder_fd is not None else [],
            to_poller,
            check_remote=fallback.check_remote,
        )

        def on_unwatchable(path: Path, exc: Unwatchable, running: bool) -> None:
            if path in by_path:
                # The folder's parent cannot be watched: the folder itself is polled then.
                watcher.forget(path)
                to_poller(by_path[path], exc)
                return
            fallback.unwatchable(path, exc)
            poller.add(path, report=running)

        files = _Rearming(
            watcher,
            libc,
            fd,
            [*paths, *by_path],
            on_unwatchable,
            check_remote=fallback.check_remote,
        )
        files.install()
        watcher.install()
        started = True
        async with trio.open_nursery() as nursery:
            nursery.start_soon(files.run, send, lend)
            if folder_fd is not None:
                nursery.start_soon(watcher.run, send)
            nursery.start_soon(poller.run)
            nursery.start_soon(folder_poller.run)
            polled = poller.paths or folder_poller.folders
            task_status.started("inotify+poll" if polled else "inotify")
    finally:
        if folder_fd is not None:
            trio.lowlevel.notify_closing(folder_fd)
            os.close(folder_fd)
