"""Faults on disk against a running reloader (issue 3, "Faults").

Every scenario runs a real reloader on real files and checks the same four things: while the
fault lasts the last good snapshot stays current, ``last_error`` is a ConfigError that names the
file and says why, the reloader keeps running, and once the fault is repaired the snapshot
converges on the good content. Each runs against every watcher backend (inotify, polling
every 50 ms, and watchfiles).

Permission faults need a reader that the kernel can refuse. The tests run as root, and root
reads a mode-000 file, so those scenarios run the reloader in a child process: a small driver
script prints one JSON line each time the snapshot or ``last_error`` changes, and the test reads
those lines. The child runs ``sys.executable`` with the installed trioconf (CI installs it
non-editable into nox's venv), so it must reach the interpreter, its shared library and its
site-packages. Dropping to uid 65534 loses them where the interpreter lives under a mode-700
/root (pyenv: the 3.10 build here cannot load ``libpython3.10.so`` as that uid), so the child
stays root but loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv --bounding-set``): as
the owner of everything the tests create, mode 000 refuses it all the same, and /root (mode 700,
its own) stays open. ``setpriv --reuid=65534`` is the fallback. A probe child checks once that
the chosen way imports trioconf and is refused a mode-000 file; if no way works the scenarios
skip, saying why. Not running as root, the driver runs as the current user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from support import PATIENCE, wait_until, write_atomic

import trioconf


@attrs.frozen
class Cfg:
    # Every field has a default: an empty document, if it were ever applied, would give Cfg(),
    # a visible change, so "never apply an empty config" is observable.
    name: str = "default"
    port: int = 0


GOOD = 'name = "good"\nport = 1\n'
FIXED = 'name = "fixed"\nport = 2\n'


def _where(error: BaseException | None) -> str:
    return "no error" if error is None else f"{type(error).__name__}: {error}"


async def expect_fault(
    live: trioconf.Live[Cfg],
    path: Path,
    kind: type[trioconf.ConfigError],
    reason: str,
    good: Cfg,
) -> trioconf.ConfigError:
    """Wait until ``last_error`` reports the fault; the last good snapshot must still be current."""
    version = live.version

    def reported() -> bool:
        error = live.last_error
        return isinstance(error, kind) and reason in str(error)

    try:
        await wait_until(reported)
    except trio.TooSlowError:
        pytest.fail(f"expected {kind.__name__} ({reason!r}), have {_where(live.last_error)}")
    error = live.last_error
    assert isinstance(error, trioconf.SourceError | trioconf.ParseError)
    assert str(path) in str(error)
    assert live.current == good
    assert live.version == version
    assert not live.closed
    return error


async def expect_converged(live: trioconf.Live[Cfg], want: Cfg) -> None:
    with trio.fail_after(PATIENCE):
        await live.wait_value(lambda c: c == want)
    await wait_until(lambda: live.last_error is None)
    assert not live.closed


@pytest.fixture(params=["inotify", "poll", "watchfiles"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every scenario runs against every watcher backend."""
    if request.param == "watchfiles":
        pytest.importorskip("watchfiles")
    return str(request.param)


def reloader(path: Path, backend: str, **kwargs: Any) -> Any:
    kwargs.setdefault("debounce", 0)
    kwargs.setdefault("missing_grace", 0.2)
    kwargs.setdefault("poll_interval", 0.05)
    kwargs["backend"] = backend
    return trioconf.open_reloader(Cfg, path, **kwargs)


# --- in-process scenarios (root is fine: nothing here depends on permissions) ---------------


async def test_file_replaced_by_a_directory_and_back(tmp_path: Path, backend: str) -> None:
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend) as live:
        good = live.current
        cfg.unlink()
        await expect_fault(live, cfg, trioconf.MissingSourceError, "does not exist", good)
        # The directory appears after the missing grace ran out: its creation alone must be
        # noticed and reported as what it is.
        cfg.mkdir()
        await expect_fault(live, cfg, trioconf.SourceError, "is a directory", good)
        cfg.rmdir()
        write_atomic(cfg, FIXED)
        await expect_converged(live, Cfg("fixed", 2))


