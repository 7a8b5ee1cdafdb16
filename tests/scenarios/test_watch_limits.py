"""The kernel's inotify limits, end to end: a real queue overflow, and refused watches/instances.

* Queue overflow: the reloader's event loop is kept busy (blocked, as a long synchronous task in
  the application would block it) while a child process floods the watched directory with more
  events than ``fs.inotify.max_queued_events``, then writes the config. The kernel drops that
  write's events and queues ``IN_Q_OVERFLOW``: only the rescan it triggers can find the new
  content. The machine-wide sysctls are left alone.
* Watch and instance limits: the kernel's refusals (``ENOSPC`` from ``inotify_add_watch``,
  ``EMFILE`` from ``inotify_init1``) are injected by replacing the ctypes wrapper the watcher
  constructs (``trioconf._watch._select.Libc``) with a subclass that refuses one call; every
  other call, file and read stays real. The reloader must keep reloading, by polling, and warn.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE, RefusingLibc, write_atomic

import trioconf
from trioconf._watch import _select

FAST_POLL = 0.05


@attrs.frozen
class Conf:
    name: str
    port: int = 0


def warned(caplog: pytest.LogCaptureFixture, *words: str) -> bool:
    return any(
        r.name == "trioconf"
        and r.levelno == logging.WARNING
        and all(w in r.getMessage() for w in words)
        for r in caplog.records
    )


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="trioconf")
    return caplog


async def wait_name(live: trioconf.Live[Conf], name: str) -> Conf:
    with trio.fail_after(PATIENCE):
        return await live.wait_value(lambda c: c.name == name)


# --- queue overflow ---------------------------------------------------------------------------

FLOOD = """
    import os, sys
    directory, count, config, text = sys.argv[1:]
    for i in range(int(count)):
        # create + close-write + delete: three queued events per file, all distinct
        name = os.path.join(directory, f"flood-{i}")
        with open(name, "w"):
            pass
        os.unlink(name)
        if i == int(count) // 2:
            with open(config, "w") as f:  # a change in the middle of the storm
                f.write('name = "mid-storm"\\n')
    # The last change: its events arrive after the queue overflowed, so the kernel drops them.
    with open(config, "w") as f:
        f.write(text)
"""


def max_queued_events() -> int:
    return int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())


async def test_queue_overflow_rescans_and_converges(
    tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "conf" / "app.toml"
    path.parent.mkdir()
    path.write_text('name = "before"\n')
    # Three events per file: the queue overflows after a third of the files at most.
    count = max_queued_events()
    async with trioconf.open_reloader(Conf, path, debounce=0, backend="inotify") as live:
        # Deliberately blocking: the reloader's tasks cannot read the inotify queue while the
        # child floods it, exactly as when the application hogs the loop.
        subprocess.run(  # noqa: ASYNC221
            [
                sys.executable, "-c", textwrap.dedent(FLOOD),
                str(path.parent), str(count), str(path), 'name = "after"\nport = 7\n',
            ],
            check=True,
        )  # fmt: skip
        assert (await wait_name(live, "after")).port == 7
        assert warned(warnings, "inotify queue overflowed", "rescanning")
        # The watcher survived the overflow: ordinary events flow again.
        write_atomic(path, 'name = "later"\n')
        await wait_name(live, "later")
        history = live.history
    applied = [r.config.name for r in history if isinstance(r, trioconf.Update)]
    # The mid-storm version may or may not have been read in time: it is allowed, not needed.
    assert [n for n in applied if n != "mid-storm"] == ["before", "after", "later"]
    assert not [r for r in history if isinstance(r, trioconf.Failure)]


# --- watch and instance limits ----------------------------------------------------------------


Refuse = Callable[..., list[RefusingLibc]]


@pytest.fixture
def refuse(monkeypatch: pytest.MonkeyPatch) -> Refuse:
    """``refuse(init_errno=..., full_dirs=...)``: every watcher started afterwards gets a
    refusing wrapper; returns the list the wrappers it built are appended to."""

    def configure(
        init_errno: int | None = None, full_dirs: Sequence[Path] = ()
    ) -> list[RefusingLibc]:
        built: list[RefusingLibc] = []

        def make() -> RefusingLibc:
            built.append(RefusingLibc(init_errno=init_errno, full_dirs=full_dirs))
            return built[-1]

        monkeypatch.setattr(_select, "Libc", make)
        return built

    return configure


async def test_instance_limit_reloads_by_polling(
    tmp_path: Path, refuse: Refuse, warnings: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    built = refuse(init_errno=errno.EMFILE)
    async with trioconf.open_reloader(Conf, path, debounce=0, poll_interval=FAST_POLL) as live:
        assert len(built) == 1
        assert warned(warnings, "inotify unavailable", "Too many open files", "polling")
        path.write_text('name = "two"\n')  # in place
        await wait_name(live, "two")
        write_atomic(path, 'name = "three"\n')  # rename
        await wait_name(live, "three")
    assert built[0].watched == []  # nothing was ever watched by inotify


async def test_watch_limit_polls_the_refused_directory_only(
    tmp_path: Path, refuse: Refuse, warnings: pytest.LogCaptureFixture
) -> None:
    base = tmp_path / "base" / "app.toml"
    override = tmp_path / "override" / "app.toml"
    for path, text in ((base, 'name = "base"\nport = 1\n'), (override, "port = 2\n")):
        path.parent.mkdir()
        path.write_text(text)
    built = refuse(full_dirs=[override.parent])
    async with trioconf.open_reloader(
        Conf, base, override, debounce=0, poll_interval=FAST_POLL
    ) as live:
        assert live.current == Conf("base", 2)
        assert warned(warnings, str(override), "watch limit", "polling")
        write_atomic(override, "port = 3\n")  # only polling can see this one
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 3)
        write_atomic(base, 'name = "base, edited"\nport = 1\n')  # inotify still serves base
        await wait_name(live, "base, edited")
    assert str(base.parent) in built[0].watched
    assert str(override.parent) not in built[0].watched


async def test_watch_limit_hit_at_run_time_falls_back_to_polling(
    tmp_path: Path, refuse: Refuse, warnings: pytest.LogCaptureFixture
) -> None:
    # A deployment swaps a "current" symlink to a release directory the kernel cannot watch.
    for release in ("one", "two"):
        (tmp_path / release).mkdir()
        (tmp_path / release / "app.toml").write_text(f'name = "{release}"\n')
    current = tmp_path / "current"
    current.symlink_to("one")
    path = current / "app.toml"
    built = refuse(full_dirs=[tmp_path / "two"])
    async with trioconf.open_reloader(Conf, path, debounce=0, poll_interval=FAST_POLL) as live:
        assert not warned(warnings, "watch limit")
        tmp = tmp_path / "current_tmp"
        tmp.symlink_to("two")
        os.replace(tmp, current)
        await wait_name(live, "two")
        assert warned(warnings, str(path), "watch limit", "polling")
        (tmp_path / "two" / "app.toml").write_text('name = "two, edited"\n')
        await wait_name(live, "two, edited")
    assert str(tmp_path / "two") not in built[0].watched
