"""``FileGuard``: locks and timeouts around changes to configuration files, the Trio way.

What a guarded operation holds, taken in this order and released in reverse:

1. a slot of the guard's ``trio.CapacityLimiter`` (``max_concurrent`` operations at once);
2. the path's in-process lock: exclusive, or shared with other shared holders. Writers are
   preferred: a waiting exclusive holder keeps new shared holders out, so readers cannot starve
   it. The entry is dropped from the guard's table when no task uses or awaits it;
3. a cross-process advisory lock, ``flock`` on a sidecar file ``.<name>.lock`` next to the file.
   A sidecar because ``flock`` locks an inode and an atomic save replaces the file's inode: a
   writer and a reader locking the file itself would lock different inodes. ``flock`` is taken
   with ``LOCK_NB`` and retried on a short backoff with ``trio.sleep``, so a wait never blocks
   the event loop. Where the directory is read-only (a Kubernetes ConfigMap mount: EROFS, or
   EACCES for an unprivileged process) the sidecar cannot exist and nobody there writes
   cooperatively: the cross-process lock is skipped (``statistics().unlocked`` counts it) and
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

Paths are resolved (symlinks followed) before locking, so two names for one file share one
lock, and writes through a symlink replace its target, keeping the link. Readers that are not
writers never create sidecar files: they lock only a sidecar that a writer already created,
in one of three ways. The reloader waits for it (:func:`shared_lock_if_present`);
``trioconf.load()`` and ``trioconf check``, which have no event loop, wait with ``time.sleep``
(:func:`shared_lock_if_present_sync`); the poller, whose rounds must not stall, only tries
(:func:`shared_lock_nowait`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import attrs
import trio

from ._errors import ConcurrentModification, LockTimeout, MissingSourceError, OperationTimeout
from ._read import DEFAULT_MAX_SIZE, read_consistent
from ._write import replace_atomically

StrPath = str | os.PathLike[str]

# Backoff between non-blocking flock attempts: quick to notice a short hold, then a few
# wake-ups a second per waiter at most.
_FLOCK_FIRST_DELAY = 0.001
_FLOCK_MAX_DELAY = 0.02
# The sidecar cannot be created here: a read-only filesystem or a directory we may not write.
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


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


Fingerprint = tuple[int, int, int, int, int] | None


def fingerprint(path: str) -> Fingerprint:
    """What identifies a version of the file without reading it; ``None`` when it is absent."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _fingerprint_of(st: os.stat_result) -> Fingerprint:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def lock_path_for(path: StrPath) -> Path:
    """The sidecar lock file of ``path``: ``.<name>.lock`` beside the resolved file."""
    return Path(_sidecar_beside(_resolve(os.fspath(path))))


def has_sidecar(real: str) -> bool:
    """Whether a sidecar lock file stands beside the resolved file ``real``: a cooperating
    writer created it, so readers must take its shared lock (see ``shared_lock_if_present``)."""
    try:
        os.lstat(_sidecar_beside(real))
    except OSError:
        return False
    return True


def _sidecar_beside(real: str) -> str:
    directory, name = os.path.split(real)
    return os.path.join(directory, f".{name}.lock")


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
        self._expected = fingerprint(target)

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
        self._expected = _fingerprint_of(await replace_atomically(self.target, raw))

    def mark_written(self) -> None:
        """Declare that the block changed the file itself (an in-place write): its state now
        is this operation's own, not a concurrent modification."""
        self._expected = fingerprint(self.target)

    def _check(self) -> None:
        # on_conflict is None when the guard does not detect changes.
        if self._on_conflict is not None and fingerprint(self.target) != self._expected:
            self._on_conflict()
            raise ConcurrentModification(self.path)


