"""One inotify descriptor as both inotify watchers use it: watches, reads, the report loop.

The file watcher (``_inotify``) and the folder watcher (``_folders``) each own a descriptor
and differ only in what an event means to them. What does not depend on that lives here, once:
adding a watch (refusing a remote filesystem first, telling "gone meanwhile" from "cannot"),
removing one, reading and decoding the queue, and the loop that waits for events or for the
next held path's deadline and sends what the watcher made of them.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import struct
import sys
from collections.abc import Callable
from typing import NamedTuple

import trio

from ._events import RESCAN, WatchEvent
from ._held import Held
from ._lend import Lend
from ._libc import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_EXCL_UNLINK,
    IN_IGNORED,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_UNMOUNT,
    REMOTE_FS_TYPES,
    Libc,
)

WATCH_MASK = (
    IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_ATTRIB
    | IN_MODIFY
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    # Only directories: a watch is always on a directory, its entries are what we follow.
    | IN_ONLYDIR
    # An unlinked file that is still open (an atomic writer's abandoned temp) stays silent.
    | IN_EXCL_UNLINK
)
# The watched directory itself is gone or moved: its watch no longer means its path.
SELF_MASK = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT
# Replaced since it was resolved: the next resolution (or the file watcher) sees what is there.
GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})

_READ_SIZE = 64 * 1024
_MAX_READS_PER_WAKEUP = 16  # then yield to the loop; wait_readable returns at once if more

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_HEADER_SIZE = _HEADER.size
_MAX_EVENT_SIZE = _HEADER_SIZE + 256  # NAME_MAX + 1, the name's padded maximum


class RawEvent(NamedTuple):
    """One decoded ``struct inotify_event``; ``name`` is empty for events on the directory.

    A named tuple, not a frozen attrs class: two or three are built on every save's path, and
    a tuple is built in one step where a frozen class sets each field through ``object``."""

    wd: int
    mask: int
    cookie: int
    name: str


_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


def decode_events(buf: bytes) -> list[RawEvent]:
    """Decode a buffer returned by ``read`` on an inotify descriptor."""
    events = []
    offset = 0
    end = len(buf)
    unpack = _HEADER.unpack_from
    while offset + _HEADER_SIZE <= end:
        wd, mask, cookie, length = unpack(buf, offset)
        offset += _HEADER_SIZE
        # The name is NUL-padded to an alignment boundary; what os.fsdecode does, inline.
        name = buf[offset : offset + length].rstrip(b"\0").decode(_FS_ENCODING, _FS_ERRORS)
        offset += length
        events.append(RawEvent(wd, mask, cookie, name))
    return events


def overflowed(held: Held) -> list[WatchEvent]:
    """What to send when the queue overflowed: events were lost, so everything is re-read.

    The paths held stay held (the rescan waits for their writers); a writer that started among
    the lost events cannot be known: a documented limit.
    """
    return [*held.announce({}), RESCAN]


class Unwatchable(Exception):
    """inotify cannot serve this path: its ``errno`` and a sentence saying why."""

    def __init__(self, err: int, reason: str) -> None:
        super().__init__(reason)
        self.errno = err
        self.reason = reason


Process = Callable[[list[RawEvent], float], list[WatchEvent]]


class Descriptor:
    """An inotify descriptor (which the caller owns) and the system calls made on it.

    With ``check_remote``, a directory on a remote filesystem is refused before it is watched.
    ``names_dir`` says whether a refusal's reason names the directory (the folder watcher's
    reasons are prefixed with the folder's path by whoever reports them).
    """

    def __init__(self, libc: Libc, fd: int, *, check_remote: bool, names_dir: bool) -> None:
        self._libc = libc
        self._fd = fd
        self._check_remote = check_remote
        self._names_dir = names_dir

    def watch(self, d: str, mask: int, *, absent: frozenset[int] = GONE) -> int | None:
        """Watch directory ``d``: its descriptor, ``None`` if an ``absent`` errno says it is
        not there (now), or ``Unwatchable`` when inotify cannot serve it."""
        if self._check_remote:
            self._refuse_remote(d)
        try:
            return self._libc.add_watch(self._fd, d, mask)
        except OSError as exc:
            if exc.errno in absent:
                return None
            why = (
                "inotify watch limit reached (fs.inotify.max_user_watches)"
                if exc.errno == errno.ENOSPC
                else exc.strerror
            )
            where = f" {d}" if self._names_dir else ""
            raise Unwatchable(exc.errno or errno.EIO, f"cannot watch{where}: {why}") from exc

    def unwatch(self, wd: int) -> None:
        """Remove a watch; the kernel may have dropped it already (directory deleted)."""
        with contextlib.suppress(OSError):
            self._libc.rm_watch(self._fd, wd)

    def _refuse_remote(self, d: str) -> None:
        try:
            fs_type = self._libc.fs_type(d)
        except OSError:
            return  # gone (resolution retries) or unknown: let add_watch decide
        fs_name = REMOTE_FS_TYPES.get(fs_type)
        if fs_name is not None:
            msg = f"{d} is on a {fs_name} filesystem, where inotify misses other machines' writes"
            raise Unwatchable(errno.EREMOTE, msg)

    def read(self) -> list[RawEvent]:
        """Every event queued now (up to a bound, so that a flood does not hold the loop)."""
        chunks = []
        for _ in range(_MAX_READS_PER_WAKEUP):
            try:
                chunk = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) <= _READ_SIZE - _MAX_EVENT_SIZE:
                # The kernel fills the buffer with whole events while it has them: a read
                # with room left for another one drained the queue. Not trying again spares
                # a failing read (and its exception) on every wake-up.
                break
        return decode_events(b"".join(chunks))

    async def pump(
        self,
        process: Process,
        held: Held,
        send: trio.MemorySendChannel[WatchEvent],
        lend: Lend | None = None,
    ) -> None:
        """Until cancelled: wait for events (or the next held path's deadline), send what
        ``process`` makes of them and the held paths that are due. With ``lend``, the waiting
        and the reading are lent to the consumer instead (``_lend``), until cancelled."""
        pump = _BoundPump(self, process, held)
        if lend is not None:
            with lend.lent(pump):
                await trio.sleep_forever()
        while True:
            deadline = held.deadline()
            if deadline < math.inf:
                with trio.move_on_at(deadline):
                    await trio.lowlevel.wait_readable(self._fd)
            else:  # the usual case, on every save's path: no cancel scope to set up
                await trio.lowlevel.wait_readable(self._fd)
            for event in pump.events(trio.current_time()):
                # The channel has room almost always: sending without the checkpoint of
                # ``send()`` saves a trip through the scheduler on every save's path.
                try:
                    send.send_nowait(event)
                except trio.WouldBlock:
                    await send.send(event)


class _BoundPump:
    """A descriptor's wake-up as a ``_lend.Pump``: read, process, expire what is due."""

    __slots__ = ("_descriptor", "_held", "_process")

    def __init__(self, descriptor: Descriptor, process: Process, held: Held) -> None:
        self._descriptor = descriptor
        self._process = process
        self._held = held

    @property
    def fd(self) -> int:
        return self._descriptor._fd

    def deadline(self) -> float:
        return self._held.deadline()

    def events(self, now: float) -> list[WatchEvent]:
        out = self._process(self._descriptor.read(), now)
        out.extend(self._held.expire(now))
        return out
