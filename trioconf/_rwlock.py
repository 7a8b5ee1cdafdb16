"""An in-process readers/writer lock for Trio tasks, and the table that shares one per path.

:class:`ReadWriteLock` has one exclusive holder or any number of shared holders. Writers are
preferred: shared holders pass through the writer's gate (a ``trio.Lock``), so a waiting
exclusive holder keeps new shared holders out and readers cannot starve it.

:class:`LockTable` gives the tasks using one key (a resolved path, for ``FileGuard``) the same
lock, and drops the entry when no task holds or awaits it, so the table never outgrows the
paths in use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import attrs
import trio


@attrs.frozen
class ReadWriteLockStatistics:
    """A snapshot of a :class:`ReadWriteLock` (``lock.statistics()``, like ``trio.Lock``'s).

    - ``owner``: the task that holds the lock exclusively, or has the gate and waits for the
      shared holders to leave; ``None`` when no task does;
    - ``readers``: shared holders now;
    - ``tasks_waiting``: tasks blocked at the gate (exclusive or shared).
    """

    owner: trio.lowlevel.Task | None
    readers: int
    tasks_waiting: int


class ReadWriteLock:
    """One exclusive holder, or any number of shared holders; a waiting writer goes first."""

    def __init__(self) -> None:
        # The exclusive holder owns the gate; shared holders take it only to enter.
        self._gate = trio.Lock()
        self._readers = 0
        # Set while there are no shared holders: what an exclusive holder waits for.
        self._drained = trio.Event()
        self._drained.set()

    async def acquire(self) -> None:
        """Hold the lock exclusively: take the gate, then wait for the shared holders to leave."""
        await self._gate.acquire()
        try:
            await self._drained.wait()
        except BaseException:
            # Cancelled while readers drained: not holding, so the gate goes to the next task.
            self._gate.release()
            raise

    def release(self) -> None:
        """Release an exclusive hold (by the task that acquired it)."""
        self._gate.release()

    async def acquire_shared(self) -> None:
        """Hold the lock alongside other shared holders, once no writer holds or awaits it."""
        async with self._gate:
            if self._readers == 0:
                self._drained = trio.Event()
            self._readers += 1

    def release_shared(self) -> None:
        """Release a shared hold; the last one out lets a waiting writer in."""
        self._readers -= 1
        if self._readers == 0:
            self._drained.set()

    def statistics(self) -> ReadWriteLockStatistics:
        gate = self._gate.statistics()
        return ReadWriteLockStatistics(
            owner=gate.owner, readers=self._readers, tasks_waiting=gate.tasks_waiting
        )


@attrs.define(eq=False)
class _Entry:
    lock: ReadWriteLock = attrs.Factory(ReadWriteLock)
    users: int = 0  # tasks holding or awaiting the lock; the entry is dropped at zero


class LockTable:
    """A :class:`ReadWriteLock` per key, for as long as some task uses it."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """Keys with a lock now."""
        return len(self._entries)

    @contextlib.contextmanager
    def use(self, key: str) -> Iterator[ReadWriteLock]:
        """The lock of ``key``, kept in the table until the block ends (acquire it inside)."""
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            yield entry.lock
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
