"""The few Linux system calls the inotify watcher needs, through ctypes.

They live in one small class so that a test can subclass it and make one call fail the way the
kernel does (``EMFILE`` from ``inotify_init1``, ``ENOSPC`` from ``inotify_add_watch``, an NFS
``statfs`` type) without mocking the kernel: everything else stays real.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import NoReturn

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

# The Linux values (inotify exists nowhere else): Windows has no os.O_NONBLOCK to import.
IN_NONBLOCK = getattr(os, "O_NONBLOCK", 0o4000)
IN_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)

# Filesystems whose changes made by other machines never reach the local inotify queue
# (statfs f_type magic numbers from linux/magic.h and the filesystems' own headers).
REMOTE_FS_TYPES: dict[int, str] = {
    0x6969: "nfs",
    0x517B: "smb",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x65735546: "fuse",
    0x01021997: "9p",
    0x00C36400: "ceph",
    0x0BD00BD0: "lustre",
    0x01161970: "gfs2",
    0x7461636F: "ocfs2",
    0x5346414F: "afs",
    0x6B414653: "kafs",
    0x73757245: "coda",
    0x564C: "ncp",
    0x786F4256: "vboxsf",
    0x47504653: "gpfs",
    0xAAD7AAEA: "panfs",
}


class Libc:
    """inotify_init1, inotify_add_watch, inotify_rm_watch and statfs, raising ``OSError``."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            msg = f"inotify is only available on Linux, not on {sys.platform}"
            raise OSError(38, msg)  # ENOSYS
        # The running program's symbol table includes libc, whichever libc (glibc, musl) it is.
        self._lib = ctypes.CDLL(None, use_errno=True)
        self._lib.inotify_init1.argtypes = [ctypes.c_int]
        self._lib.inotify_init1.restype = ctypes.c_int
        self._lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._lib.inotify_add_watch.restype = ctypes.c_int
        self._lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        self._lib.inotify_rm_watch.restype = ctypes.c_int
        self._lib.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self._lib.statfs.restype = ctypes.c_int

    def inotify_init(self) -> int:
        """A new non-blocking, close-on-exec inotify file descriptor."""
        fd: int = self._lib.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            _raise_errno("inotify_init1")
        return fd

    def add_watch(self, fd: int, path: str, mask: int) -> int:
        """Watch ``path``; the same inode watched twice returns the same descriptor."""
        wd: int = self._lib.inotify_add_watch(fd, os.fsencode(path), mask)
        if wd < 0:
            _raise_errno("inotify_add_watch", path)
        return wd

    def rm_watch(self, fd: int, wd: int) -> None:
        """Remove a watch; ``EINVAL`` when the kernel already dropped it (directory deleted)."""
        if self._lib.inotify_rm_watch(fd, wd) < 0:
            _raise_errno("inotify_rm_watch")

    def fs_type(self, path: str) -> int:
        """The ``statfs`` ``f_type`` magic number of the filesystem holding ``path``."""
        # struct statfs is at most 120 bytes on every Linux ABI; f_type is its first member, a
        # native word (__fsword_t). Magic numbers are 32-bit: mask off any sign extension.
        buf = ctypes.create_string_buffer(256)
        if self._lib.statfs(os.fsencode(path), buf) < 0:
            _raise_errno("statfs", path)
        return ctypes.c_ulong.from_buffer(buf).value & 0xFFFFFFFF


def _raise_errno(call: str, path: str | None = None) -> NoReturn:
    err = ctypes.get_errno()
    msg = f"{call}: {os.strerror(err)}"
    if path is None:
        raise OSError(err, msg)
    raise OSError(err, msg, path)
