"""Tests for trioconf._watch._inotify: real files, real inotify, one channel per test."""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio

from trioconf._watch import RESCAN, WatchEvent, run_watcher
from trioconf._watch._chain import Entry, Kind, resolve
from trioconf._watch._descriptor import Unwatchable, decode_events
from trioconf._watch._events import Hold
from trioconf._watch._inotify import OPEN_WRITER_GRACE, InotifyWatcher
from trioconf._watch._libc import IN_CLOSE_WRITE, IN_Q_OVERFLOW, Libc

BOUND = 10.0  # generous: 2 noisy cores


class Events:
    """The receiving end of a watcher, with waits bounded by ``BOUND``.

    Reports and RESCAN are what these tests look at; ``Hold`` events (a change under way) are
    set aside in ``holds``, in order, for the tests that check them."""

    def __init__(self, receive: trio.MemoryReceiveChannel[WatchEvent], backend: str) -> None:
        self.receive = receive
        self.backend = backend
        self.holds: list[Path] = []

    async def _next(self) -> WatchEvent:
        while isinstance(event := await self.receive.receive(), Hold):
            self.holds.append(event.path)
        return event

    async def until(self, target: WatchEvent) -> list[WatchEvent]:
        """Wait for ``target``; return what arrived before it."""
        before = []
        with trio.fail_after(BOUND):
            while (event := await self._next()) != target:
                before.append(event)
        return before

    async def first(self) -> WatchEvent:
        with trio.fail_after(BOUND):
            return await self._next()

    async def quiet(self, seconds: float = 0.3) -> list[WatchEvent]:
        """Whatever arrives within ``seconds`` (only after a sentinel proved the ordering)."""
        got = []
        with trio.move_on_after(seconds):
            while True:
                got.append(await self._next())
        return got


@asynccontextmanager
async def watching(paths: Sequence[Path]) -> AsyncIterator[Events]:
    send, receive = trio.open_memory_channel[WatchEvent](1000)
    async with trio.open_nursery() as nursery:
        backend = await nursery.start(partial(run_watcher, paths, send, backend="inotify"))
        yield Events(receive, backend)
        nursery.cancel_scope.cancel()


def write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp, text)
    os.replace(tmp, path)


