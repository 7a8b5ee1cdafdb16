"""``FileGuard``: locks and timeouts around changes to configuration files, the Trio way.

What a guarded operation holds, taken in this order and released in reverse:

1. a slot of the guard's ``trio.CapacityLimiter`` (``max_concurrent`` operations at once);
2. the path's in-process readers/writer lock (``_rwlock``): exclusive, or shared with other
   shared holders, a waiting writer first. The guard's table drops a path's lock when no task
   holds or awaits it;
3. the cross-process advisory lock: ``flock`` on the sidecar file ``.<name>.lock`` next to
   the file (the protocol is in ``_sidecar``). Where the directory is read-only the sidecar
   cannot exist: the cross-process lock is skipped (``statistics().unlocked`` counts it) and
   the in-process lock still holds.

Steps 1–3 together are bounded by ``lock_timeout``, the body by ``operation_timeout``; both
are cancel scopes, and running out raises :class:`LockTimeout` or :class:`OperationTimeout`
(ConfigErrors naming the path) instead of hanging. A lock timeout names the holder when it
can tell: a task of this process, or the pid ``/proc/locks`` gives for the sidecar's ``flock``.

An exclusive operation also notices a writer that ignores the lock: the file's stat
fingerprint (device, inode, size, mtime, ctime) is taken once the locks are held and compared
before each :meth:`LockedFile.write` (the write is refused, so a concurrent change is never
silently overwritten) and when the block ends; the operation's own writes move the expected
fingerprint. A mismatch raises :class:`ConcurrentModification`. Timestamps have the
filesystem's granularity (a few milliseconds on ext4): two same-sized external writes within
one tick of our fingerprint can go unseen. Cooperating writers should all take the lock.

Windows has no ``flock``: there ``FileGuard()`` (and so ``write_atomic``) raises
``NotImplementedError`` saying why (``_NO_FLOCK``), rather than lock with ``msvcrt.locking``,
whose locks mean something else.

Paths are resolved (symlinks followed) before locking, so two names for one file share one
lock, and writes through a symlink replace its target, keeping the link. Readers that are not
writers take the sidecar's shared lock with ``_sidecar``'s own helpers, never through a guard.

:func:`write_atomic` is the one-call form of ``guard.exclusive(path)`` plus a write. It lives
here, not in ``_write``: that module holds the lock-free replace the guard is built on, and
cannot import the guard that imports it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import attrs
import trio

from ._errors import ConcurrentModification, LockTimeout, MissingSourceError, OperationTimeout
from ._read import DEFAULT_MAX_SIZE, read_consistent
from ._rwlock import LockTable, ReadWriteLock, ReadWriteLockStatistics
from ._sidecar import (
    LOCKING,
    StrPath,
    flock,
    flock_holder,
    lock_operation,
    lock_path_for,
    open_sidecar,
    resolve,
)
from ._write import replace_atomically

# Why Windows gets a refusal rather than msvcrt.locking (docs/backends.rst says it too).
_NO_FLOCK = (
    "FileGuard and write_atomic need flock(), which this system does not have (Windows): "
    "msvcrt.locking has no shared lock and its byte-range locks are mandatory, and a file "
    "that another process holds open cannot be renamed over there, so the guard's promises "
    "(readers share, writers replace atomically under them) cannot be kept"
)


@attrs.frozen
class GuardStatistics:
    """A snapshot of a :class:`FileGuard`'s state and counters (``guard.statistics()``).

    - ``max_concurrent``: the limit on operations holding a slot at once;
    - ``active``: operations holding a slot now (running, or awaiting a path's lock);
    - ``peak_active``: the most ``active`` ever was;
    - ``waiting``: operations still acquiring their slot and locks;
    - ``operations``: operations that acquired their locks (counted when the body starts);
    - ``lock_timeouts``, ``operation_timeouts``, ``conflicts``: operations that ended in
      :class:`LockTimeout`, :class:`OperationTimeout`, :class:`ConcurrentModification`;
    - ``unlocked``: operations that ran without the cross-process lock (read-only directory);
    - ``paths``: paths with a lock entry now (entries are dropped when unused).
    """

    max_concurrent: int
    active: int
    peak_active: int
    waiting: int
    operations: int
    lock_timeouts: int
    operation_timeouts: int
    conflicts: int
    unlocked: int
    paths: int


@attrs.frozen
class Fingerprint:
    """What identifies a version of a file without reading it: two stats of one unchanged file
    compare equal, and a rename save or a write in place changes at least one field."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Fingerprint:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def fingerprint(path: str) -> Fingerprint | None:
    """The fingerprint of the file at ``path``; ``None`` when it is absent."""
    try:
        return Fingerprint.of(os.stat(path))
    except FileNotFoundError:
        return None


class LockedFile:
    """The file an operation holds the lock on: what ``exclusive()`` and ``shared()`` yield.

    ``path`` is the path as given, ``target`` the resolved file that is read and written,
    ``lock_path`` the sidecar that carries the cross-process lock (``None`` when it was
    skipped, in a read-only directory).
    """

    def __init__(
        self,
        path: str,
        target: str,
        lock_path: str | None,
        exclusive: bool,
        on_conflict: Callable[[], None] | None,
    ) -> None:
        self.path = path
        self.target = target
        self.lock_path = lock_path
        self.exclusive = exclusive
        self._on_conflict = on_conflict
        self._expected: Fingerprint | None = fingerprint(target)

    async def read(self, max_size: int = DEFAULT_MAX_SIZE) -> bytes | None:
        """The file's bytes, ``None`` when it does not exist; ``SourceError`` if unreadable.

        Read inline: a configuration file is small, and a thread hop costs more than the read.
        """
        await trio.lowlevel.checkpoint()
        try:
            return read_consistent(Path(self.target), max_size).raw
        except MissingSourceError:
            return None

    async def write(self, data: bytes | str) -> None:
        """Replace the file atomically (see :func:`write_atomic`); exclusive holders only.

        Refused with :class:`ConcurrentModification` when the file changed since the lock was
        taken (or since this operation's last write) without going through the lock.
        """
        if not self.exclusive:
            msg = "write() needs the exclusive lock: use guard.exclusive(path)"
            raise RuntimeError(msg)
        raw = data.encode() if isinstance(data, str) else data
        self._check()
        self._expected = Fingerprint.of(await replace_atomically(self.target, raw))

    def mark_written(self) -> None:
        """Declare that the block changed the file itself (an in-place write): its state now
        is this operation's own, not a concurrent modification."""
        self._expected = fingerprint(self.target)

    def _check(self) -> None:
        # on_conflict is None when the guard does not detect changes.
        if self._on_conflict is not None and fingerprint(self.target) != self._expected:
            self._on_conflict()
            raise ConcurrentModification(self.path)


class FileGuard:
    """Serialise changes to configuration files across tasks and processes.

    ::

        guard = trioconf.FileGuard(max_concurrent=4, lock_timeout=5, operation_timeout=30)

        # read-modify-write: fn gets the bytes (None if absent), returns new bytes or None
        await guard.run(path, lambda old: bump_version(old))

        async with guard.exclusive(path) as f:      # a longer critical section
            data = await f.read()
            await f.write(transform(data))

        async with guard.shared(path) as f:         # readers exclude writers, not each other
            data = await f.read()

    ``lock_timeout`` bounds the wait for a slot and the locks, ``operation_timeout`` the block
    (``math.inf`` disables either). ``detect_changes`` enables the check for writers that
    ignore the lock (:class:`ConcurrentModification`). Share one guard between the tasks of
    a process; other processes cooperate through the sidecar lock file.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = 16,
        lock_timeout: float = 10.0,
        operation_timeout: float = 60.0,
        detect_changes: bool = True,
    ) -> None:
        if not LOCKING:
            raise NotImplementedError(_NO_FLOCK)
        if max_concurrent < 1:
            msg = f"max_concurrent must be at least 1, not {max_concurrent}"
            raise ValueError(msg)
        if not (lock_timeout > 0 and operation_timeout > 0):
            msg = f"timeouts must be positive, got {lock_timeout} and {operation_timeout}"
            raise ValueError(msg)
        self.lock_timeout = lock_timeout
        self.operation_timeout = operation_timeout
        self.detect_changes = detect_changes
        self._limiter = trio.CapacityLimiter(max_concurrent)
        self._locks = LockTable()
        self._waiting = 0
        self._peak = 0
        self._operations = 0
        self._lock_timeouts = 0
        self._operation_timeouts = 0
        self._conflicts = 0
        self._unlocked = 0

    def statistics(self) -> GuardStatistics:
        active = self._limiter.borrowed_tokens
        return GuardStatistics(
            max_concurrent=int(self._limiter.total_tokens),
            active=active,
            peak_active=self._peak,
            waiting=self._waiting,
            operations=self._operations,
            lock_timeouts=self._lock_timeouts,
            operation_timeouts=self._operation_timeouts,
            conflicts=self._conflicts,
            unlocked=self._unlocked,
            paths=len(self._locks),
        )

    def _count_conflict(self) -> None:
        self._conflicts += 1

    def exclusive(self, path: StrPath) -> contextlib.AbstractAsyncContextManager[LockedFile]:
        """Hold ``path`` alone (against this guard's tasks and cooperating processes)."""
        return self._hold(os.fspath(path), exclusive=True)

    def shared(self, path: StrPath) -> contextlib.AbstractAsyncContextManager[LockedFile]:
        """Hold ``path`` against writers; other shared holders run alongside."""
        return self._hold(os.fspath(path), exclusive=False)

    async def run(
        self, path: StrPath, fn: Callable[[bytes | None], bytes | str | None]
    ) -> bytes | None:
        """Read-modify-write ``path`` under the exclusive lock; return the bytes written.

        ``fn`` receives the current bytes (``None`` when the file does not exist) and returns
        the new content, or ``None`` to leave the file as it is. It runs inline, in this task:
        it is a transformation of a small document in memory, where a thread hop would cost
        more than the work and could not be cancelled anyway. The guard does the I/O: the
        read, and the atomic write (whose ``fsync`` runs in a thread).
        """
        async with self.exclusive(path) as f:
            old = await f.read()
            new = fn(old)
            if new is None:
                return None
            raw = new.encode() if isinstance(new, str) else new
            if raw != old:
                await f.write(raw)
            return raw

    @contextlib.asynccontextmanager
    async def _hold(self, path: str, *, exclusive: bool) -> AsyncIterator[LockedFile]:
        target = resolve(path)
        with self._locks.use(target) as lock:
            async with contextlib.AsyncExitStack() as stack:
                lock_path = await self._acquire(stack, path, target, lock, exclusive)
                self._operations += 1
                detect = self._count_conflict if self.detect_changes else None
                locked = LockedFile(path, target, lock_path, exclusive, detect)
                with trio.move_on_after(self.operation_timeout) as scope:
                    yield locked
                if scope.cancelled_caught:
                    self._operation_timeouts += 1
                    raise OperationTimeout(path, self.operation_timeout)
                if exclusive:
                    locked._check()

    async def _acquire(
        self,
        stack: contextlib.AsyncExitStack,
        path: str,
        target: str,
        lock: ReadWriteLock,
        exclusive: bool,
    ) -> str | None:
        """Take the slot, the path lock and the sidecar lock (released by ``stack``)."""
        token = object()  # borrower: one task may hold several paths at once
        lock_fd: int | None = None
        stage = "slot"
        self._waiting += 1
        try:
            with trio.fail_after(self.lock_timeout):
                await self._limiter.acquire_on_behalf_of(token)
                stack.callback(self._limiter.release_on_behalf_of, token)
                self._peak = max(self._peak, self._limiter.borrowed_tokens)
                stage = "path"
                if exclusive:
                    await lock.acquire()
                    stack.callback(lock.release)
                else:
                    await lock.acquire_shared()
                    stack.callback(lock.release_shared)
                stage = "file"
                lock_path = str(lock_path_for(target))
                lock_fd = open_sidecar(lock_path, create=True)
                if lock_fd is None:
                    self._unlocked += 1
                    return None
                stack.callback(os.close, lock_fd)
                await flock(lock_fd, lock_operation(exclusive=exclusive))
                return lock_path
        except trio.TooSlowError:
            self._lock_timeouts += 1
            holder: str | None
            if stage == "slot":
                holder = f"the guard's {self._limiter.total_tokens} operation slots (all busy)"
            elif stage == "path":
                holder = _in_process_holder(lock.statistics())
            else:
                holder = flock_holder(lock_fd)
            raise LockTimeout(path, self.lock_timeout, holder) from None
        finally:
            self._waiting -= 1


def _in_process_holder(stats: ReadWriteLockStatistics) -> str | None:
    """Who keeps a path's in-process lock, for a :class:`LockTimeout`."""
    if stats.owner is not None:
        return f"task {stats.owner.name!r} in this process"
    if stats.readers:
        return f"{stats.readers} shared holder(s) in this process"
    return None


async def write_atomic(path: StrPath, data: bytes | str, *, guard: FileGuard | None = None) -> None:
    """Replace a file's content atomically, under the exclusive lock: ``await
    trioconf.write_atomic(path, text)``, from a Trio task.

    A temp file in the same directory (``.<name>.<random>.tmp``, never read by the watcher) is
    written, given the old file's mode, fsynced and renamed over the path; then the directory
    is fsynced. Readers see the old content or the new, never a mix; on an error or a
    cancellation before the rename the temp file is removed and the old content stays. A
    symlink is kept and its target replaced. ``str`` data is written as UTF-8.

    Without ``guard`` a private guard is used for this one call: the sidecar ``flock`` still
    excludes every cooperating writer, in this process too (``flock`` locks belong to an open
    file, not to a process). Pass a shared guard for in-process queueing, timeouts of your
    choice and statistics.
    """
    guard = FileGuard() if guard is None else guard
    async with guard.exclusive(path) as f:
        await f.write(data)