async def test_file_swapped_for_a_directory_within_the_grace(tmp_path: Path, backend: str) -> None:
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend, missing_grace=5.0) as live:
        good = live.current
        cfg.unlink()
        cfg.mkdir()
        error = await expect_fault(live, cfg, trioconf.SourceError, "is a directory", good)
        assert not isinstance(error, trioconf.MissingSourceError)
        cfg.rmdir()
        cfg.write_text(FIXED)
        await expect_converged(live, Cfg("fixed", 2))


async def test_config_directory_removed_and_recreated(tmp_path: Path, backend: str) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    cfg = folder / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend) as live:
        good = live.current
        shutil.rmtree(folder)
        await expect_fault(live, cfg, trioconf.MissingSourceError, "does not exist", good)
        folder.mkdir()
        await trio.sleep(0.05)  # the directory exists empty for a while, as after a real mkdir
        cfg.write_text(FIXED)
        await expect_converged(live, Cfg("fixed", 2))


async def test_broken_symlink_then_target_created(tmp_path: Path, backend: str) -> None:
    target = tmp_path / "real.toml"
    target.write_text(GOOD)
    cfg = tmp_path / "app.toml"
    cfg.symlink_to(target.name)
    async with reloader(cfg, backend) as live:
        good = live.current
        target.unlink()
        reason = "is a symbolic link whose target does not exist"
        await expect_fault(live, cfg, trioconf.MissingSourceError, reason, good)
        write_atomic(target, FIXED)
        await expect_converged(live, Cfg("fixed", 2))


async def test_symlink_loop_then_fixed(tmp_path: Path, backend: str) -> None:
    hop = tmp_path / "hop.toml"
    hop.write_text(GOOD)
    cfg = tmp_path / "app.toml"
    cfg.symlink_to(hop.name)
    async with reloader(cfg, backend) as live:
        good = live.current
        # hop.toml → app.toml → hop.toml: a loop, swapped in atomically.
        tmp = tmp_path / ".hop.tmp"
        tmp.symlink_to(cfg.name)
        os.replace(tmp, hop)
        await expect_fault(live, cfg, trioconf.SourceError, "symbolic links", good)
        write_atomic(hop, FIXED)
        await expect_converged(live, Cfg("fixed", 2))


@pytest.mark.parametrize("how", ["truncate", "atomic", "whitespace", "comments"])
async def test_a_file_emptied_for_good_applies_as_no_settings_after_the_grace(
    tmp_path: Path, backend: str, how: str
) -> None:
    # Issue 8.7: emptied on purpose (its settings moved elsewhere), and still empty after
    # missing_grace: its values vanish like removed keys. Never before the grace, and never
    # as an error.
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend) as live:
        emptied = trio.current_time()
        if how == "truncate":
            cfg.write_bytes(b"")
        elif how == "atomic":
            write_atomic(cfg, "")
        elif how == "whitespace":
            cfg.write_text("\n  \n")
        else:
            cfg.write_text("# moved to /etc/app/conf.d\n")
        await expect_converged(live, Cfg())
        assert trio.current_time() - emptied >= 0.2  # missing_grace
        assert live.version == 2
        assert live.statistics().rejected == 0
        cfg.write_text(FIXED)
        await expect_converged(live, Cfg("fixed", 2))


