"""FileGuard: per-path locks, the concurrency limit, cross-process flock, timeouts, conflicts,
and the reloader reading under the shared lock. Real files, real processes, real flock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE, wait_until

import trioconf
from trioconf._errors import ConcurrentModification, LockTimeout, OperationTimeout
from trioconf._guard import FileGuard
from trioconf._sidecar import (
    shared_lock_if_present,
    shared_lock_if_present_sync,
    shared_lock_nowait,
)


def counter(path: Path) -> int:
    return int(json.loads(path.read_text())["counter"])


def bump(old: bytes | None) -> str:
    data = json.loads(old or b'{"counter": 0}')
    data["counter"] += 1
    return json.dumps(data)


@pytest.fixture
def counter_file(tmp_path: Path) -> Path:
    path = tmp_path / "race_test.json"
    path.write_text('{"counter": 0}')
    return path


# -- in one process: the design document's test, the limiter, shared vs exclusive -------------


async def test_five_concurrent_read_modify_writes_under_a_limit_of_two(counter_file: Path) -> None:
    guard = FileGuard(max_concurrent=2, lock_timeout=PATIENCE, operation_timeout=PATIENCE)
    observed: list[int] = []

    async def increment() -> None:
        async with guard.exclusive(counter_file) as f:
            old = await f.read()
            observed.append(guard.statistics().active)
            await trio.sleep(0.05)  # the work: other tasks run now, and must wait their turn
            await f.write(bump(old))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(increment)

    assert counter(counter_file) == 5
    stats = guard.statistics()
    # Two slots: one task in the body, one holding a slot while it awaits the path's lock.
    assert max(observed) == 2
    assert stats.peak_active == 2
    assert (stats.operations, stats.active, stats.waiting, stats.paths) == (5, 0, 0, 0)
    assert (stats.lock_timeouts, stats.operation_timeouts, stats.conflicts) == (0, 0, 0)


async def test_the_limiter_bounds_operations_on_different_files(tmp_path: Path) -> None:
    guard = FileGuard(max_concurrent=2)
    running = 0
    peak = 0

    async def work(i: int) -> None:
        nonlocal running, peak
        async with guard.exclusive(tmp_path / f"f{i}.json"):
            running += 1
            peak = max(peak, running)
            await trio.sleep(0.02)
            running -= 1

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(work, i)
    assert peak == 2
    assert guard.statistics().paths == 0


async def test_run_is_read_modify_write_and_none_leaves_the_file(counter_file: Path) -> None:
    guard = FileGuard()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(guard.run, counter_file, bump)
    assert counter(counter_file) == 10
    inode = counter_file.stat().st_ino
    assert await guard.run(counter_file, lambda old: None) is None
    assert await guard.run(counter_file, lambda old: old) == counter_file.read_bytes()
    assert counter_file.stat().st_ino == inode  # unchanged content: nothing written
    missing = counter_file.with_name("missing.json")
    await guard.run(missing, bump)
    assert counter(missing) == 1


async def test_shared_holders_overlap_and_exclude_a_writer(counter_file: Path) -> None:
    guard = FileGuard()
    inside = 0
    both_inside = trio.Event()
    release = trio.Event()
    log: list[str] = []

    async def reader(name: str) -> None:
        nonlocal inside
        async with guard.shared(counter_file):
            inside += 1
            if inside == 2:
                both_inside.set()
            await release.wait()
            log.append(f"{name} out")
            inside -= 1

    async def writer() -> None:
        async with guard.exclusive(counter_file):
            log.append("writer in")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader, "r1")
        nursery.start_soon(reader, "r2")
        with trio.fail_after(PATIENCE):
            await both_inside.wait()  # two shared holders at once
        nursery.start_soon(writer)
        await wait_until(lambda: guard.statistics().waiting == 1)
        assert log == []  # the writer waits for both readers
        release.set()
    assert log[-1] == "writer in"
    assert sorted(log[:2]) == ["r1 out", "r2 out"]


async def test_a_waiting_writer_keeps_new_readers_out(counter_file: Path) -> None:
    guard = FileGuard()
    release = trio.Event()
    order: list[str] = []

    async def first_reader() -> None:
        async with guard.shared(counter_file):
            await release.wait()
            order.append("first reader")

    async def writer() -> None:
        async with guard.exclusive(counter_file):
            order.append("writer")

    async def late_reader() -> None:
        async with guard.shared(counter_file):
            order.append("late reader")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(first_reader)
        await wait_until(lambda: guard.statistics().operations == 1)
        nursery.start_soon(writer)
        await wait_until(lambda: guard.statistics().waiting == 1)
        nursery.start_soon(late_reader)
        await wait_until(lambda: guard.statistics().waiting == 2)
        release.set()
    assert order == ["first reader", "writer", "late reader"]


# -- timeouts -----------------------------------------------------------------------------


async def test_lock_timeout_in_process_names_the_holding_task(counter_file: Path) -> None:
    guard = FileGuard(lock_timeout=0.2)
    held = trio.Event()
    release = trio.Event()

    async def holder() -> None:
        async with guard.exclusive(counter_file):
            held.set()
            await release.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(holder, name="the-holder")
        await held.wait()
        with trio.fail_after(PATIENCE), pytest.raises(LockTimeout) as info:
            await guard.run(counter_file, bump)
        release.set()
    assert isinstance(info.value, trioconf.ConfigError)
    assert info.value.path == str(counter_file)
    assert info.value.timeout == 0.2
    assert "the-holder" in str(info.value)
    assert str(counter_file) in str(info.value)
    assert guard.statistics().lock_timeouts == 1
    assert guard.statistics().paths == 0
    await guard.run(counter_file, bump)  # nothing left held
    assert counter(counter_file) == 1


async def test_lock_timeout_of_a_writer_waiting_for_shared_holders_names_them(
    counter_file: Path,
) -> None:
    guard = FileGuard(lock_timeout=0.2)
    async with guard.shared(counter_file):
        with trio.fail_after(PATIENCE), pytest.raises(LockTimeout) as info:
            await guard.run(counter_file, bump)
        assert info.value.holder == "1 shared holder(s) in this process"
        async with guard.shared(counter_file):  # the timed-out writer keeps no reader out
            pass
    await guard.run(counter_file, bump)
    assert counter(counter_file) == 1


async def test_lock_timeout_waiting_for_a_slot_says_so(tmp_path: Path) -> None:
    guard = FileGuard(max_concurrent=1, lock_timeout=0.1)
    async with guard.exclusive(tmp_path / "a.json"):
        with trio.fail_after(PATIENCE), pytest.raises(LockTimeout) as info:
            await guard.run(tmp_path / "b.json", bump)  # another file: only the slot is busy
    assert info.value.holder == "the guard's 1 operation slots (all busy)"
    assert guard.statistics().lock_timeouts == 1


async def test_operation_timeout_cancels_the_block_and_releases_the_locks(
    counter_file: Path,
) -> None:
    guard = FileGuard(operation_timeout=0.1, lock_timeout=PATIENCE)
    with trio.fail_after(PATIENCE), pytest.raises(OperationTimeout) as info:
        async with guard.exclusive(counter_file):
            await trio.sleep_forever()
    assert str(counter_file) in str(info.value)
    assert guard.statistics().operation_timeouts == 1
    # The same guard, the same path: the lock and the sidecar flock were released.
    await guard.run(counter_file, bump)
    assert counter(counter_file) == 1


# Skips happen in sync fixtures: a pytest.skip raised inside an async test (pytest-trio) is
# reported without its reason.


@pytest.fixture
def flock_program() -> None:
    if shutil.which("flock") is None:
        pytest.skip("flock(1) from util-linux is not installed")


@contextlib.asynccontextmanager
async def flock_held_by_another_process(lock_file: Path) -> AsyncIterator[trio.Process]:
    """util-linux flock(1) holding LOCK_EX on ``lock_file``: -F so that the process we start
    is the one holding the lock (no forked child keeps it after a kill)."""
    proc = await trio.lowlevel.open_process(
        ["flock", "-F", "-x", str(lock_file), "sh", "-c", "echo locked; exec sleep 600"],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        with trio.fail_after(PATIENCE):
            assert (await proc.stdout.receive_some(64)).startswith(b"locked")
        yield proc
    finally:
        proc.kill()
        await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.aclose()


@pytest.mark.usefixtures("flock_program")
async def test_lock_held_by_another_process_past_the_timeout_is_a_clear_error(
    counter_file: Path,
) -> None:
    lock_file = counter_file.with_name(".race_test.json.lock")
    guard = FileGuard(lock_timeout=0.3)
    async with flock_held_by_another_process(lock_file) as holder:
        start = trio.current_time()
        with trio.fail_after(PATIENCE), pytest.raises(LockTimeout) as info:
            await guard.run(counter_file, bump)
        waited = trio.current_time() - start
        assert info.value.holder == f"pid {holder.pid} (sleep)"
        assert f"held by pid {holder.pid} (sleep)" in str(info.value)
        # Readers time out the same way.
        with trio.fail_after(PATIENCE), pytest.raises(LockTimeout) as reader_info:
            async with shared_lock_if_present(counter_file, 0.1):
                pass
        assert reader_info.value.holder == f"pid {holder.pid} (sleep)"
    # The explicit bound of the issue: an error, not a hang (generous margin: noisy machine).
    assert 0.3 <= waited < 0.3 + 5
    assert counter(counter_file) == 0
    await guard.run(counter_file, bump)  # the holder is gone: granted
    assert counter(counter_file) == 1


@pytest.mark.usefixtures("flock_program")
async def test_sync_readers_wait_on_a_backoff_and_time_out_naming_the_holder(
    counter_file: Path,
) -> None:
    """``trioconf.load`` and ``trioconf check`` read without an event loop: the same shared
    lock, waited for with ``time.sleep`` (here in a thread, as the blocking call it is)."""
    lock_file = counter_file.with_name(".race_test.json.lock")

    def read_locked(timeout: float) -> bytes:
        with shared_lock_if_present_sync(counter_file, timeout):
            return counter_file.read_bytes()

    async with flock_held_by_another_process(lock_file) as holder:
        start = trio.current_time()
        with pytest.raises(LockTimeout) as info:
            await trio.to_thread.run_sync(read_locked, 0.3)
        waited = trio.current_time() - start
        assert info.value.path == str(counter_file)
        assert info.value.holder == f"pid {holder.pid} (sleep)"
        # The same moment, without waiting: the poller's try.
        with shared_lock_nowait(counter_file) as granted:
            assert not granted
        # A sync reader already waiting is granted the lock as soon as the holder goes.
        async with trio.open_nursery() as nursery:
            waiting = trio.Event()

            async def reader() -> None:
                waiting.set()
                assert await trio.to_thread.run_sync(read_locked, PATIENCE) == b'{"counter": 0}'

            nursery.start_soon(reader)
            await waiting.wait()
            holder.kill()
    assert 0.3 <= waited < 0.3 + 5
    with shared_lock_nowait(counter_file) as granted:
        assert granted
        with pytest.raises(BlockingIOError), open(lock_file) as f:  # held shared: no writer
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_sync_and_nowait_readers_create_no_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    with shared_lock_if_present_sync(path, 1):
        pass
    with shared_lock_nowait(path) as granted:
        assert granted  # nothing to wait for where no writer ever cooperated
    assert os.listdir(tmp_path) == ["app.toml"]


# -- four processes ------------------------------------------------------------------------

_INCREMENT_CHILD = """
import json, sys, trio
from trioconf._guard import FileGuard

