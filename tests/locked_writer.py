"""A cooperating writer in another process: a real ``FileGuard`` holding a file's exclusive lock
while it rewrites the file in place, one part at a time, and only when the test says so.

Each part is written through its own open and close (the first truncates), so a watcher sees a
completed write (``IN_CLOSE_WRITE``, a new mtime and size) after every part, as it would from a
tool that writes in steps. The parts of a realistic document are each a valid prefix of it:
a reader that ignores the lock reads a smaller config that parses and validates, and applies
it; only the lock keeps it out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trio
from support import PATIENCE

_CHILD = """
import os, sys, trio
from trioconf import FileGuard

async def main(path, parts):
    async with FileGuard(lock_timeout=60, operation_timeout=600).exclusive(path) as f:
        for i, part in enumerate(parts):
            with open(path, "ab" if i else "r+b") as fh:
                if not i:
                    fh.truncate(0)
                fh.write(part.encode())
            f.mark_written()  # its own in-place write, not a concurrent modification
            print(f"wrote {i}", flush=True)
            # Wait for the test's go (a line on stdin) before the next part or the release.
            if not await trio.to_thread.run_sync(sys.stdin.readline):
                return
    print("released", flush=True)

trio.run(main, sys.argv[1], sys.argv[2:])
"""


class LockedWriter:
    """The writer's progress, as it reports it, and the test's go for its next step."""

    def __init__(self, proc: trio.Process) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        self.proc = proc
        self.pid = proc.pid
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._buffer = b""

    async def _line(self) -> str:
        with trio.fail_after(PATIENCE):
            while b"\n" not in self._buffer:
                chunk = await self._stdout.receive_some()
                assert chunk, "the writer exited early"
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    async def wrote(self, part: int) -> None:
        """Wait until part ``part`` is on disk (closed), the lock still held."""
        assert await self._line() == f"wrote {part}"

    async def go(self) -> None:
        """Let the writer write its next part, or release the lock after the last one."""
        await self._stdin.send_all(b"go\n")

    async def finish(self) -> None:
        """Let the writer write every part left and release the lock; wait until it has."""
        while True:
            await self.go()
            line = await self._line()
            if line == "released":
                return
            assert line.startswith("wrote "), line


@asynccontextmanager
async def locked_writer(path: Path, parts: Sequence[str]) -> AsyncIterator[LockedWriter]:
    """Start the writer; it takes the lock and writes part 0 at once (await ``wrote(0)``)."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-c", _CHILD, str(path), *parts],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield LockedWriter(proc)
    finally:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.aclose()  # a writer still waiting for its go ends, lock released
        with trio.move_on_after(PATIENCE) as scope:
            await proc.wait()
        if scope.cancelled_caught:
            proc.kill()
            await proc.wait()
        await proc.stdout.aclose()


def opens_of(path: Path) -> int:
    """How many descriptors of this process have ``path`` open: a reader waiting for a
    sidecar's lock holds the sidecar open for the whole wait."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count