@attrs.define(eq=False)
class _PathLock:
    """One path's in-process lock: exclusive holders own ``writer``; shared holders pass
    through it (so a waiting writer blocks new readers) and are counted in ``readers``."""

    writer: trio.Lock = attrs.Factory(trio.Lock)
    readers: int = 0
    drained: trio.Event = attrs.Factory(trio.Event)
    users: int = 0  # tasks holding or awaiting this entry; the entry is dropped at zero

    def __attrs_post_init__(self) -> None:
        self.drained.set()

    def holder(self) -> str | None:
        owner = self.writer.statistics().owner
        if owner is not None:
            return f"task {owner.name!r} in this process"
        if self.readers:
            return f"{self.readers} shared holder(s) in this process"
        return None


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
        self._locks: dict[str, _PathLock] = {}
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
        target = _resolve(path)
        entry = self._locks.setdefault(target, _PathLock())
        entry.users += 1
        try:
            async with contextlib.AsyncExitStack() as stack:
                lock_path = await self._acquire(stack, path, target, entry, exclusive)
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
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[target]

    async def _acquire(
        self,
        stack: contextlib.AsyncExitStack,
        path: str,
        target: str,
        entry: _PathLock,
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
                    await entry.writer.acquire()
                    stack.callback(entry.writer.release)
                    await entry.drained.wait()
                else:
                    async with entry.writer:
                        if entry.readers == 0:
                            entry.drained = trio.Event()
                        entry.readers += 1
                    stack.callback(_leave_shared, entry)
                stage = "file"
                lock_path = str(lock_path_for(target))
                lock_fd = _open_sidecar(lock_path, create=True)
                if lock_fd is None:
                    self._unlocked += 1
                    return None
                stack.callback(os.close, lock_fd)
                await _flock(lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                return lock_path
        except trio.TooSlowError:
            self._lock_timeouts += 1
            holder: str | None
            if stage == "slot":
                holder = f"the guard's {self._limiter.total_tokens} operation slots (all busy)"
            elif stage == "path":
                holder = entry.holder()
            else:
                holder = _flock_holder(lock_fd)
            raise LockTimeout(path, self.lock_timeout, holder) from None
        finally:
            self._waiting -= 1


def _leave_shared(entry: _PathLock) -> None:
    entry.readers -= 1
    if entry.readers == 0:
        entry.drained.set()


async def write_atomic(path: StrPath, data: bytes | str, *, guard: FileGuard | None = None) -> None:
    """Replace a file's content atomically, under the exclusive lock.

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


@contextlib.asynccontextmanager
async def shared_lock_if_present(path: StrPath, lock_timeout: float) -> AsyncIterator[None]:
    """Hold the shared ``flock`` of ``path``'s sidecar, if a writer created one.

    For readers that are not writers (the reloader): they never create a sidecar, so a plain
    directory or a read-only mount gets no lock files from them, and a missing or unopenable
    sidecar means reading unlocked, as before any writer cooperated. Raises
    :class:`LockTimeout` when an exclusive holder keeps the lock past ``lock_timeout``.
    """
    fd = _reader_sidecar(path)
    if fd is None:
        # No checkpoint: this runs before every read of the reload's hot path, and the
        # caller's own work decides when to yield (a task switch costs more than the probe).
        yield
        return
    try:
        try:
            with trio.fail_after(lock_timeout):
                await _flock(fd, fcntl.LOCK_SH)
        except trio.TooSlowError:
            raise LockTimeout(os.fspath(path), lock_timeout, _flock_holder(fd)) from None
        yield
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def shared_lock_if_present_sync(path: StrPath, lock_timeout: float) -> Iterator[None]:
    """:func:`shared_lock_if_present` for synchronous readers (``trioconf.load()``,
    ``trioconf check``): the same ``LOCK_NB`` attempts, on a ``time.sleep`` backoff, until
    ``lock_timeout`` has passed. It blocks its thread, so async code must not call it."""
    fd = _reader_sidecar(path)
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + lock_timeout
        delay = _FLOCK_FIRST_DELAY
        while not _flock_nowait(fd, fcntl.LOCK_SH):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(os.fspath(path), lock_timeout, _flock_holder(fd))
            time.sleep(min(delay, left))
            delay = min(delay * 2, _FLOCK_MAX_DELAY)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def shared_lock_nowait(path: StrPath) -> Iterator[bool]:
    """Hold the shared lock of ``path``'s sidecar if it is free now, waiting for nothing.

    Yields False when a cooperating writer holds it (the file is being written), else True:
    the lock is held for the block, or there is no sidecar to lock. For the poller, whose
    rounds must not stall on one file: a writer at work is a change it reports, not a wait.
    """
    fd = _reader_sidecar(path)
    if fd is None:
        yield True
        return
    try:
        yield _flock_nowait(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def _reader_sidecar(path: StrPath) -> int | None:
    """The sidecar of ``path`` opened for a reader that never creates one; None: no lock."""
    try:
        return _open_sidecar(str(lock_path_for(path)), create=False)
    except OSError:
        # Whatever is wrong on the way (a directory gone, a symlinked sidecar) is the read's
        # to report, with the file's name; no lock is what there was before writers cooperated.
        return None


def _resolve(path: str) -> str:
    # A few lstat calls: cheaper than a thread hop. Not on the reload's hot path: the loader
    # reads first and looks for the sidecar beside the file its descriptor names.
    return os.path.realpath(path)


def _open_sidecar(lock_path: str, *, create: bool) -> int | None:
    """Open (or create) the sidecar; ``None`` where it cannot be had (see the module doc)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    if create:
        try:
            fd = os.open(lock_path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in _READ_ONLY_ERRNOS:
                raise
            # A read-only directory may still hold a sidecar created before: use it below.
        else:
            # Readers under other uids must be able to open it whatever our umask is.
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o644)
            return fd
    try:
        return os.open(lock_path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT or exc.errno in _READ_ONLY_ERRNOS:
            return None
        raise


async def _flock(fd: int, operation: int) -> None:
    """``flock`` without blocking the event loop: LOCK_NB attempts on a backoff."""
    delay = _FLOCK_FIRST_DELAY
    while not _flock_nowait(fd, operation):
        await trio.sleep(delay)
        delay = min(delay * 2, _FLOCK_MAX_DELAY)
    await trio.lowlevel.checkpoint()


def _flock_nowait(fd: int, operation: int) -> bool:
    """One ``LOCK_NB`` attempt: whether the lock was granted."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _flock_holder(fd: int | None) -> str | None:
    """Who holds a flock on the file open at ``fd``, from ``/proc/locks`` (Linux only)."""
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders: list[str] = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:00:5678 0 EOF"; waiters' lines carry "->".
        if len(fields) < 6 or "->" in fields[1] or fields[1] != "FLOCK" or fields[5] != inode:
            continue
        pid = int(fields[4])
        if pid == os.getpid():
            holders.append("this process (another open of the lock file)")
        else:
            holders.append(f"pid {pid}{_command(pid)}")
    return ", ".join(holders) or None


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f" ({f.read().strip()})"
    except OSError:
        return ""