def relink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically, as ``ln -sfn`` through a rename."""
    tmp = link.with_name(link.name + "_tmp")
    os.symlink(target, tmp)
    os.replace(tmp, link)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "app.toml"
    write(path, "a = 1\n")
    return path


async def test_in_place_write(app: Path) -> None:
    async with watching([app]) as events:
        assert events.backend == "inotify"
        write(app, "a = 2\n")
        assert await events.first() == app


async def test_sends_the_configured_path_object(app: Path) -> None:
    async with watching([app]) as events:
        write(app, "a = 2\n")
        assert await events.first() is app


async def test_atomic_rename_save(app: Path) -> None:
    async with watching([app]) as events:
        atomic_write(app, "a = 2\n")
        assert await events.first() == app
        # The watch survives the inode swap: a second save is seen too.
        atomic_write(app, "a = 3\n")
        assert await events.first() == app


async def test_delete_and_recreate(app: Path) -> None:
    async with watching([app]) as events:
        app.unlink()
        assert await events.first() == app  # not replaced within VANISH_SETTLE: gone
        assert events.holds == [app]  # held meanwhile, so that no batch is cut around it
        write(app, "a = 2\n")
        assert await events.first() == app


async def test_chmod_and_touch_report(app: Path) -> None:
    async with watching([app]) as events:
        os.chmod(app, 0o600)
        assert await events.first() == app
        os.utime(app)
        assert await events.first() == app


async def test_missing_at_start_then_created(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "late.yaml"
    async with watching([path]) as events:
        path.parent.mkdir()
        write(path, "a: 1\n")
        assert await events.until(path) == []


async def test_two_paths_in_one_directory(tmp_path: Path) -> None:
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    write(one, "")
    write(two, "")
    async with watching([one, two]) as events:
        write(two, "x = 1\n")
        assert await events.first() == two
        write(one, "x = 1\n")
        assert await events.first() == one
        assert await events.quiet() == []


@pytest.mark.parametrize("junk", [".app.toml.swp", "4913", "app.toml~", ".app.toml.tmp123"])
async def test_editor_and_temp_files_are_ignored(tmp_path: Path, app: Path, junk: str) -> None:
    sentinel = app.with_name("sentinel.toml")
    async with watching([app, sentinel]) as events:
        write(app.with_name(junk), "junk")
        os.unlink(app.with_name(junk))
        write(sentinel, "")  # events are read in order: anything for junk would come first
        assert await events.until(sentinel) == []
        assert await events.quiet() == []


async def test_new_file_reported_on_close_not_on_create(app: Path) -> None:
    sentinel = app.with_name("sentinel.toml")
    app.unlink()
    async with watching([app, sentinel]) as events:
        with open(app, "w") as f:
            f.write("a = ")
            f.flush()
            write(sentinel, "")
            assert await events.until(sentinel) == []  # the half-written app was not sent
            assert events.holds == [app]  # but the debouncer was told it is being written
            f.write("2\n")
        assert await events.first() == app


async def test_hard_link_reported_at_once(app: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "prepared.toml"
    write(elsewhere, "a = 2\n")
    app.unlink()
    async with watching([app]) as events:
        assert await events.quiet(0.0) == []
        os.link(elsewhere, app)  # IN_CREATE only: no close follows
        with trio.fail_after(OPEN_WRITER_GRACE * 0.75):  # not via the open-writer grace
            assert await events.first() == app


async def test_created_symlink_reported_at_once(app: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.toml"
    write(target, "a = 2\n")
    app.unlink()
    async with watching([app]) as events:
        os.symlink(target, app)
        with trio.fail_after(OPEN_WRITER_GRACE * 0.75):
            assert await events.first() == app


async def test_kubernetes_configmap_swap(tmp_path: Path) -> None:
    mount = tmp_path / "config"
    (mount / "..2026_11_25_x").mkdir(parents=True)
    write(mount / "..2026_11_25_x" / "app.yaml", "v: 1\n")
    os.symlink("..2026_11_25_x", mount / "..data")
    os.symlink("..data/app.yaml", mount / "app.yaml")
    path = mount / "app.yaml"
    async with watching([path]) as events:
        # The kubelet's update: a new timestamped directory, then the ..data link swapped.
        (mount / "..2026_11_25_y").mkdir()
        write(mount / "..2026_11_25_y" / "app.yaml", "v: 2\n")
        relink(mount / "..data", "..2026_11_25_y")
        assert await events.first() == path
        assert path.read_text() == "v: 2\n"
        # The watches moved: the old directory is now irrelevant, the new one is watched.
        sentinel = mount / "..2026_11_25_y" / "app.yaml"
        write(mount / "..2026_11_25_x" / "app.yaml", "stale\n")
        shutil.rmtree(mount / "..2026_11_25_x")
        write(sentinel, "v: 3\n")
        assert await events.until(path) == []
        assert await events.quiet() == []


async def test_symlink_target_in_another_directory(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "app.toml"
    other = tmp_path / "real" / "other.toml"
    write(target, "a = 1\n")
    write(other, "a = 9\n")
    path = tmp_path / "cfg" / "app.toml"
    os.symlink("../real/app.toml", path)
    async with watching([path]) as events:
        write(target, "a = 2\n")
        assert await events.first() == path
        atomic_write(target, "a = 3\n")
        assert await events.first() == path
        relink(path, "../real/other.toml")
        assert await events.first() == path
        write(target, "a = 4\n")  # no longer the target
        write(other, "a = 10\n")
        assert await events.first() == path
        assert await events.quiet() == []


async def test_symlink_renamed_over_a_regular_file(tmp_path: Path) -> None:
    # A rename save of a regular file over a regular file keeps the chain (the watcher skips
    # resolving then); a symlink renamed over it must not be mistaken for one: from then on
    # the path lives in the link target's directory, which must be watched.
    (tmp_path / "cfg").mkdir()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "app.toml"
    write(target, "a = 1\n")
    path = tmp_path / "cfg" / "app.toml"
    write(path, "a = 0\n")
    async with watching([path]) as events:
        atomic_write(path, "a = 2\n")  # a regular file over a regular file
        assert await events.first() == path
        relink(path, "../real/app.toml")
        assert await events.first() == path
        write(target, "a = 3\n")  # only a watch on real/ sees this
        assert await events.first() == path


async def test_symlinked_parent_directory_retargeted(tmp_path: Path) -> None:
    for name in ("v1", "v2"):
        (tmp_path / name).mkdir()
        write(tmp_path / name / "app.toml", f"v = '{name}'\n")
    os.symlink("v1", tmp_path / "current")
    path = tmp_path / "current" / "app.toml"
    async with watching([path]) as events:
        relink(tmp_path / "current", "v2")
        assert await events.first() == path
        write(tmp_path / "v2" / "app.toml", "v = 'v2b'\n")
        assert await events.first() == path


async def test_directory_deleted_and_recreated(app: Path) -> None:
    async with watching([app]) as events:
        shutil.rmtree(app.parent)
        assert await events.until(app) == []
        os.makedirs(app.parent)
        write(app, "a = 2\n")
        await events.until(app)
        # Back on the recreated directory's own watch: an in-place write is seen.
        write(app, "a = 3\n")
        await events.until(app)


async def test_deep_directory_reappears_with_file_inside(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "app.toml"
    path.parent.mkdir(parents=True)
    write(path, "a = 1\n")
    async with watching([path]) as events:
        shutil.rmtree(tmp_path / "a")
        await events.until(path)
        # Built elsewhere and renamed into place: no event inside ever names app.toml.
        staging = tmp_path / "staging"
        (staging / "b" / "c").mkdir(parents=True)
        write(staging / "b" / "c" / "app.toml", "a = 2\n")
        os.rename(staging, tmp_path / "a")
        await events.until(path)
        write(path, "a = 3\n")
        await events.until(path)


async def test_open_writer_reported_after_grace(
    app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trioconf")
    async with watching([app]) as events:
        with open(app, "w") as f:
            f.write("a = 2\n")
            f.flush()
            start = trio.current_time()
            assert await events.first() == app
            waited = trio.current_time() - start
            # It keeps writing: reported again after the grace, without a second warning.
            f.write("b = 3\n")
            f.flush()
            assert await events.first() == app
        assert waited >= OPEN_WRITER_GRACE * 0.9
        warnings = [
            r
            for r in caplog.records
            if r.name == "trioconf"
            and r.levelno == logging.WARNING
            and str(app) in r.getMessage()
            and "not closed" in r.getMessage()
        ]
        assert len(warnings) == 1


async def test_directory_alias_shares_watches(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write(tmp_path / name / "app.toml", "")
    os.symlink("a", tmp_path / "alias")
    real, alias = tmp_path / "a" / "app.toml", tmp_path / "alias" / "app.toml"
    async with watching([real, alias]) as events:
        write(real, "x = 1\n")
        assert {await events.first(), await events.first()} == {real, alias}
        relink(tmp_path / "alias", "b")
        assert await events.first() == alias
        # The alias moved away; the directory it shared is still watched for `real`.
        write(real, "x = 2\n")
        assert await events.first() == real
        write(tmp_path / "b" / "app.toml", "x = 3\n")
        assert await events.first() == alias
        assert await events.quiet() == []


@pytest.fixture
def bind_mount(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/b: a bind mount of tmp_path/a (same inodes, so the same watch descriptor)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    done = subprocess.run(
        ["mount", "--bind", str(tmp_path / "a"), str(tmp_path / "b")],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    yield tmp_path
    subprocess.run(["umount", str(tmp_path / "b")], check=True)


async def test_one_descriptor_for_two_directories(bind_mount: Path) -> None:
    one, two = bind_mount / "a" / "app.toml", bind_mount / "b" / "app.toml"
    write(one, "")
    libc = Libc()
    fd = libc.inotify_init()
    try:
        watcher = InotifyWatcher(libc, fd, [one, two], _refuse, check_remote=False)
        watcher.install()
        dirs = watcher.watched_dirs
        assert dirs[str(one.parent)] == dirs[str(two.parent)]
        write(one, "x = 1\n")
        with trio.fail_after(BOUND):
            await trio.lowlevel.wait_readable(fd)
        events = decode_events(os.read(fd, 65536))
        assert set(watcher.process(events, trio.current_time())) == {one, two}
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)


def _refuse(path: Path, exc: Unwatchable, started: bool) -> None:
    raise AssertionError(f"{path}: {exc}")


async def test_overflow_sends_rescan(app: Path) -> None:
    libc = Libc()
    fd = libc.inotify_init()
    try:
        watcher = InotifyWatcher(libc, fd, [app], _refuse, check_remote=False)
        watcher.install()
        wd = next(iter(watcher.watched_dirs.values()))
        name = b"app.toml".ljust(16, b"\0")
        buf = (
            struct.pack("iIII", wd, IN_CLOSE_WRITE, 0, len(name))
            + name
            + struct.pack("iIII", -1, IN_Q_OVERFLOW, 0, 0)
        )
        assert watcher.process(decode_events(buf), trio.current_time()) == [RESCAN]
        assert watcher.watched_dirs  # watches rebuilt, still in place
    finally:
        trio.lowlevel.notify_closing(fd)
        os.close(fd)


def test_decode_events() -> None:
    name = b"app.toml".ljust(16, b"\0")
    buf = struct.pack("iIII", 3, IN_CLOSE_WRITE, 7, len(name)) + name
    buf += struct.pack("iIII", -1, IN_Q_OVERFLOW, 0, 0)
    events = decode_events(buf)
    assert [(e.wd, e.mask, e.cookie, e.name) for e in events] == [
        (3, IN_CLOSE_WRITE, 7, "app.toml"),
        (-1, IN_Q_OVERFLOW, 0, ""),
    ]
    # A name that is no UTF-8 decodes as os.fsdecode does, so it matches the watched entry.
    odd = b"caf\xe9.toml".ljust(16, b"\0")
    (event,) = decode_events(struct.pack("iIII", 3, IN_CLOSE_WRITE, 0, len(odd)) + odd)
    assert event.name == os.fsdecode(b"caf\xe9.toml")


def test_resolve_follows_relative_and_absolute_links(tmp_path: Path) -> None:
    (tmp_path / "d" / "real").mkdir(parents=True)
    write(tmp_path / "d" / "real" / "f", "")
    os.symlink("real", tmp_path / "d" / "rel")
    os.symlink(str(tmp_path / "d" / "rel" / "f"), tmp_path / "abs")
    chain = resolve(str(tmp_path / "abs"))
    d = str(tmp_path / "d")
    assert chain.exists
    assert chain.final == Entry(str(tmp_path / "d" / "real"), "f", Kind.FILE)
    assert Entry(d, "rel", Kind.LINK, "real") in chain.entries
    assert chain.watch_dirs == {str(tmp_path), d, str(tmp_path / "d" / "real")}


def test_resolve_stops_at_first_missing_component(tmp_path: Path) -> None:
    chain = resolve(str(tmp_path / "x" / "y" / "f"))
    assert not chain.exists
    assert chain.final == Entry(str(tmp_path), "x", Kind.MISSING)
    assert chain.watch_dirs == {str(tmp_path)}


def test_resolve_symlink_loop_ends(tmp_path: Path) -> None:
    os.symlink("loop", tmp_path / "loop")
    chain = resolve(str(tmp_path / "loop"))
    assert not chain.exists
    assert chain.watch_dirs == {str(tmp_path)}


def test_resolve_dotdot_after_a_link(tmp_path: Path) -> None:
    (tmp_path / "x" / "deep").mkdir(parents=True)
    write(tmp_path / "x" / "f", "")
    os.symlink("x/deep", tmp_path / "link")
    # ".." applies to the link's target (x/deep), as in the kernel, not to the link's name.
    chain = resolve(str(tmp_path / "link" / ".." / "f"))
    assert chain.final == Entry(str(tmp_path / "x"), "f", Kind.FILE)


async def test_directory_renamed_away_and_replaced(app: Path, tmp_path: Path) -> None:
    old = app.parent.with_name("cfg.old")
    sentinel = tmp_path / "sentinel.toml"
    async with watching([app, sentinel]) as events:
        # All before the watcher runs again: it finds the path's directory already replaced.
        os.rename(app.parent, old)
        app.parent.mkdir()
        write(app, "a = 2\n")
        await events.until(app)
        write(app, "a = 3\n")  # seen only through a watch on the new directory
        await events.until(app)
        # The old directory's watch follows its inode: it must not stand for the path any more.
        write(old / "app.toml", "stale\n")
        write(sentinel, "")
        assert await events.until(sentinel) == []
