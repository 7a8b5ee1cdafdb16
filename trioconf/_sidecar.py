"""The sidecar lock protocol that cooperating writers and readers of a file share.

Every party locks ``.<name>.lock`` beside the resolved file with ``flock``: exclusive for a
writer, shared for a reader. A sidecar because ``flock`` locks an inode and an atomic save
replaces the file's inode: a writer and a reader locking the file itself would lock different
inodes. ``flock`` is taken with ``LOCK_NB`` and retried on a short backoff, so a wait never
blocks the event loop (:func:`flock`) or, for synchronous readers, waits with ``time.sleep``.

Writers create the sidecar (:func:`open_sidecar` with ``create=True``). Where the directory
is read-only (a Kubernetes ConfigMap mount: EROFS, or EACCES for an unprivileged process) it
cannot exist and nobody there writes cooperatively: the cross-process lock is skipped.

Readers that are not writers never create sidecar files: they lock only a sidecar that a
writer already created, in one of three ways. The reloader waits for it
(:func:`shared_lock_if_present`); ``trioconf.load()`` and ``trioconf check``, which have no
event loop, wait with ``time.sleep`` (:func:`shared_lock_if_present_sync`); the poller, whose
rounds must not stall, only tries (:func:`shared_lock_nowait`).

A wait that runs out names the holder when ``/proc/locks`` can tell (:func:`flock_holder`).

Windows has no ``flock`` (``LOCKING`` is False there): readers never lock, as where no writer
cooperates, and ``FileGuard`` refuses to start (``_guard`` says why).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import trio

from ._errors import LockTimeout

try:
    import fcntl
except ImportError:  # Windows
    LOCKING = False
else:
    LOCKING = True

StrPath = str | os.PathLike[str]

# Backoff between non-blocking flock attempts: quick to notice a short hold, then a few
# wake-ups a second per waiter at most.
_FLOCK_FIRST_DELAY = 0.001
_FLOCK_MAX_DELAY = 0.02
# The sidecar cannot be created here: a read-only filesystem or a directory we may not write.
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def lock_path_for(path: StrPath) -> Path:
    """The sidecar lock file of ``path``: ``.<name>.lock`` beside the resolved file."""
    return Path(_sidecar_beside(resolve(os.fspath(path))))


def has_sidecar(real: str) -> bool:
    """Whether a sidecar lock file stands beside the resolved file ``real``: a cooperating
    writer created it, so readers must take its shared lock (see ``shared_lock_if_present``)."""
    if not LOCKING:
        return False  # nobody can lock here (and access() cannot skip symlinks on Windows)
    # access(), not lstat(): on the reload's hot path, where the usual answer is "no", lstat
    # would build a FileNotFoundError per read; access() answers with a bool (half the time).
    return os.access(_sidecar_beside(real), os.F_OK, follow_symlinks=False)


def _sidecar_beside(real: str) -> str:
    directory, name = os.path.split(real)
    return os.path.join(directory, f".{name}.lock")


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
                await flock(fd, fcntl.LOCK_SH)
        except trio.TooSlowError:
            raise LockTimeout(os.fspath(path), lock_timeout, flock_holder(fd)) from None
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
                raise LockTimeout(os.fspath(path), lock_timeout, flock_holder(fd))
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
    if not LOCKING:
        return None
    try:
        return open_sidecar(str(lock_path_for(path)), create=False)
    except OSError:
        # Whatever is wrong on the way (a directory gone, a symlinked sidecar) is the read's
        # to report, with the file's name; no lock is what there was before writers cooperated.
        return None


def resolve(path: str) -> str:
    """``path`` with every symlink followed: two names for one file share one lock."""
    # A few lstat calls: cheaper than a thread hop. Not on the reload's hot path: the loader
    # reads first and looks for the sidecar beside the file its descriptor names.
    return os.path.realpath(path)


def open_sidecar(lock_path: str, *, create: bool) -> int | None:
    """Open (or create) the sidecar; ``None`` where it cannot be had (see the module docstring)."""
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


def lock_operation(*, exclusive: bool) -> int:
    """The ``flock`` operation of a writer (exclusive) or a reader (shared)."""
    return fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH


async def flock(fd: int, operation: int) -> None:
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


def flock_holder(fd: int | None) -> str | None:
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
