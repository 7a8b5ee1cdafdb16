"""Real resource limits for the failures a worker process or a thread can meet: too little
memory (``RLIMIT_AS``) and no file descriptors left (``RLIMIT_NOFILE``)."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Iterator


def vmsize() -> int:
    """This process's virtual memory size in bytes (what ``RLIMIT_AS`` limits)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def limit_memory(margin: int) -> None:
    """A worker's ``init``: only ``margin`` more bytes of address space from now on, once
    the modules the job needs are mapped."""
    import trioconf._job  # noqa: F401 (imported for its mappings)

    resource.setrlimit(resource.RLIMIT_AS, (vmsize() + margin, resource.RLIM_INFINITY))


@contextlib.contextmanager
def descriptors_left(count: int) -> Iterator[None]:
    """Open descriptors until only ``count`` are free, under a lowered soft limit (so that
    filling it is quick); everything is closed and the limit restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 64, hard))
    held: list[int] = []
    try:
        while True:
            try:
                held.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError as exc:
                if exc.errno != errno.EMFILE:
                    raise
                break
        for _ in range(count):
            os.close(held.pop())
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