def bump(old):
    data = json.loads(old)
    data["counter"] += 1
    return json.dumps(data)

async def main(path, n):
    guard = FileGuard(lock_timeout=120)
    for _ in range(n):
        await guard.run(path, bump)

trio.run(main, sys.argv[1], int(sys.argv[2]))
"""


async def test_four_processes_doing_100_locked_increments_each(counter_file: Path) -> None:
    async def child() -> None:
        await trio.run_process([sys.executable, "-c", _INCREMENT_CHILD, str(counter_file), "100"])

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(child)
    assert counter(counter_file) == 400


# -- concurrent modification by a writer that ignores the lock -------------------------------


async def test_a_write_that_ignored_the_lock_is_detected_and_not_overwritten(
    counter_file: Path,
) -> None:
    guard = FileGuard()

    async def increment_with_a_rude_writer_in_between() -> None:
        async with guard.exclusive(counter_file) as f:
            old = await f.read()
            counter_file.write_text('{"counter": 41}')  # a writer that ignores the lock
            await f.write(bump(old))

    async def read_with_a_rude_writer_in_between() -> None:
        async with guard.exclusive(counter_file) as f:
            await f.read()
            counter_file.write_text('{"counter": 42, "x": 1}')

    with pytest.raises(ConcurrentModification) as info:
        await increment_with_a_rude_writer_in_between()
    assert str(counter_file) in str(info.value)
    assert counter(counter_file) == 41  # refused at write(): its change was not lost
    assert guard.statistics().conflicts == 1

    with pytest.raises(ConcurrentModification):
        await read_with_a_rude_writer_in_between()  # detected when the block ends
    assert guard.statistics().conflicts == 2

    quiet = FileGuard(detect_changes=False)
    async with quiet.exclusive(counter_file) as f:
        counter_file.write_text('{"counter": 43}')
        await f.write(bump(await f.read()))
    assert counter(counter_file) == 44
    assert quiet.statistics().conflicts == 0


async def test_own_writes_are_not_conflicts(counter_file: Path) -> None:
    guard = FileGuard()
    async with guard.exclusive(counter_file) as f:
        await f.write(bump(await f.read()))
        await f.write(bump(await f.read()))  # the second write checks against the first
    async with guard.exclusive(counter_file) as f:
        with open(f.target, "w") as fh:  # in place, by the block itself
            fh.write('{"counter": 7}')
        f.mark_written()
    assert counter(counter_file) == 7
    assert guard.statistics().conflicts == 0


# -- the reloader reads under the shared lock ------------------------------------------------


@attrs.frozen
class Cfg:
    name: str
    port: int = -1  # a half-written file (the name line only) is still valid: port = -1


async def test_in_place_writer_under_the_lock_never_exposes_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "v0"\nport = 0\n')
    guard = FileGuard()
    async with trioconf.open_reloader(Cfg, path, debounce=0, backend="inotify") as live:
        for i in range(1, 4):
            reloads = live.statistics().reloads
            async with guard.exclusive(path) as f:
                with open(path, "r+b") as fh:
                    fh.truncate(0)
                    fh.write(f'name = "v{i}"\n'.encode())
                # Closed: IN_CLOSE_WRITE, and the reloader starts reading right now, before
                # any checkpoint of its own, unless the lock stops it.
                await wait_until(lambda: live.statistics().reloads > reloads)  # noqa: B023
                with open(path, "ab") as fh:
                    fh.write(f"port = {i}\n".encode())
                f.mark_written()
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c: c.port == i)  # noqa: B023
        history = live.history
    assert [type(r).__name__ for r in history] == ["Update"] * 4
    assert [r.config for r in history] == [Cfg(f"v{i}", i) for i in range(4)]  # type: ignore[union-attr]


@pytest.mark.usefixtures("flock_program")
async def test_reader_lock_timeout_keeps_the_last_good_and_retries_on_the_next_event(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\nport = 1\n')
    lock_file = tmp_path / ".app.toml.lock"
    async with trioconf.open_reloader(Cfg, path, debounce=0, lock_timeout=0.2) as live:
        async with flock_held_by_another_process(lock_file) as holder:
            path.write_text('name = "two"\nport = 2\n')
            await wait_until(lambda: live.last_error is not None)
            error = live.last_error
            assert isinstance(error, LockTimeout)
            assert error.path == str(path)
            assert error.holder == f"pid {holder.pid} (sleep)"
            assert live.current == Cfg("one", 1)
        os.utime(path)  # the next event, with the holder gone
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.port == 2)
        assert live.last_error is None


async def test_readers_never_create_lock_files(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    async with trioconf.open_reloader(Cfg, path, debounce=0) as live:
        path.write_text('name = "two"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")
    async with shared_lock_if_present(path, 1):
        pass
    assert os.listdir(tmp_path) == ["app.toml"]


# -- read-only directories: the sidecar is skipped, the in-process lock still holds ---------

_READ_ONLY_CHILD = """
import json, sys, trio
from trioconf._errors import LockTimeout
from trioconf._guard import FileGuard

