"""Tests for trioconf._watch._watchfiles: real files, real watchfiles (its inotify here)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import attrs
import pytest
import trio

import trioconf
from trioconf._sources import matcher
from trioconf._watch import RESCAN, WatchEvent, run_watcher
from trioconf._watch._events import Hold
from trioconf._watch._folders import Folder
from trioconf._watch._watchfiles import SETTLE, _chain_of, run_watchfiles

pytest.importorskip("watchfiles")
from watchfiles._rust_notify import RustNotify

BOUND = 10.0  # generous: 2 noisy cores
# Symlinks need a privilege (or developer mode) on Windows.
POSIX_ONLY = pytest.mark.posix_only


@asynccontextmanager
async def watching(
    paths: list[Path], folders: Sequence[Folder] = (), settle: float = SETTLE
) -> AsyncIterator[tuple[trio.MemoryReceiveChannel[WatchEvent], list[RustNotify]]]:
    made: list[RustNotify] = []

    def factory(dirs: list[str]) -> RustNotify:
        made.append(RustNotify(dirs, False, False, 300, False, False))
        return made[-1]

    send, receive = trio.open_memory_channel[WatchEvent](100)
    async with trio.open_nursery() as nursery:
        run = partial(run_watchfiles, paths, list(folders), send, settle=settle, factory=factory)
        assert await nursery.start(run) == "watchfiles"
        yield receive, made
        nursery.cancel_scope.cancel()


async def collect(receive: trio.MemoryReceiveChannel[WatchEvent], target: WatchEvent) -> list:
    """Everything up to and including ``target``."""
    got: list[WatchEvent] = []
    with trio.fail_after(BOUND):
        while not got or got[-1] != target:
            got.append(await receive.receive())
    return got


async def test_write_is_held_then_reported_once_quiet(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    async with watching([path]) as (receive, _):
        start = time.monotonic()
        path.write_text("a = 2\n")
        assert await collect(receive, path) == [Hold(path), path]
        assert time.monotonic() - start >= SETTLE


async def test_rename_save_and_delete_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    async with watching([path]) as (receive, _):
        tmp = tmp_path / ".app.toml.tmp"
        tmp.write_text("a = 2\n")
        os.replace(tmp, path)
        assert await collect(receive, path) == [Hold(path), path]
        path.unlink()
        assert await collect(receive, path) == [Hold(path), path]
        path.write_text("a = 3\n")  # watching goes on: the directory is watched, not the file
        assert await collect(receive, path) == [Hold(path), path]


async def test_a_pause_shorter_than_settle_is_waited_out(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    async with watching([path]) as (receive, _):
        with path.open("w") as f:
            f.write("a = 1\n")
            f.flush()
            await trio.sleep(SETTLE / 3)  # the writer pausing mid-write, its file still open
            f.write("b = 2\n")
        got = await collect(receive, path)
        assert got == [Hold(path), path]
        assert path.read_text() == "a = 1\nb = 2\n"


async def test_other_files_in_the_directory_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    async with watching([path]) as (receive, _):
        (tmp_path / "other.toml").write_text("x")
        (tmp_path / "sub").mkdir()
        path.write_text("a = 1\n")
        assert await collect(receive, path) == [Hold(path), path]


@POSIX_ONLY
async def test_kubernetes_swap_is_reported_and_followed(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    (mount / "..v1").mkdir(parents=True)
    (mount / "..v1" / "app.yaml").write_text("v: 1\n")
    os.symlink("..v1", mount / "..data")
    os.symlink("..data/app.yaml", mount / "app.yaml")
    path = mount / "app.yaml"
    async with watching([path]) as (receive, made):
        for old, new in [("..v1", "..v2"), ("..v2", "..v3")]:
            (mount / new).mkdir()
            (mount / new / "app.yaml").write_text(f"v: {new}\n")
            os.symlink(new, mount / "..tmp")
            os.rename(mount / "..tmp", mount / "..data")
            # Its chain now ends in another directory: watched anew, everything re-read.
            got = await collect(receive, RESCAN)
            assert got == [Hold(path), path, RESCAN]
            for name in os.listdir(mount / old):
                os.unlink(mount / old / name)
            os.rmdir(mount / old)
        # The old watchers were closed as they were replaced.
        assert len(made) == 3
        assert [repr(n) for n in made[:2]] == ["RustNotify(None)"] * 2
    assert repr(made[2]) == "RustNotify(None)"


@POSIX_ONLY
async def test_a_symlink_target_in_another_directory_is_watched(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "conf").mkdir()
    target = tmp_path / "real" / "app.toml"
    target.write_text("a = 1\n")
    path = tmp_path / "conf" / "app.toml"
    os.symlink(target, path)
    async with watching([path]) as (receive, _):
        target.write_text("a = 2\n")
        assert await collect(receive, path) == [Hold(path), path]


async def test_a_file_in_a_directory_created_later(tmp_path: Path) -> None:
    path = tmp_path / "later" / "app.toml"
    async with watching([path]) as (receive, made):
        path.parent.mkdir()
        # The directory appeared on its chain: now watched, everything re-read.
        assert await collect(receive, RESCAN) == [Hold(path), path, RESCAN]
        assert len(made) == 2
        path.write_text("a = 1\n")
        assert await collect(receive, path) == [Hold(path), path]


async def test_folder_files_are_reported_by_name(tmp_path: Path) -> None:
    folder = Folder(tmp_path / "conf.d", matcher("*.toml"))
    folder.path.mkdir()
    async with watching([], [folder]) as (receive, _):
        (folder.path / "skip.txt").write_text("x")
        new = folder.path / "10-a.toml"
        new.write_text("a = 1\n")
        assert await collect(receive, new) == [Hold(new), new]


async def test_cancellation_is_prompt_and_closes_the_watcher(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    async with watching([path]) as (_, made):
        await trio.sleep(0.2)  # the worker thread is inside RustNotify.watch by now
        start = time.monotonic()
    elapsed = time.monotonic() - start
    # watchfiles' own wait would be 5 s; its stop event is checked every 50 ms.
    assert elapsed < 0.5, elapsed
    assert repr(made[0]) == "RustNotify(None)"


async def test_run_watcher_selects_watchfiles(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    send, receive = trio.open_memory_channel[WatchEvent](10)
    async with trio.open_nursery() as nursery:
        name = await nursery.start(partial(run_watcher, [path], send, backend="watchfiles"))
        assert name == "watchfiles"
        path.write_text("a = 1\n")
        assert await collect(receive, path) == [Hold(path), path]
        nursery.cancel_scope.cancel()


@attrs.frozen
class Config:
    port: int = 1


async def test_reloader_on_watchfiles(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    async with trioconf.open_reloader(Config, path, backend="watchfiles") as live:
        path.write_text("port = 2\n")
        with trio.fail_after(BOUND):
            await live.wait_value(lambda c: c.port == 2)


async def test_missing_watchfiles_is_a_usage_error_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'trioconf\[watchfiles\]'"):
        async with trioconf.open_reloader(Config, path, backend="watchfiles"):
            pytest.fail("started")
    send, _ = trio.open_memory_channel[WatchEvent](1)
    with pytest.raises(ModuleNotFoundError, match="watchfiles"):
        await run_watcher([path], send, backend="watchfiles")


@POSIX_ONLY
def test_chain_without_posix_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where paths are not POSIX (Windows), the chain is the link's entry and its target's."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "app.toml").write_text("")
    os.symlink(tmp_path / "real" / "app.toml", tmp_path / "app.toml")
    monkeypatch.setattr(os, "sep", "\\")
    entries, dirs = _chain_of(str(tmp_path / "app.toml"))
    assert entries == {(str(tmp_path), "app.toml"), (str(tmp_path / "real"), "app.toml")}
    assert dirs == {str(tmp_path), str(tmp_path / "real")}
    # A missing directory: its nearest existing ancestor is watched, each level named.
    entries, dirs = _chain_of(str(tmp_path / "later" / "app.toml"))
    assert entries == {(str(tmp_path / "later"), "app.toml"), (str(tmp_path), "later")}
    assert dirs == {str(tmp_path)}


def test_cli_watch_without_watchfiles_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trioconf._cli import main

    monkeypatch.setitem(sys.modules, "watchfiles", None)
    schema = "import attrs\n@attrs.frozen\nclass Config:\n    a: int = 1\n"
    (tmp_path / "schema.py").write_text(schema)
    (tmp_path / "app.toml").write_text("a = 1\n")
    argv = ["watch", str(tmp_path / "app.toml"), "--schema", f"{tmp_path / 'schema.py'}:Config"]
    assert main([*argv, "--backend", "watchfiles"]) == 2
    assert "pip install 'trioconf[watchfiles]'" in capsys.readouterr().err
