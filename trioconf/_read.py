"""Reading a source file consistently, and what its content hash is for.

The updater compares the content hash of what it reads with the hash of what it read last
time for that source, so a touch, a chmod or an identical rewrite applies nothing: the only
fingerprint that matters is the bytes the parser would see.

A read is consistent when the file did not change under it: ``fstat`` before and after the
read must agree on inode, size and mtime, and the bytes read must match the size. An in-place
writer that is still writing makes them disagree; the read is retried a few times and then
reported, and the writer's own close event triggers another attempt.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import attrs

from ._errors import MissingSourceError, SourceError

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
_ATTEMPTS = 5


@attrs.frozen
class Content:
    raw: bytes
    digest: bytes
    # Where the file that was read really is, when asked for and the system can say: readers
    # look for a cooperating writer's sidecar lock beside it. It is the path as given when its
    # last component is no symlink (directories on the way resolve to the same directory for
    # the sidecar's name too), else the descriptor's /proc link; None where there is no /proc.
    real: str | None = None


def digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


def read_consistent(path: Path, max_size: int = DEFAULT_MAX_SIZE) -> Content:
    """Read the whole file, retrying while it changes under the read.

    Raises MissingSourceError when the path does not exist (or a directory on the way does
    not) and SourceError for every other reason it cannot be read.
    """
    content = read_unless_larger(path, max_size, max_size)
    assert content is not None  # nothing is larger than max_size without being refused
    return content


def read_unless_larger(
    path: Path, limit: int, max_size: int = DEFAULT_MAX_SIZE, *, real: bool = False
) -> Content | None:
    """Like ``read_consistent``, but ``None`` (nothing read) when the file is over ``limit``.

    The loader parses small files inline and large ones in a worker process: deciding on the
    size of the open file (its ``fstat``, before any byte is read) costs no extra ``stat`` on
    the reload's hot path. With ``real``, ``Content.real`` says where the file read really is:
    the file is opened with ``O_NOFOLLOW`` first, which costs nothing when it is no symlink (a
    symlink is opened again, following it, and its descriptor's /proc link read).
    """
    for _ in range(_ATTEMPTS):
        try:
            raw = _read_once(path, limit, max_size, real)
        except _OverLimit:
            return None
        except OSError as exc:
            raise _source_error(path, exc) from exc
        if raw is not None:
            return Content(raw[0], digest(raw[0]), raw[1])
    msg = "the file kept changing while it was read"
    raise SourceError(str(path), msg)


class _OverLimit(Exception):
    """``_read_once``: the file is over the caller's limit; nothing was read."""


# O_NONBLOCK: opening a FIFO someone put in the config's place must not hang the loop. Windows
# has neither it nor O_CLOEXEC (its descriptors are not inherited anyway) and has no FIFOs in
# the filesystem; O_BINARY is Windows' own: without it reads translate CRLF and stop at Ctrl-Z,
# so the bytes read would not match the file's size.
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)
# Where there is no O_NOFOLLOW (Windows), nothing tells a symlink at open: ``Content.real``
# stays None, and the sidecar lock protocol is unavailable there anyway (``_sidecar``).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", None)


def _read_once(
    path: Path, limit: int, max_size: int, want_real: bool
) -> tuple[bytes, str | None] | None:
    fd, real, through_link = _open(path, want_real)
    try:
        before = os.fstat(fd)
        if stat.S_ISDIR(before.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(before.st_mode):
            raise OSError(errno.EINVAL, "is not a regular file")
        if before.st_size > max_size:
            raise _TooLarge(before.st_size, max_size)
        if before.st_size > limit:
            raise _OverLimit
        chunks: list[bytes] = []
        total = 0
        while True:
            wanted = max(before.st_size - total, 0) + 65536
            chunk = os.read(fd, wanted)
            chunks.append(chunk)
            total += len(chunk)
            if total > max_size:
                raise _TooLarge(total, max_size)
            if len(chunk) < wanted:
                # A regular file reads short only at its end: no read more to see the empty
                # one (a file still growing shows in the fstat below).
                break
        after = os.fstat(fd)
        if through_link:
            real = _real_path(fd)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    unchanged = (
        before.st_ino == after.st_ino
        and before.st_size == after.st_size == len(raw)
        and before.st_mtime_ns == after.st_mtime_ns
    )
    return (raw, real) if unchanged else None


def _open(path: Path, want_real: bool) -> tuple[int, str | None, bool]:
    """The descriptor, the path to give as ``Content.real`` if known now, and whether it must
    be asked of /proc once the file is read (it was opened through a symlink)."""
    if not want_real or _NOFOLLOW is None:
        return os.open(path, _FLAGS), None, False
    try:
        return os.open(path, _FLAGS | _NOFOLLOW), os.fspath(path), False
    except OSError as exc:
        if exc.errno != errno.ELOOP:  # ELOOP: the last component is a symlink (or a loop)
            raise
    return os.open(path, _FLAGS), None, True


def _real_path(fd: int) -> str | None:
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None  # no /proc (not Linux, or not mounted)
    # " (deleted)": renamed over or unlinked since the open; what stands there now is not it.
    return real if real.startswith("/") and not real.endswith(" (deleted)") else None


class _TooLarge(OSError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"is too large ({size} bytes; the limit is {limit})")


def _source_error(path: Path, exc: OSError) -> SourceError:
    name = str(path)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        # A dangling symlink "does not exist" to open(), but the user sees the link in `ls`:
        # say what is missing is its target.
        if os.path.islink(path):
            return MissingSourceError(name, "is a symbolic link whose target does not exist")
        return MissingSourceError(name, "does not exist")
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EISDIR: "is a directory, not a file",
        errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    }
    reason = reasons.get(exc.errno or 0) or exc.strerror or str(exc)
    return SourceError(name, reason)
