"""``run_watcher``: picks the backend per path, installs every watch, then reports until cancelled.

``"auto"`` prefers inotify and falls back to polling, loudly (a warning on the ``trioconf``
logger), where inotify cannot be trusted: no inotify instance (``EMFILE``: the per-user instance
limit; ``ENOSYS``), the watch limit reached for some directory (``ENOSPC``: only the paths that
need it are polled), or a directory on a filesystem whose remote writes inotify never sees (NFS,
CIFS, FUSE, ...: decided by ``statfs``). Off Linux, ``"auto"`` polls.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import trio

from ._events import WatchEvent
from ._inotify import InotifyWatcher, Unwatchable
from ._libc import Libc
from ._poll import Poller

logger = logging.getLogger("trioconf")

Backend = Literal["auto", "inotify", "poll"]


async def run_watcher(
    paths: Sequence[Path],
    send: trio.MemorySendChannel[WatchEvent],
    *,
    backend: Backend = "auto",
    poll_interval: float = 1.0,
    libc: Libc | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Report configured paths that may have changed (or ``RESCAN``) on ``send`` until cancelled.

    Call it as ``name = await nursery.start(run_watcher, paths, send)``: ``start`` returns once
    every watch is installed, so nothing written afterwards is missed, with the backend's name:
    ``"inotify"``, ``"poll"`` or ``"inotify+poll"`` (some paths polled). Paths are sent as
    given (the same objects), never their contents.

    ``backend="inotify"`` raises ``OSError`` when inotify is unavailable or cannot watch a
    directory (at start, or later when a path moves to a new directory). ``libc`` replaces the
    system-call wrapper (tests use it to make the kernel refuse a call); the default is real.
    """
    if backend not in ("auto", "inotify", "poll"):
        msg = f"backend must be 'auto', 'inotify' or 'poll', not {backend!r}"
        raise ValueError(msg)
    poller = Poller(send, poll_interval)
    unique = list(dict.fromkeys(paths))
    if backend == "poll" or (backend == "auto" and not sys.platform.startswith("linux")):
        await _run_poll(poller, unique, task_status)
        return
    try:
        libc = libc or Libc()
        fd = libc.inotify_init()
    except OSError as exc:
        if backend == "inotify":
            raise
        logger.warning("inotify unavailable (%s): polling every %g s instead", exc, poll_interval)
        await _run_poll(poller, unique, task_status)
        return
    try:
        await _run_inotify(libc, fd, unique, send, poller, backend, poll_interval, task_status)
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)


async def _run_poll(poller: Poller, paths: list[Path], task_status: trio.TaskStatus[str]) -> None:
    poller.add_all(paths)  # fingerprints taken now: a change after started() is a change
    task_status.started("poll")
    await poller.run()


async def _run_inotify(
    libc: Libc,
    fd: int,
    paths: list[Path],
    send: trio.MemorySendChannel[WatchEvent],
    poller: Poller,
    backend: Backend,
    poll_interval: float,
    task_status: trio.TaskStatus[str],
) -> None:
    def on_unwatchable(path: Path, exc: Unwatchable, started: bool) -> None:
        if backend == "inotify":
            raise OSError(exc.errno, f"{path}: {exc.reason}") from exc
        logger.warning("%s: %s; polling it every %g s instead", path, exc.reason, poll_interval)
        # Once running, the change that moved the path may itself be what inotify missed.
        poller.add(path, report=started)

    watcher = InotifyWatcher(libc, fd, paths, on_unwatchable, check_remote=backend == "auto")
    watcher.install()
    if backend == "inotify":
        task_status.started("inotify")
        await watcher.run(send)
        return
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watcher.run, send)
        nursery.start_soon(poller.run)
        task_status.started("inotify+poll" if poller.paths else "inotify")
