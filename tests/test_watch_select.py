"""Tests for trioconf._watch._select: fallbacks to polling when the kernel refuses, no fd leak.

The kernel's refusals are injected by subclassing the ctypes wrapper (``Libc``) so that one call
fails as the kernel would; every other call, every file and every report stays real.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio
from support import RefusingLibc

import trioconf
from trioconf._watch import WatchEvent, run_watcher
from trioconf._watch._libc import Libc
from trioconf._watch._select import Backend

BOUND = 10.0
FAST_POLL = 0.05


@asynccontextmanager
async def watching(
    paths: Sequence[Path], libc: Libc | None, backend: Backend = "auto"
) -> AsyncIterator[tuple[str, trio.MemoryReceiveChannel[WatchEvent]]]:
    send, receive = trio.open_memory_channel[WatchEvent](1000)
    async with trio.open_nursery() as nursery:
        name = await nursery.start(
            partial(run_watcher, paths, send, backend=backend, poll_interval=FAST_POLL, libc=libc)
        )
        yield name, receive
        nursery.cancel_scope.cancel()


async def until(receive: trio.MemoryReceiveChannel[WatchEvent], target: Path) -> None:
    with trio.fail_after(BOUND):
        while await receive.receive() != target:
            pass


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two config files in two directories."""
    a, b = tmp_path / "a" / "app.toml", tmp_path / "b" / "app.toml"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text("x = 1\n")
    return a, b


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="trioconf")
    return caplog


def warned(caplog: pytest.LogCaptureFixture, *words: str) -> bool:
    return any(
        r.name == "trioconf" and all(w in r.getMessage() for w in words) for r in caplog.records
    )


async def test_watch_limit_polls_only_that_directory(
    two_dirs: tuple[Path, Path], warnings: pytest.LogCaptureFixture
) -> None:
    full, fine = two_dirs
    libc = RefusingLibc(full_dirs=[full.parent])
    async with watching([full, fine], libc) as (name, receive):
        assert name == "inotify+poll"
        assert warned(warnings, str(full), "watch limit", "polling")
        assert str(fine.parent) in libc.watched
        assert str(full.parent) not in libc.watched
        full.write_text("x = 22\n")  # only polling can see this: its directory has no watch
        await until(receive, full)
        fine.write_text("x = 22\n")
        await until(receive, fine)


async def test_instance_limit_polls_everything(
    two_dirs: tuple[Path, Path], warnings: pytest.LogCaptureFixture
) -> None:
    libc = RefusingLibc(init_errno=errno.EMFILE)
    async with watching(two_dirs, libc) as (name, receive):
        assert name == "poll"
        assert warned(warnings, "inotify unavailable", "polling")
        for path in two_dirs:
            path.write_text("x = 333\n")
            await until(receive, path)


async def test_remote_filesystem_is_polled(
    two_dirs: tuple[Path, Path], warnings: pytest.LogCaptureFixture
) -> None:
    remote, local = two_dirs
    libc = RefusingLibc(nfs_dirs=[remote.parent])
    async with watching([remote, local], libc) as (name, receive):
        assert name == "inotify+poll"
        assert warned(warnings, str(remote), "nfs")
        assert str(remote.parent) not in libc.watched
        remote.write_text("x = 22\n")
        await until(receive, remote)


async def test_path_moving_to_a_full_directory_falls_back_at_run_time(
    tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.toml").write_text(f"v = '{name}'\n")
    link = tmp_path / "current"
    link.symlink_to("one")
    path = link / "app.toml"
    libc = RefusingLibc(full_dirs=[tmp_path / "two"])
    async with watching([path], libc) as (name, receive):
        assert name == "inotify"
        tmp = tmp_path / "current_tmp"
        tmp.symlink_to("two")
        os.replace(tmp, link)
        await until(receive, path)
        assert warned(warnings, str(path), "watch limit")
        (tmp_path / "two" / "app.toml").write_text("v = 'two, edited'\n")
        await until(receive, path)


async def test_inotify_backend_raises_when_unavailable(tmp_path: Path) -> None:
    libc = RefusingLibc(init_errno=errno.EMFILE)
    send, _ = trio.open_memory_channel[WatchEvent](1)
    before = open_fds()
    async with trio.open_nursery() as nursery:
        with pytest.raises(OSError, match="Too many open files") as info:
            await nursery.start(
                partial(run_watcher, [tmp_path / "x"], send, backend="inotify", libc=libc)
            )
    assert info.value.errno == errno.EMFILE
    assert open_fds() == before


async def test_inotify_backend_raises_on_watch_limit(tmp_path: Path) -> None:
    libc = RefusingLibc(full_dirs=[tmp_path])
    send, _ = trio.open_memory_channel[WatchEvent](1)
    before = open_fds()
    async with trio.open_nursery() as nursery:
        with pytest.raises(OSError, match="watch limit") as info:
            await nursery.start(
                partial(run_watcher, [tmp_path / "x"], send, backend="inotify", libc=libc)
            )
    assert info.value.errno == errno.ENOSPC
    assert open_fds() == before  # the inotify descriptor was closed on the way out


async def test_inotify_backend_raises_on_watch_limit_for_a_folder(tmp_path: Path) -> None:
    # The folder watcher's refusal carries the kernel's errno too (it said EREMOTE, "remote
    # filesystem", whatever the cause).
    folder = tmp_path / "conf.d"
    folder.mkdir()
    libc = RefusingLibc(full_dirs=[folder])
    send, _ = trio.open_memory_channel[WatchEvent](1)
    before = open_fds()
    async with trio.open_nursery() as nursery:
        with pytest.raises(OSError, match="watch limit") as info:
            await nursery.start(
                partial(
                    run_watcher,
                    [],
                    send,
                    directories=[trioconf.Directory(folder)],
                    backend="inotify",
                    libc=libc,
                )
            )
    assert info.value.errno == errno.ENOSPC
    assert open_fds() == before


@pytest.mark.parametrize("backend", ["auto", "inotify", "poll"])
async def test_cancel_leaks_no_descriptor(tmp_path: Path, backend: Backend) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    before = open_fds()
    async with watching([path], None, backend) as (name, receive):
        assert name == ("poll" if backend == "poll" else "inotify")
        during = open_fds()
        path.write_text("x = 1\n")
        await until(receive, path)
    assert during == before + (0 if backend == "poll" else 1)
    assert open_fds() == before


async def test_unknown_backend_rejected(tmp_path: Path) -> None:
    send, _ = trio.open_memory_channel[WatchEvent](1)
    with pytest.raises(ValueError, match="backend"):
        await run_watcher([tmp_path / "x"], send, backend="fanotify")  # type: ignore[arg-type]
