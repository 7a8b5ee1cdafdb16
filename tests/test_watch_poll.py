"""Tests for trioconf._watch._poll: stat fingerprints, the racy-mtime content hash, the loop."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing
from support import PATIENCE

from trioconf._watch import WatchEvent, run_watcher
from trioconf._watch._events import HOLD_LIMIT, Hold
from trioconf._watch._poll import RACY_WINDOW_NS, Poller, take_fingerprint

INTERVAL = 1.0


@asynccontextmanager
async def polling(paths: Sequence[Path]) -> AsyncIterator[trio.MemoryReceiveChannel[WatchEvent]]:
    send, receive = trio.open_memory_channel[WatchEvent](1000)
    async with trio.open_nursery() as nursery:
        name = await nursery.start(
            partial(run_watcher, paths, send, backend="poll", poll_interval=INTERVAL)
        )
        assert name == "poll"
        yield receive
        nursery.cancel_scope.cancel()


async def next_event(receive: trio.MemoryReceiveChannel[WatchEvent]) -> tuple[WatchEvent, float]:
    """The next report (holds skipped) and how many (virtual) seconds it took."""
    start = trio.current_time()
    with trio.fail_after(10 * INTERVAL):
        while isinstance(event := await receive.receive(), Hold):
            pass
    return event, trio.current_time() - start


async def nothing_for(receive: trio.MemoryReceiveChannel[WatchEvent], polls: int) -> bool:
    with trio.move_on_after(polls * INTERVAL):
        await receive.receive()
        return False
    return True


def rewrite_keeping_stat(path: Path, text: str) -> None:
    """Rewrite in place with the same size and mtime: only the content differs."""
    st = os.stat(path)
    with open(path, "r+") as f:
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )


def age(path: Path, seconds: float) -> None:
    then = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(then, then))


async def test_change_detected(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    async with polling([path]) as receive:
        assert await nothing_for(receive, 3)
        path.write_text("a = 22\n")
        start = trio.current_time()
        with trio.fail_after(10 * INTERVAL):
            held = await receive.receive()
        assert held == Hold(path)  # seen at the next poll, held until it settles
        assert trio.current_time() - start <= INTERVAL * 1.01
        event, took = await next_event(receive)
        assert event is path
        assert took == pytest.approx(INTERVAL)  # unchanged for one whole interval


async def test_a_file_still_changing_is_held_until_it_settles(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A slow writer: the first half of a document that parses on its own, a pause shorter
    # than the interval, then the rest. The half must never be reported as settled.
    path = tmp_path / "app.yaml"
    path.write_text("name: old\n")
    async with polling([path]) as receive, trio.open_nursery() as nursery:

        async def slow_writer() -> None:
            with open(path, "w") as f:
                f.write("name: new\nitems:\n  - one\n")
                f.flush()
                await trio.sleep(INTERVAL * 0.8)
                f.write("  - two\n")
                f.flush()
                await trio.sleep(INTERVAL * 0.8)
                f.write("  - three\n")

        nursery.start_soon(slow_writer)
        event, _ = await next_event(receive)
        assert event == path
        assert path.read_text().endswith("three\n")  # reported only once it was whole


async def test_a_file_that_never_settles_is_reported_after_the_hold_limit(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("n = 0\n")
    async with polling([path]) as receive, trio.open_nursery() as nursery:

        async def appender() -> None:
            for i in itertools.count(1):
                with open(path, "a") as f:
                    f.write(f"# {i}\n")
                await trio.sleep(INTERVAL / 3)

        nursery.start_soon(appender)
        start = trio.current_time()
        event, _ = await next_event(receive)
        assert event == path
        assert HOLD_LIMIT <= trio.current_time() - start <= HOLD_LIMIT + 2 * INTERVAL
        assert "on every poll for 2 s" in caplog.text
        nursery.cancel_scope.cancel()


async def test_racy_same_size_same_mtime_rewrite_caught_by_hash(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")  # mtime is now: racy
    async with polling([path]) as receive:
        rewrite_keeping_stat(path, "a = 2\n")
        event, _ = await next_event(receive)
        assert event is path


async def test_missing_present_missing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "late" / "app.toml"
    async with polling([path]) as receive:
        assert await nothing_for(receive, 2)
        path.parent.mkdir()
        path.write_text("a = 1\n")
        assert (await next_event(receive))[0] == path
        path.unlink()
        assert (await next_event(receive))[0] == path
        assert await nothing_for(receive, 3)


async def test_chmod_detected(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    age(path, 3600)
    async with polling([path]) as receive:
        os.chmod(path, 0o600)
        assert (await next_event(receive))[0] == path


async def test_symlink_retarget_detected(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).write_text(f"v = '{name}'\n")
    link = tmp_path / "app.toml"
    link.symlink_to("one")
    async with polling([link]) as receive:
        tmp = tmp_path / "tmp_link"
        tmp.symlink_to("two")
        os.replace(tmp, link)
        assert (await next_event(receive))[0] == link


def test_old_file_is_not_hashed(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    age(path, 3600)
    first, _ = take_fingerprint(path)
    assert first.digest is None
    # The limit of the rule, on purpose: a stat-identical rewrite of an old file is not read.
    rewrite_keeping_stat(path, "a = 2\n")
    assert take_fingerprint(path, first) == (first, False)


def test_racy_file_is_hashed(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    first, _ = take_fingerprint(path)
    assert first.digest is not None
    assert take_fingerprint(path, first) == (first, False)
    rewrite_keeping_stat(path, "a = 2\n")
    assert take_fingerprint(path, first)[1]


def test_hash_rechecked_once_mtime_is_no_longer_racy(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n")
    first, _ = take_fingerprint(path)
    assert first.digest is not None
    rewrite_keeping_stat(path, "a = 2\n")
    # The next poll comes late, when the mtime is old: the kept hash must still be compared.
    later = time.time_ns() + 10 * RACY_WINDOW_NS
    second, changed = take_fingerprint(path, first, now_ns=later)
    assert changed
    assert second.digest is None  # and from now on the file is no longer read
    assert take_fingerprint(path, second, now_ns=later) == (second, False)


def test_missing_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    first, _ = take_fingerprint(path)
    assert first.key is None
    path.write_text("")
    assert take_fingerprint(path, first)[1]


async def test_added_path_reported_on_next_round(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("")
    send, receive = trio.open_memory_channel[WatchEvent](10)
    poller = Poller(send, INTERVAL)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(poller.run)
        poller.add(path, report=True)
        assert await receive.receive() == path  # reported as is: no hold
        assert await nothing_for(receive, 3)
        nursery.cancel_scope.cancel()


def test_interval_must_be_positive() -> None:
    send, _ = trio.open_memory_channel[WatchEvent](1)
    with pytest.raises(ValueError, match="poll_interval"):
        Poller(send, 0)


# --- what a hash may read ------------------------------------------------------------------------


@pytest.fixture
def reads_of(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], list[int]]:
    """``reads_of(path)``: the sizes of every ``os.read`` of this process that returned bytes
    of ``path`` (through any name), from now on."""
    seen: dict[str, list[int]] = {}
    read = os.read

    def spy(fd: int, n: int) -> bytes:
        data = read(fd, n)
        with contextlib.suppress(OSError):
            seen.setdefault(os.readlink(f"/proc/self/fd/{fd}"), []).append(len(data))
        return data

    monkeypatch.setattr(os, "read", spy)
    return lambda path: seen.get(str(path.resolve()), [])


def test_a_file_over_max_size_is_never_read(
    tmp_path: Path, reads_of: Callable[[Path], list[int]]
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("a = 1\n" * 200)  # 1,200 bytes, written just now: racy, due a hash
    first, _ = take_fingerprint(path, max_size=1000)
    assert (first.digest, reads_of(path)) == (None, [])  # its stat fields alone, nothing read
    # Its stat fields still tell every change that can matter: the loader refuses it until it
    # shrinks, and shrinking changes its size.
    path.write_text("a = 2\n")
    second, changed = take_fingerprint(path, first, max_size=1000)
    assert changed
    assert second.digest is not None  # small enough now: hashed (the racy rule)
    assert reads_of(path) == [6]


@pytest.mark.parametrize("kind", ["file", "folder"])
async def test_pollers_never_read_more_than_max_size(
    tmp_path: Path, reads_of: Callable[[Path], list[int]], kind: str
) -> None:
    import trioconf

    folder = tmp_path / "conf.d"
    folder.mkdir()
    path = folder / "app.toml"
    path.write_text("a = 1\n" * 200)
    send, receive = trio.open_memory_channel[WatchEvent](100)
    paths = [path] if kind == "file" else []
    directories = [trioconf.Directory(folder)] if kind == "folder" else []
    watcher = partial(
        run_watcher, paths, send, directories=directories, backend="poll", poll_interval=0.01
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(watcher, max_size=1000))
        path.write_text("a = 2\n" * 200)  # the same size: a poll round would hash it
        with trio.fail_after(PATIENCE):
            assert await receive.receive() == Hold(path)  # its mtime moved: held
            assert await receive.receive() == path  # and settled
        nursery.cancel_scope.cancel()
    assert reads_of(path) == []


async def test_a_file_its_writer_holds_locked_is_not_read_and_reported_twice(
    tmp_path: Path, reads_of: Callable[[Path], list[int]]
) -> None:
    """Not read while a cooperating writer holds its lock (the poller waits for nothing):
    reported when the writer is first seen at work, and once more when it is done."""
    from locked_writer import locked_writer

    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    first, _ = take_fingerprint(path)
    async with locked_writer(path, ['name = "two"\n', "port = 2\n"]) as writer:
        await writer.wrote(0)
        before = len(reads_of(path))
        seen, changed = take_fingerprint(path, first)
        assert (seen.locked, seen.digest, changed) == (True, None, True)
        again, changed = take_fingerprint(path, seen)  # still at work: nothing new to say
        assert (again.locked, changed) == (True, False)
        # One read, optimistic, saw the sidecar beside the file; none since.
        assert len(reads_of(path)) == before + 1
        await writer.finish()
    done, changed = take_fingerprint(path, again)
    assert (done.locked, changed) == (False, True)
    assert take_fingerprint(path, done) == (done, False)


async def test_a_polled_folders_files_settle_before_they_are_reported(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # The folder poller's settle rule: a file written slowly (a valid first half, a pause
    # shorter than the interval), a file deleted and re-created, a file deleted for good.
    import trioconf

    folder = tmp_path / "conf.d"
    folder.mkdir()
    slow, replaced, removed = (folder / f"{n}.yaml" for n in ("slow", "replaced", "removed"))
    for path in (slow, replaced, removed):
        path.write_text("plan: free\n")
    send, receive = trio.open_memory_channel[WatchEvent](100)
    watcher = partial(
        run_watcher, [], send, directories=[trioconf.Directory(folder)], backend="poll",
        poll_interval=INTERVAL,
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(watcher)

        async def writers() -> None:
            removed.unlink()
            replaced.unlink()
            with open(slow, "w") as f:
                f.write("plan: pro\n")
                f.flush()
                await trio.sleep(INTERVAL * 0.8)
                replaced.write_text("plan: pro\n")
                f.write("seats: 10\n")

        nursery.start_soon(writers)
        reported: dict[Path, str] = {}
        holds: set[Path] = set()
        with trio.fail_after(10 * INTERVAL):
            while len(reported) < 3:
                event = await receive.receive()
                if isinstance(event, Hold):
                    holds.add(event.path)
                else:
                    assert isinstance(event, Path)
                    reported[event] = event.read_text() if event.exists() else "gone"
        nursery.cancel_scope.cancel()
    assert reported == {
        slow: "plan: pro\nseats: 10\n",  # whole, never its first half
        replaced: "plan: pro\n",
        removed: "gone",
    }
    assert holds == {slow, replaced, removed}
