"""The debouncer, driven through channels under trio's autojump clock (virtual time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from trioconf._debounce import Debouncer, run_debouncer
from trioconf._inbox import Batch, Inbox
from trioconf._records import Counters
from trioconf._watch._events import RESCAN, WatchEvent

A = Path("/etc/app/a.toml")
B = Path("/etc/app/b.toml")


class Rig:
    def __init__(self, send: trio.MemorySendChannel[WatchEvent], inbox: Inbox) -> None:
        self.send = send
        self.inbox = inbox
        self.counters = Counters()

    async def take(self) -> tuple[float, Batch]:
        batch = await self.inbox.take()
        return trio.current_time(), batch


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def _rig(
    window: float, max_window: float, priority: frozenset[Path] = frozenset()
) -> AsyncIterator[Rig]:
    send, receive = trio.open_memory_channel[WatchEvent](100)
    inbox = Inbox()
    rig = Rig(send, inbox)
    async with trio.open_nursery() as nursery:
        debouncer = Debouncer(window, max_window, priority)
        nursery.start_soon(run_debouncer, receive, inbox, debouncer, rig.counters)
        yield rig
        nursery.cancel_scope.cancel()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async for r in _rig(1.0, 5.0, frozenset({B})):
        yield r


async def test_quiet_window_coalesces_a_burst(clock: trio.testing.MockClock, rig: Rig) -> None:
    start = trio.current_time()
    for _ in range(5):
        await rig.send.send(A)
        await trio.sleep(0.5)  # virtual time: each event restarts A's quiet window
    when, batch = await rig.take()
    assert batch.paths == {A}
    # The last event came at start + 2.0; the window is 1.0.
    assert when - start == pytest.approx(3.0)
    assert rig.counters.events == 5


async def test_ceiling_releases_a_continuous_storm(clock: trio.testing.MockClock, rig: Rig) -> None:
    start = trio.current_time()
    async with trio.open_nursery() as nursery:

        async def storm() -> None:
            while True:
                await rig.send.send(A)
                await trio.sleep(0.25)

        nursery.start_soon(storm)
        when, batch = await rig.take()
        assert batch.paths == {A}
        assert when - start == pytest.approx(5.0)  # max_window, not never
        nursery.cancel_scope.cancel()


async def test_priority_path_waits_half_the_window(clock: trio.testing.MockClock, rig: Rig) -> None:
    start = trio.current_time()
    await rig.send.send(A)
    await rig.send.send(B)
    when, batch = await rig.take()
    assert batch.paths == {B}
    assert when - start == pytest.approx(0.5)
    when, batch = await rig.take()
    assert batch.paths == {A}
    assert when - start == pytest.approx(1.0)


async def test_window_grows_for_a_churning_file_and_resets_after_rest(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    gaps = []
    for _ in range(5):
        sent = trio.current_time()
        await rig.send.send(A)
        when, _ = await rig.take()
        gaps.append(when - sent)
    # Each release within max_window of the previous one doubles the window the *next* event
    # must observe, up to the ceiling (5.0).
    assert gaps == pytest.approx([1.0, 1.0, 2.0, 4.0, 5.0])
    await trio.sleep(10.0)  # rests longer than max_window: back to the base window
    sent = trio.current_time()
    await rig.send.send(A)
    when, _ = await rig.take()
    assert when - sent == pytest.approx(1.0)


async def test_rescan_is_debounced_and_flagged(clock: trio.testing.MockClock, rig: Rig) -> None:
    await rig.send.send(RESCAN)
    await rig.send.send(A)
    _, batch = await rig.take()
    assert batch.rescan
    assert batch.paths == {A}


async def test_zero_window_releases_at_once_and_merges_while_busy(
    clock: trio.testing.MockClock,
) -> None:
    async for rig in _rig(0.0, 0.5):
        await rig.send.send(A)
        when, batch = await rig.take()
        assert batch.paths == {A}
        assert when == pytest.approx(trio.current_time())
        # The updater is busy (not taking): events for A and B arrive; both form one batch.
        await rig.send.send(A)
        await rig.send.send(B)
        await trio.testing.wait_all_tasks_blocked()
        _, batch = await rig.take()
        assert batch.paths == {A, B}


async def test_end_of_channel_flushes_what_is_pending(clock: trio.testing.MockClock) -> None:
    send, receive = trio.open_memory_channel[WatchEvent](10)
    inbox = Inbox()
    await send.send(A)
    await send.aclose()
    await run_debouncer(receive, inbox, Debouncer(1.0, 5.0), Counters())
    batch = await inbox.take()
    assert batch.paths == {A}


def test_debouncer_table_rules() -> None:
    deb = Debouncer(1.0, 3.0, frozenset({B}))
    deb.note(A, 10.0)
    deb.note(A, 12.5)
    assert deb.deadline(A) == pytest.approx(13.0)  # ceiling: first event + max_window
    deb.note(B, 10.0)
    assert deb.deadline(B) == pytest.approx(10.5)
    assert deb.release_due(10.5) == {B}
    assert deb.pending() == {A}


def test_a_failed_reload_does_not_make_its_changes_wait_a_second_ceiling() -> None:
    deb = Debouncer(0.05, 0.5)
    for i in range(50):  # a storm, one event every 10 ms from t=0
        deb.note(A, i * 0.01)
    assert deb.release_due(0.5) == {A}  # the ceiling: 0.5 s after the first event
    # That reload failed (a read between an in-place writer's truncate and its write): the
    # changes since t=0 are still not applied, and have waited the whole ceiling already.
    deb.failed(frozenset({A}))
    deb.note(A, 0.51)
    assert deb.release_due(0.51) == {A}
    # The retry failed too: no second retry, the next change waits the normal way.
    deb.failed(frozenset({A}))
    deb.note(A, 0.52)
    assert deb.release_due(0.52) == set()
    assert deb.deadline(A) > 0.52


def test_a_success_or_a_rewrite_during_the_attempt() -> None:
    deb = Debouncer(0.05, 0.5)
    deb.note(A, 0.0)
    deb.note(A, 0.45)
    assert deb.release_due(0.5) == {A}
    deb.note(A, 0.501)  # written again while the updater read the file
    deb.failed(frozenset({A}))
    assert deb.release_due(0.502) == {A}  # that change is due at once, with the old ones
    deb.applied(frozenset({A}))
    deb.note(A, 0.6)
    assert deb.release_due(0.6) == set()  # applied: nothing carried, a normal window
    deb.failed(frozenset({B}))  # never released: nothing to carry
    deb.note(B, 0.6)
    assert deb.release_due(0.6) == set()


async def test_the_updater_reports_a_failed_reload_to_the_debouncer(
    clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # The real pipeline minus the watcher, in virtual time: events sent by hand, the file read
    # for real. A storm of saves; the read at the ceiling finds a torn in-place write; the
    # writer's next save (complete) must apply at once, not a second ceiling later.
    import attrs

    from trioconf._converter import make_converter
    from trioconf._live import Live
    from trioconf._load import Loader, Options
    from trioconf._sources import File
    from trioconf._updater import run_updater

    @attrs.frozen
    class Config:
        n: int

    path = tmp_path / "a.json"
    path.write_text('{"n": 0}')
    loader = Loader(Config, [File(path)], make_converter(), Options())
    await loader.refresh(None)
    config, origins = loader.build()

    async def reload() -> None:
        raise NotImplementedError

    live = Live(config, origins=origins, reload=reload)
    send, receive = trio.open_memory_channel[WatchEvent](100)
    inbox = Inbox()
    debouncer = Debouncer(0.05, 0.5)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_debouncer, receive, inbox, debouncer, live.counters)
        nursery.start_soon(run_updater, inbox, loader, live, None, debouncer)
        for i in range(1, 50):  # saves 1..49, every 10 ms; the last one is torn
            path.write_text(f'{{"n": {i}}}' if i < 49 else '{"n": ')
            await send.send(path)
            await trio.sleep(0.01)
        await trio.sleep(0.5 - (trio.current_time() - start))
        await trio.sleep(0.001)  # the ceiling release has read the torn save
        assert live.last_error is not None
        assert live.current.n == 0
        path.write_text('{"n": 50}')
        await send.send(path)
        await live.wait_value(lambda c: c.n == 50)
        assert trio.current_time() - start < 0.502  # at once, not at ~1.0 s
        nursery.cancel_scope.cancel()


async def test_a_failure_brings_a_sleeping_debouncers_deadline_forward(
    clock: trio.testing.MockClock,
) -> None:
    # A change noted while the failing attempt ran: the debouncer task already sleeps until
    # that change's own deadline, and must wake at the older change's ceiling instead.
    send, receive = trio.open_memory_channel[WatchEvent](100)
    inbox = Inbox()
    debouncer = Debouncer(0.05, 0.1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_debouncer, receive, inbox, debouncer, Counters())
        start = trio.current_time()
        await send.send(A)
        assert (await inbox.take()).paths == {A}  # quiet window: released at 0.05
        await trio.sleep(0.01)
        await send.send(A)  # during the attempt: due at 0.06 + the window, 0.11
        await trio.sleep(0.001)  # the debouncer is asleep again
        debouncer.failed(frozenset({A}))  # the attempt failed: the change of t=0 is not in
        assert (await inbox.take()).paths == {A}
        assert trio.current_time() - start == pytest.approx(0.1)  # its ceiling, not 0.11
        nursery.cancel_scope.cancel()
