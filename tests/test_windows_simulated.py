"""trioconf without the POSIX pieces Windows lacks: a simulation on Linux, not Windows.

Each test runs a child Python whose prelude takes away what a Windows Python does not have
(``fcntl``, ``os.O_NONBLOCK``/``O_CLOEXEC``/``O_NOFOLLOW``/``O_DIRECTORY``, ``os.fchmod``,
``os.getuid``, ``os.major``, ``SIGKILL``/``SIGSTOP``/``SIGHUP``, ``os.access`` skipping
symlinks) and says ``sys.platform == "win32"`` (after trio, trio-parallel and multiprocessing
are imported, so that they keep their Linux implementations), then imports trioconf and uses
it. What it cannot show: Windows' own filesystem (drive letters, backslashes, CRLF translation
without ``O_BINARY``, files held open refusing a rename) and ReadDirectoryChangesW. The GitHub
Actions workflow runs tests on real Windows and macOS runners; it has never run (see
docs/backends.rst).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The simulation takes POSIX pieces away: it needs them there to begin with.
pytestmark = pytest.mark.posix_only

PRELUDE = """
import os, signal, sys, tempfile, subprocess, importlib.util
# Modules that choose their implementation by sys.platform when imported: imported first, as
# the real Linux ones (Windows has its own).
import multiprocessing, multiprocessing.reduction, multiprocessing.context
import trio, trio_parallel, attrs, cattrs

sys.modules["fcntl"] = None  # "import fcntl" raises ImportError, as on Windows
for name in ("O_NONBLOCK", "O_CLOEXEC", "O_NOFOLLOW", "O_DIRECTORY",
             "fchmod", "getuid", "getgid", "major", "minor"):
    if hasattr(os, name):
        delattr(os, name)
for name in ("SIGKILL", "SIGSTOP", "SIGHUP"):
    delattr(signal, name)
_access = os.access
def access(path, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):
    if not follow_symlinks:
        raise NotImplementedError("access: follow_symlinks unavailable on this platform")
    return _access(path, mode, dir_fd=dir_fd, effective_ids=effective_ids)
os.access = access
sys.platform = "win32"
"""


def run_simulated(script: str, tmp_path: Path, *, watchfiles: bool = True) -> str:
    prelude = PRELUDE if watchfiles else PRELUDE + 'sys.modules["watchfiles"] = None\n'
    code = prelude + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_simulation_really_takes_the_posix_pieces_away(tmp_path: Path) -> None:
    out = run_simulated(
        """
        try:
            import fcntl
        except ImportError:
            print("no fcntl")
        print(hasattr(os, "O_NONBLOCK"), sys.platform)
        """,
        tmp_path,
    )
    assert out.split("\n")[:2] == ["no fcntl", "False win32"]


def test_import_and_load(tmp_path: Path) -> None:
    out = run_simulated(
        """
        import pathlib
        import trioconf
        from trioconf import _sidecar

        @attrs.frozen
        class Config:
            port: int
            name: str = "x"

        path = pathlib.Path(sys.argv[1]) / "app.toml"
        path.write_text('port = 8080\\nname = "win"\\n')
        print(trioconf.load(Config, path), _sidecar.LOCKING)
        bad = pathlib.Path(sys.argv[1]) / "bad.toml"
        bad.write_text('port = "eighty"\\n')
        try:
            trioconf.load(Config, bad)
        except trioconf.ConfigError as exc:
            print(type(exc).__name__, f"{bad}:1:1: port" in str(exc))
        """,
        tmp_path,
    )
    assert out.splitlines() == ["Config(port=8080, name='win') False", "ValidationError True"]


RELOAD = """
    import logging, pathlib
    import trioconf
    from trioconf._watch import run_watcher

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)

    @attrs.frozen
    class Config:
        port: int

    path = pathlib.Path(sys.argv[1]) / "app.toml"
    path.write_text("port = 1\\n")

    async def main():
        send, receive = trio.open_memory_channel(100)
        async with trio.open_nursery() as nursery:
            print(await nursery.start(run_watcher, [path], send))  # "auto"
            nursery.cancel_scope.cancel()
        async with trioconf.open_reloader(Config, path, backend=BACKEND, poll_interval=0.05,
                                          debounce=0) as live:
            path.write_text("port = 2\\n")
            with trio.fail_after(15):
                await live.wait_value(lambda c: c.port == 2)
            print("reloaded", live.current)

    trio.run(main)
"""


def test_auto_without_watchfiles_polls_loudly_and_poll_reloads(tmp_path: Path) -> None:
    out = run_simulated('BACKEND = "poll"\n' + textwrap.dedent(RELOAD), tmp_path, watchfiles=False)
    lines = out.splitlines()
    assert "watchfiles is not installed: polling every 1 s" in lines[0]
    assert "pip install 'trioconf[watchfiles]'" in lines[0]
    assert lines[1:] == ["poll", "reloaded Config(port=2)"]


def test_auto_means_watchfiles_off_linux(tmp_path: Path) -> None:
    pytest.importorskip("watchfiles")
    out = run_simulated('BACKEND = "auto"\n' + textwrap.dedent(RELOAD), tmp_path)
    assert out.splitlines() == ["watchfiles", "reloaded Config(port=2)"]


def test_file_guard_refuses_without_flock(tmp_path: Path) -> None:
    out = run_simulated(
        """
        import pathlib
        import trioconf

        for make in (trioconf.FileGuard, lambda: trio.run(trioconf.write_atomic,
                                                           pathlib.Path(sys.argv[1]) / "x", "")):
            try:
                make()
            except NotImplementedError as exc:
                print(str(exc).split(",")[0])
        print(sorted(p.name for p in pathlib.Path(sys.argv[1]).iterdir()))
        """,
        tmp_path,
    )
    assert out.splitlines() == [
        "FileGuard and write_atomic need flock()",
        "FileGuard and write_atomic need flock()",
        "[]",
    ]