async def main(path):
    guard = FileGuard(lock_timeout=0.2)
    result = {}

    async def second_holder():
        try:
            async with guard.shared(path):
                pass
        except LockTimeout as exc:
            result["second"] = str(exc)

    async with guard.exclusive(path) as f:
        result["lock_path"] = f.lock_path
        result["content"] = (await f.read()).decode()
        async with trio.open_nursery() as nursery:  # another task, while this one holds it
            nursery.start_soon(second_holder)
    result["unlocked"] = guard.statistics().unlocked
    print(json.dumps(result))

trio.run(main, sys.argv[1])
"""


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    # Not under tmp_path: pytest's base directory is 0o700, closed to an unprivileged uid.
    base = Path(tempfile.mkdtemp(prefix="trioconf-ro-"))
    try:
        base.chmod(0o755)
        config_dir = base / "config"
        config_dir.mkdir()
        (config_dir / "app.toml").write_text('name = "ro"\n')
        config_dir.chmod(0o555)
        yield config_dir / "app.toml"
    finally:
        config_dir.chmod(0o755)
        shutil.rmtree(base)


def _check_read_only_child(path: Path, stdout: bytes) -> None:
    result = json.loads(stdout)
    assert result["lock_path"] is None
    assert result["content"] == 'name = "ro"\n'
    assert result["unlocked"] == 1
    assert "in this process" in result["second"]  # the in-process lock held without flock
    assert os.listdir(path.parent) == ["app.toml"]


# Root writes anywhere: drop CAP_DAC_OVERRIDE (root stays the owner of the mode-0555
# directory, whose owner bits forbid writing), or become uid 65534 where that is impossible. A
# pyenv interpreter under mode-700 /root may not start as uid 65534, hence the order.
_UNPRIVILEGED = [
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"],
    ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
]


@pytest.fixture
def unprivileged(read_only_dir: Path) -> list[str]:
    """A command prefix under which ``read_only_dir``'s directory really refuses a new file."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    probe_code = "import sys, trioconf; open(sys.argv[1], 'x')"
    reasons = []
    for command in _UNPRIVILEGED:
        probe = subprocess.run(
            [*command, sys.executable, "-c", probe_code, str(read_only_dir.parent / "probe")],
            capture_output=True,
            check=False,
        )
        if b"PermissionError" in probe.stderr:
            return command
        reasons.append((probe.stderr.decode().strip().splitlines() or ["created it"])[-1])
    pytest.skip(f"no way to make a directory refuse a child here: {reasons}")


