"""trioconf.write_atomic: content, mode, symlinks, and no temp file left behind, ever."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE

import trioconf
from trioconf._guard import write_atomic


def leftovers(directory: Path, name: str) -> set[str]:
    """Everything in the directory but the file itself and its (persistent) lock sidecar."""
    return set(os.listdir(directory)) - {name, f".{name}.lock"}


async def test_replaces_content_keeps_mode_and_leaves_only_the_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "old"\n')
    path.chmod(0o640)
    before = path.stat()

    await write_atomic(path, 'name = "new"\n')

    after = path.stat()
    assert path.read_text() == 'name = "new"\n'
    assert after.st_mode & 0o7777 == 0o640
    assert after.st_ino != before.st_ino  # replaced by rename, not rewritten in place
    assert leftovers(tmp_path, path.name) == set()
    assert (tmp_path / ".app.toml.lock").exists()


async def test_new_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    reference = tmp_path / "reference"
    reference.write_bytes(b"")  # created by open(): 0o666 filtered by the umask

    await write_atomic(path, b'{"a": 1}')

    assert path.read_bytes() == b'{"a": 1}'
    assert path.stat().st_mode & 0o7777 == reference.stat().st_mode & 0o7777
    assert leftovers(tmp_path, path.name) == {"reference"}


async def test_symlink_is_kept_and_its_target_replaced(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "app.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o600)
    link = tmp_path / "app.yaml"
    link.symlink_to(target)

    await write_atomic(link, "a: 2\n")

    assert link.is_symlink()
    assert target.read_text() == "a: 2\n"
    assert target.stat().st_mode & 0o7777 == 0o600
    # The lock and the temp file live beside the target, where the rename happens.
    assert (real_dir / ".app.yaml.lock").exists()
    assert leftovers(real_dir, target.name) == set()
    assert set(os.listdir(tmp_path)) == {"real", "app.yaml"}


async def test_error_at_rename_removes_the_temp_file(tmp_path: Path) -> None:
    # A directory where the file should be: the temp is written, the rename fails.
    path = tmp_path / "app.toml"
    path.mkdir()
    (path / "keep").write_text("x")

    with pytest.raises(IsADirectoryError):
        await write_atomic(path, 'name = "new"\n')

    assert leftovers(tmp_path, path.name) == set()
    assert os.listdir(path) == ["keep"]


_FSIZE_CHILD = """
import resource, sys, trio, trioconf
# Writes past 64 KiB fail with EFBIG (Python ignores SIGXFSZ): a disk running full mid-write.
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    trio.run(trioconf._guard.write_atomic, sys.argv[1], b"x" * 200_000)
except OSError as exc:
    print(exc.errno)
"""


async def test_error_mid_write_removes_the_temp_file_and_keeps_the_old_content(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "old"\n')

    result = await trio.run_process(
        [sys.executable, "-c", _FSIZE_CHILD, str(path)], capture_stdout=True, check=False
    )

    assert result.returncode == 0, result
    assert result.stdout.decode().strip() == "27"  # EFBIG
    assert path.read_text() == 'name = "old"\n'
    assert leftovers(tmp_path, path.name) == set()


async def test_cancelled_before_the_rename_removes_the_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "old"\n')
    big = b"#" * (64 * 1024 * 1024)  # long enough to write and fsync that the cancel lands first
    seen_temp = False

    async def cancel_once_the_temp_exists(scope: trio.CancelScope) -> None:
        nonlocal seen_temp
        with trio.fail_after(PATIENCE):
            while not leftovers(tmp_path, path.name):  # noqa: ASYNC110 (no event for a file)
                await trio.sleep(0.001)
        seen_temp = True
        scope.cancel()

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as scope:
            nursery.start_soon(cancel_once_the_temp_exists, scope)
            await write_atomic(path, big)
    assert seen_temp
    assert scope.cancelled_caught
    assert path.read_text() == 'name = "old"\n'
    assert leftovers(tmp_path, path.name) == set()


async def test_cancelled_before_it_starts_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "old"\n')
    with trio.CancelScope() as scope:
        scope.cancel()
        await write_atomic(path, 'name = "new"\n')
    assert path.read_text() == 'name = "old"\n'
    assert leftovers(tmp_path, path.name) == set()


@attrs.frozen
class Config:
    name: str


async def test_the_reloader_sees_only_the_rename_never_the_temp(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    async with trioconf.open_reloader(Config, path, debounce=0, backend="inotify") as live:
        for name in ["two", "three", "four"]:
            await write_atomic(path, f'name = "{name}"\n')
            with trio.fail_after(PATIENCE):
                await live.wait_value(lambda c, name=name: c.name == name)
        stats = live.statistics()
    # One watcher event per write (the rename onto the name): the temp file's creation,
    # writes and close, and the sidecar's, were never reported.
    assert stats.events == 3
    assert stats.applied == 3
    assert all(isinstance(r, trioconf.Update) for r in live.history)


async def test_the_temp_file_is_never_more_open_than_the_file_it_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 0600 file holding secrets: its temp is created 0600, not with the umask's mode and
    narrowed later (an fd opened on it meanwhile would keep reading what is written)."""
    import trioconf._write

    path = tmp_path / "secrets.json"
    path.write_text("{}")
    path.chmod(0o600)
    modes: list[int] = []
    fill = trioconf._write._fill

    def watched(fd: int, data: bytes, old: os.stat_result | None) -> None:
        modes.append(os.fstat(fd).st_mode & 0o7777)  # before a byte is written
        fill(fd, data, old)

    monkeypatch.setattr(trioconf._write, "_fill", watched)
    old_umask = os.umask(0o022)
    try:
        await write_atomic(path, '{"password": "hunter2"}')
    finally:
        os.umask(old_umask)
    assert modes == [0o600]
    assert path.stat().st_mode & 0o7777 == 0o600
