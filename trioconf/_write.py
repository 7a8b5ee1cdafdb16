"""Replacing a file's content atomically: a reader sees the old bytes or the new, never a mix.

The recipe every careful tool uses, in the order that makes it durable:

1. create a temporary file *in the same directory* (a rename is atomic only within one
   filesystem), named ``.<name>.<random>.tmp``: a dotfile, and a name the watcher never follows
   (it reports only the configured names), so the half-written temp is never read;
2. write the bytes, give the temp the old file's mode (and owner, where permitted), ``fsync``;
3. ``rename`` it over the path: readers that open the name get the old inode or the new one;
4. ``fsync`` the directory, so the rename itself survives a crash.

On any error or cancellation before the rename the temp file is removed and the old content
stays. No lock is taken here: :meth:`trioconf.FileGuard.exclusive` and
:func:`trioconf.write_atomic` wrap this in the guard's locks.

Why threads for steps 2 and 4: ``fsync`` waits for the disk, tens of milliseconds on a busy
one, and file I/O has no readiness notification that ``trio.lowlevel`` could wait on. Each
thread runs to completion (a thread cannot be interrupted); a cancellation that arrives while
the temp file is written is taken before the rename: the temp file is removed, nothing changed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

import trio


async def replace_atomically(path: str, data: bytes) -> os.stat_result:
    """Replace ``path`` (a resolved path, not a symlink) with ``data``; return the new file's
    ``fstat``, taken after the rename so that it matches what a later ``os.stat`` sees."""
    directory, name = os.path.split(path)
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    # A new file gets the mode open() would give it (0o666 filtered by the umask). A
    # replacement's temp is created no more open than the file it replaces: a 0600 file
    # holding secrets must not be readable by others through its temp, even before
    # ``_fill`` sets the exact mode (permissions are checked at open(): an fd opened on a
    # looser temp would keep reading what is written to it).
    create_mode = 0o666 if old is None else stat.S_IMODE(old.st_mode) & 0o777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, create_mode)
    renamed = False
    try:
        await trio.to_thread.run_sync(_fill, fd, data, old)
        # A cancellation that arrived while the thread ran is not raised by run_sync (it
        # waits the thread out and returns): take it here, before the point of no return.
        await trio.lowlevel.checkpoint_if_cancelled()
        os.replace(tmp, path)
        renamed = True
        # The same inode now sits at ``path``; fstat sees the ctime the rename gave it.
        result = os.fstat(fd)
    finally:
        os.close(fd)
        if not renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    await trio.to_thread.run_sync(_fsync_directory, directory or ".")
    return result


def _fill(fd: int, data: bytes, old: os.stat_result | None) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    if old is not None:
        os.fchmod(fd, stat.S_IMODE(old.st_mode))
        if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            # Only root (or the owner, for the group) may do this; an unprivileged writer
            # keeps its own ownership, as any editor's rename save does.
            with contextlib.suppress(PermissionError):
                os.fchown(fd, old.st_uid, old.st_gid)
    os.fsync(fd)


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