@pytest.mark.parametrize("before", ["good", "broken"])
@pytest.mark.parametrize("shell", ["truncate-then-append", "append-line-by-line"])
async def test_a_file_emptied_for_a_moment_never_applies_empty(
    tmp_path: Path, backend: str, shell: str, before: str
) -> None:
    # The in-place writer's race: the file is empty between its truncate and its write (and
    # here a reader sees that state: two programs, each closing the file). Every prefix of
    # the new document is a valid config, so only the emptied-file rule keeps ``Cfg()`` out,
    # whether what the file held before had settings or did not parse (a fix being saved).
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    scripts = {
        # ``: > f`` and ``>>`` are two programs, each closing the file: both are reported.
        "truncate-then-append": """
            : > "$1"
            sleep 0.1
            printf 'name = "fixed"\\nport = 2\\n' >> "$1"
        """,
        "append-line-by-line": """
            : > "$1"
            sleep 0.05
            echo 'name = "fixed"' >> "$1"
            sleep 0.05
            echo 'port = 2' >> "$1"
        """,
    }
    async with reloader(cfg, backend, missing_grace=1.0) as live:
        if before == "broken":
            cfg.write_text('name = "good"\nport = \n')
            await wait_until(lambda: isinstance(live.last_error, trioconf.ParseError))
        await trio.run_process(["sh", "-c", scripts[shell], "sh", str(cfg)])
        await expect_converged(live, Cfg("fixed", 2))
        applied = [r.config for r in live.history if isinstance(r, trioconf.Update)]
    assert Cfg() not in applied, applied


async def test_an_empty_file_at_the_start_is_a_layer_that_sets_nothing(
    tmp_path: Path, backend: str
) -> None:
    base = tmp_path / "base.toml"
    base.write_text(GOOD)
    local = tmp_path / "local.yaml"
    local.write_text("")  # the override file, nothing in it yet
    async with trioconf.open_reloader(Cfg, base, local, backend=backend) as live:
        assert live.current == Cfg("good", 1)
        local.write_text("port: 7\n")
        await expect_converged(live, Cfg("good", 7))
    empty_json = tmp_path / "local.json"
    empty_json.write_text("")
    with pytest.raises(trioconf.ParseError, match="empty document"):
        trioconf.load(Cfg, base, empty_json)


_HOLDER = """\
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
print("written", flush=True)
sys.stdin.read()  # keep the descriptor open until the test closes our stdin
os.close(fd)
"""


async def test_file_kept_open_for_writing_by_another_process(tmp_path: Path, backend: str) -> None:
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend) as live:
        command = [sys.executable, "-c", _HOLDER, str(cfg), FIXED]
        proc = await trio.lowlevel.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            with trio.fail_after(PATIENCE):
                said = b""
                while not said.endswith(b"\n"):
                    said += await proc.stdout.receive_some()
                assert said == b"written\n"
                # The writer never closes: the watcher reports the path ~2 s after its last
                # IN_MODIFY (OPEN_WRITER_GRACE). PATIENCE is the generous bound.
                await live.wait_value(lambda c: c == Cfg("fixed", 2))
            assert proc.returncode is None, "converged only after the writer closed"
            assert live.last_error is None
        finally:
            await proc.stdin.aclose()
            with trio.fail_after(PATIENCE):
                await proc.wait()
            await proc.stdout.aclose()
        assert proc.returncode == 0
        assert live.version == 2