async def test_read_only_directory_eacces_skips_the_sidecar(
    read_only_dir: Path, unprivileged: list[str]
) -> None:
    result = await trio.run_process(
        [*unprivileged, sys.executable, "-c", _READ_ONLY_CHILD, str(read_only_dir)],
        capture_stdout=True,
    )
    _check_read_only_child(read_only_dir, result.stdout)


@pytest.fixture
def read_only_mount(read_only_dir: Path) -> list[str]:
    """A command prefix running a program with ``read_only_dir``'s directory mounted read-only,
    as a ConfigMap volume is: a read-only bind mount in a private mount namespace."""
    d = str(read_only_dir.parent)
    os.chmod(d, 0o755)  # writable to root, but for the mount
    script = f'mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec "$@"'
    command = ["unshare", "--mount", "sh", "-c", script, "sh"]
    probe = subprocess.run([*command, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.decode().strip()}")
    return command


async def test_read_only_mount_erofs_skips_the_sidecar(
    read_only_dir: Path, read_only_mount: list[str]
) -> None:
    result = await trio.run_process(
        [*read_only_mount, sys.executable, "-c", _READ_ONLY_CHILD, str(read_only_dir)],
        capture_stdout=True,
    )
    _check_read_only_child(read_only_dir, result.stdout)
    # Mounted read-only, the directory itself stayed writable: only EROFS stopped the sidecar.
    assert stat.S_IMODE(read_only_dir.parent.stat().st_mode) == 0o755
