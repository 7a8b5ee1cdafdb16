"""Helpers shared by the test modules, importable as ``support`` (tests/ is on sys.path)."""

from __future__ import annotations

import errno
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from trioconf._live import Live
from trioconf._state import LiveState, Publisher
from trioconf._watch._libc import Libc

# Generous: the machine has two noisy cores. Waits end as soon as their condition holds.
PATIENCE = 15.0


def write_atomic(path: Path, text: str) -> None:
    """What editors and deploy tools do: write a temp file beside it, rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def wait_until(condition: Callable[[], bool]) -> None:
    """For conditions no trioconf wait can express (counters, errors): look every 10 ms."""
    with trio.fail_after(PATIENCE):
        while not condition():  # noqa: ASYNC110 (no event to wait on for a counter)
            await trio.sleep(0.01)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


NFS_MAGIC = 0x6969  # statfs f_type of NFS


class RefusingLibc(Libc):
    """Real system calls, except the ones a test tells it to refuse."""

    def __init__(
        self,
        *,
        init_errno: int | None = None,
        full_dirs: Sequence[Path] = (),
        nfs_dirs: Sequence[Path] = (),
    ) -> None:
        super().__init__()
        self.init_errno = init_errno
        self.full_dirs = {str(d) for d in full_dirs}
        self.nfs_dirs = {str(d) for d in nfs_dirs}
        self.watched: list[str] = []

    def inotify_init(self) -> int:
        if self.init_errno is not None:
            raise OSError(self.init_errno, os.strerror(self.init_errno))
        return super().inotify_init()

    def add_watch(self, fd: int, path: str, mask: int) -> int:
        if path in self.full_dirs:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        wd = super().add_watch(fd, path, mask)
        self.watched.append(path)
        return wd

    def fs_type(self, path: str) -> int:
        return NFS_MAGIC if path in self.nfs_dirs else super().fs_type(path)


def record_c_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the YAML C loader record every document it builds; returns that list.

    Proof of which loader ran that does not depend on errors (a document the C parser refuses
    is parsed again by the pure one, so errors never carry C marks).
    """
    from trioconf._formats import _yaml

    built: list[str] = []

    class Recording(_yaml._CSafeLoader):  # type: ignore[misc, name-defined]
        def __init__(self, stream: str) -> None:
            built.append(stream)
            super().__init__(stream)

    monkeypatch.setattr(_yaml, "_CSafeLoader", Recording)
    return built


def open_live(
    initial: Any,
    *,
    reload: Callable[[], Awaitable[None]] | None = None,
    origins: Mapping[str, str] | None = None,
    **kw: Any,
) -> Live[Any]:
    """A live value with no reloader behind it; ``writer(live)`` plays the updater."""

    async def no_reload() -> None:
        raise AssertionError("reload was not expected in this test")

    def no_request() -> None:
        raise AssertionError("request_reload was not expected in this test")

    state = LiveState(initial, origins=origins or {}, **kw)
    return Live(state, reload or no_reload, no_request)


def writer(live: Live[Any]) -> Publisher[Any]:
    """The updater's side of ``live``: publish, fail, close."""
    return Publisher(live._state)
