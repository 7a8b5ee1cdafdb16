"""The in-process readers/writer lock under FileGuard: statistics, writer preference,
cancellation, and the table that drops unused locks."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from trioconf._rwlock import LockTable, ReadWriteLock, ReadWriteLockStatistics


async def test_statistics_of_an_idle_lock() -> None:
    stats = ReadWriteLock().statistics()
    assert stats == ReadWriteLockStatistics(owner=None, readers=0, tasks_waiting=0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.readers = 1  # type: ignore[misc]


async def test_statistics_name_the_exclusive_holder_and_the_waiters() -> None:
    lock = ReadWriteLock()
    await lock.acquire()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lock.acquire_shared)
        nursery.start_soon(lock.acquire)
        await trio.testing.wait_all_tasks_blocked()
        stats = lock.statistics()
        assert stats.owner is trio.lowlevel.current_task()
        assert (stats.readers, stats.tasks_waiting) == (0, 2)
        nursery.cancel_scope.cancel()
    lock.release()
    assert lock.statistics() == ReadWriteLockStatistics(owner=None, readers=0, tasks_waiting=0)


async def test_shared_holders_overlap_and_a_waiting_writer_keeps_new_ones_out() -> None:
    lock = ReadWriteLock()
    await lock.acquire_shared()
    await lock.acquire_shared()
    assert lock.statistics().readers == 2
    order: list[str] = []

    async def writer() -> None:
        await lock.acquire()
        order.append("writer")
        lock.release()

    async def late_reader() -> None:
        await lock.acquire_shared()
        order.append("reader")
        lock.release_shared()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(late_reader)
        await trio.testing.wait_all_tasks_blocked()
        assert order == []  # the writer waits for the two readers, the late reader for it
        lock.release_shared()
        lock.release_shared()
    assert order == ["writer", "reader"]


async def test_a_writer_cancelled_while_readers_drain_gives_the_gate_back() -> None:
    lock = ReadWriteLock()
    await lock.acquire_shared()
    with trio.move_on_after(0.01):
        await lock.acquire()
    assert lock.statistics() == ReadWriteLockStatistics(owner=None, readers=1, tasks_waiting=0)
    await lock.acquire_shared()  # not shut out by a writer that is gone
    assert lock.statistics().readers == 2


async def test_the_table_shares_one_lock_per_key_and_drops_it_when_unused() -> None:
    table = LockTable()
    with table.use("/a") as first:
        with table.use("/a") as again, table.use("/b") as other:
            assert again is first
            assert other is not first
            assert len(table) == 2
        assert len(table) == 1
    assert len(table) == 0
    with table.use("/a") as fresh:
        assert fresh is not first