@pytest.mark.parametrize("save", ["in_place", "atomic"])
async def test_symlink_target_in_another_directory_changes_there(
    tmp_path: Path, backend: str, save: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "real.toml"
    target.write_text(GOOD)
    here = tmp_path / "here"
    here.mkdir()
    cfg = here / "app.toml"
    cfg.symlink_to(target)
    write: Callable[[Path, str], object] = (
        write_atomic if save == "atomic" else lambda p, text: p.write_text(text)
    )
    async with reloader(cfg, backend) as live:
        good = live.current
        write(target, 'name = "half\n')
        await expect_fault(live, cfg, trioconf.ParseError, "", good)
        write(target, FIXED)
        await expect_converged(live, Cfg("fixed", 2))


async def test_missing_required_file_waits_for_the_grace(tmp_path: Path, backend: str) -> None:
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    grace = 1.0
    async with reloader(cfg, backend, missing_grace=grace) as live:
        good = live.current
        # Gone and back within the grace: no error is ever recorded.
        cfg.unlink()
        await trio.sleep(grace / 4)  # really absent for a while, well inside the grace
        cfg.write_text(FIXED)
        await expect_converged(live, Cfg("fixed", 2))
        assert live.statistics().rejected == 0
        assert not [r for r in live.history if isinstance(r, trioconf.Failure)]

        # Gone for good: reported, and not before the grace ran out.
        good = live.current
        gone_at = trio.current_time()
        cfg.unlink()
        await expect_fault(live, cfg, trioconf.MissingSourceError, "does not exist", good)
        assert trio.current_time() - gone_at >= grace
        write_atomic(cfg, GOOD)
        await expect_converged(live, Cfg("good", 1))


async def test_a_file_reported_missing_gets_no_second_grace(tmp_path: Path) -> None:
    """Once reported, a missing file is re-checked at once: the grace is for saves in progress.

    A second grace would hold every later reload attempt back (a reload of all sources, or a
    poll that sees the missing file's directory change) for the whole grace period.
    """
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    grace = 3.0
    async with reloader(cfg, "inotify", missing_grace=grace) as live:
        good = live.current
        cfg.unlink()
        await expect_fault(live, cfg, trioconf.MissingSourceError, "does not exist", good)
        started = trio.current_time()
        with pytest.raises(trioconf.MissingSourceError):
            await live.reload()  # a reload attempt raises its error
        # Generous: the attempt takes milliseconds; a second grace would take all 3 s.
        assert trio.current_time() - started < grace / 2
        assert isinstance(live.last_error, trioconf.MissingSourceError)
        assert live.current == good
        write_atomic(cfg, FIXED)
        await expect_converged(live, Cfg("fixed", 2))


@pytest.mark.parametrize("source", ["file", "directory"])
async def test_a_cooperating_writer_holding_the_lock_past_the_timeout(
    tmp_path: Path, backend: str, source: str
) -> None:
    """A FileGuard writer (another process) stops half-way through an in-place rewrite and
    keeps the lock: the read waits ``lock_timeout``, then the fault is a LockTimeout naming
    the file and the holder, the last good snapshot stays, and the writer's finish applies."""
    from locked_writer import locked_writer

    folder = tmp_path / "conf.d"
    folder.mkdir()
    cfg = folder / "app.toml"
    cfg.write_text(GOOD)
    spec: Any = cfg if source == "file" else trioconf.Directory(folder, pattern="*.toml")
    options: dict[str, Any] = {"debounce": 0, "backend": backend, "poll_interval": 0.05}
    async with trioconf.open_reloader(Cfg, spec, lock_timeout=0.3, **options) as live:
        good = live.current
        async with locked_writer(cfg, ['name = "fixed"\n', "port = 2\n"]) as writer:
            await writer.wrote(0)  # valid on its own: only the lock keeps it out
            await wait_until(lambda: isinstance(live.last_error, trioconf.LockTimeout))
            error = live.last_error
            assert isinstance(error, trioconf.LockTimeout)
            assert error.path == str(cfg)
            assert f"lock not granted within 0.3 s, held by pid {writer.pid} (" in str(error)
            assert live.current == good
            assert live.version == 1
            assert not live.closed
            await writer.finish()
        await expect_converged(live, Cfg("fixed", 2))
        assert [r.config for r in live.history if isinstance(r, trioconf.Update)] == [
            good,
            Cfg("fixed", 2),
        ]


async def test_deleted_again_right_after_coming_back(tmp_path: Path, backend: str) -> None:
    """Missing, back (read by the missing-file grace), missing again within one poll interval.

    The poller saw "missing" before and sees "missing" after; only the directory's mtime
    tells it the file came and went. Without that the error was never reported.
    """
    cfg = tmp_path / "app.toml"
    cfg.write_text(GOOD)
    async with reloader(cfg, backend, missing_grace=2.0, poll_interval=0.5) as live:
        cfg.unlink()
        await wait_until(lambda: live.statistics().reloads >= 1)  # the grace is running
        cfg.write_text(FIXED)
        await expect_converged(live, Cfg("fixed", 2))
        good = live.current
        cfg.unlink()  # before the poller's next look, which sees "missing" once more
        await expect_fault(live, cfg, trioconf.MissingSourceError, "does not exist", good)
        cfg.write_text(GOOD)
        await expect_converged(live, Cfg("good", 1))


# --- permission scenarios: the reloader in a child process under an unprivileged uid --------

_DRIVER = """\
import json, os, sys
import attrs, trio, trioconf

@attrs.frozen
class Cfg:
    name: str = "default"
    port: int = 0

def emit(live):
    error = live.last_error
    line = {
        "version": live.version,
        "config": attrs.asdict(live.current),
        "error": None if error is None else str(error),
        "error_type": None if error is None else type(error).__name__,
    }
    print(json.dumps(line), flush=True)
    return (line["version"], line["error"])

async def report(live):
    seen = emit(live)
    while True:  # a 10 ms look also catches last_error cleared by a no-op success
        await trio.sleep(0.01)
        now = (live.version, None if live.last_error is None else str(live.last_error))
        if now != seen:
            seen = emit(live)

async def main(path, backend):
    async with trioconf.open_reloader(
        Cfg, path, debounce=0, missing_grace=0.2, backend=backend, poll_interval=0.05
    ) as live:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(report, live)
            stdin = trio.lowlevel.FdStream(os.dup(0))
            while await stdin.receive_some():  # until the test closes our stdin
                pass
            nursery.cancel_scope.cancel()

trio.run(main, sys.argv[1], sys.argv[2])
"""

# Ways to get a child that the kernel's permission checks apply to, tried in order.
_REFUSED_READERS = {
    # Still root (so an interpreter under a mode-700 /root stays reachable), but without the
    # capabilities that bypass permission checks: as the files' owner, mode 000 refuses it.
    "root without CAP_DAC_OVERRIDE": ["setpriv", "--bounding-set=-dac_override,-dac_read_search"],
    "uid 65534": ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
}

_PROBE = """\
import sys
import trioconf, trio, attrs
try:
    open(sys.argv[1]).close()
except PermissionError:
    sys.exit(0)
sys.exit("read a mode-000 file: permission checks do not apply to this process")
"""


@pytest.fixture(scope="module")
def unprivileged() -> Iterator[list[str]]:
    """The command prefix that runs ``sys.executable`` where mode 000 refuses it (or skip).

    A probe child must import trioconf and be refused a mode-000 file; the first way that
    passes is used.
    """
    if os.geteuid() != 0:
        ways: dict[str, list[str]] = {"the current user": []}
    elif shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop root's privileges")
    else:
        ways = _REFUSED_READERS
    folder = Path(tempfile.mkdtemp(prefix="trioconf-probe-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked"
        locked.write_text("")
        locked.chmod(0o000)
        failures = []
        for name, prefix in ways.items():
            probe = subprocess.run(
                [*prefix, sys.executable, "-c", _PROBE, str(locked)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if probe.returncode == 0:
                yield prefix
                return
            failures.append(f"{name}: {probe.stderr.strip()[-300:]}")
    finally:
        shutil.rmtree(folder)
    pytest.skip(f"no child process that mode 000 refuses could run trioconf: {failures}")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged child can reach (pytest's tmp_path is mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="trioconf-faults-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)  # as root, whatever modes a failed test left behind


class Child:
    """The driver's state lines, read as they come."""

    def __init__(self, proc: trio.Process) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self._stdout = proc.stdout
        self._buffer = b""
        self.states: list[dict[str, Any]] = []
        self.noise: list[str] = []  # stderr (merged) and anything else that is not JSON

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> Any:
        """The first new state that satisfies ``predicate``; fails after PATIENCE."""
        try:
            with trio.fail_after(PATIENCE):
                while True:
                    while b"\n" not in self._buffer:
                        chunk = await self._stdout.receive_some()
                        if not chunk:
                            pytest.fail(f"driver exited waiting for {what}: {self.noise}")
                        self._buffer += chunk
                    line, self._buffer = self._buffer.split(b"\n", 1)
                    try:
                        state = json.loads(line)
                    except ValueError:
                        self.noise.append(line.decode(errors="replace"))
                        continue
                    self.states.append(state)
                    if predicate(state):
                        return state
        except trio.TooSlowError:
            last = self.states[-1] if self.states else None
            pytest.fail(f"no {what} in time; last state {last}; driver said {self.noise}")


@asynccontextmanager
async def driver(prefix: list[str], folder: Path, cfg: Path, backend: str) -> AsyncIterator[Child]:
    script = folder / "driver.py"
    script.write_text(_DRIVER)
    proc = await trio.lowlevel.open_process(
        [*prefix, sys.executable, str(script), str(cfg), backend],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(folder),
    )
    assert proc.stdin is not None
    child = Child(proc)
    try:
        yield child
    finally:
        await proc.stdin.aclose()
        with trio.move_on_after(PATIENCE) as scope:
            await proc.wait()
        if scope.cancelled_caught:
            proc.kill()
            await proc.wait()
        assert proc.stdout is not None
        await proc.stdout.aclose()
    assert proc.returncode == 0, child.noise


def _fault_state(reason: str) -> Callable[[dict[str, Any]], bool]:
    def fault(state: dict[str, Any]) -> bool:
        return state["error_type"] == "SourceError" and reason in (state["error"] or "")

    return fault


async def expect_child_fault(child: Child, cfg: Path, good: dict[str, Any]) -> None:
    start = len(child.states)
    state = await child.wait_for(_fault_state("permission denied"), "permission error")
    assert str(cfg) in state["error"]
    # Every state seen while the fault was coming on kept the last good snapshot.
    assert all(s["config"] == good for s in child.states[start - 1 :])


async def expect_child_converged(child: Child, want: dict[str, Any], good: dict[str, Any]) -> None:
    await child.wait_for(
        lambda s: s["config"] == want and s["error"] is None, f"convergence on {want}"
    )
    # Up to the repair, no state ever held anything but the last good snapshot.
    configs = [s["config"] for s in child.states]
    assert configs[: configs.index(want)] == [good] * configs.index(want)


async def test_permission_denied_on_the_file(
    unprivileged: list[str], shared_dir: Path, backend: str
) -> None:
    cfg = shared_dir / "app.toml"
    cfg.write_text(GOOD)
    cfg.chmod(0o644)
    async with driver(unprivileged, shared_dir, cfg, backend) as child:
        good = {"name": "good", "port": 1}
        first = await child.wait_for(lambda s: True, "the initial state")
        assert first == {"version": 1, "config": good, "error": None, "error_type": None}
        cfg.chmod(0o000)
        await expect_child_fault(child, cfg, good)
        cfg.write_text(FIXED)  # root writes through mode 000; the child still cannot read
        cfg.chmod(0o644)  # only IN_ATTRIB: the chmod alone must bring the new content in
        await expect_child_converged(child, {"name": "fixed", "port": 2}, good)


async def test_permission_denied_on_the_directory(
    unprivileged: list[str], shared_dir: Path, backend: str
) -> None:
    folder = shared_dir / "conf"
    folder.mkdir()
    folder.chmod(0o755)
    cfg = folder / "app.toml"
    cfg.write_text(GOOD)
    cfg.chmod(0o644)
    async with driver(unprivileged, shared_dir, cfg, backend) as child:
        good = {"name": "good", "port": 1}
        await child.wait_for(lambda s: s["config"] == good, "the initial state")
        folder.chmod(0o000)  # the directory's own IN_ATTRIB is all the watcher sees
        await expect_child_fault(child, cfg, good)
        cfg.write_text(FIXED)
        folder.chmod(0o755)
        await expect_child_converged(child, {"name": "fixed", "port": 2}, good)
