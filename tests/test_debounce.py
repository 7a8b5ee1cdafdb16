"""The debouncer, driven through channels under trio's autojump clock (virtual time)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from trioconf._debounce import Debouncer, DebouncerInput, Release, run_debouncer
from trioconf._inbox import Batch, Inbox
from trioconf._records import Counters
from trioconf._tickets import Tickets
from trioconf._watch._events import RESCAN, Hold, WatchEvent

A = Path("/etc/app/a.toml")
B = Path("/etc/app/b.toml")


class Rig:
    def __init__(self, send: trio.MemorySendChannel[DebouncerInput], inbox: Inbox) -> None:
        self.send = send
        self.inbox = inbox
        self.counters = Counters()
        self.tickets = Tickets()
        self.debouncer: Debouncer | None = None

    async def take(self) -> tuple[float, Batch]:
        batch = await self.inbox.take()
        return trio.current_time(), batch

    def inbox_is_empty(self) -> bool:
        return not self.inbox._ready.is_set()


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def _rig(
    window: float,
    max_window: float,
    priority: frozenset[Path] = frozenset(),
    commit: Path | None = None,
) -> AsyncIterator[Rig]:
    send, receive = trio.open_memory_channel[DebouncerInput](100)
    inbox = Inbox()
    rig = Rig(send, inbox)
    async with trio.open_nursery() as nursery:
        debouncer = rig.debouncer = Debouncer(window, max_window, priority, commit, hold_limit=10.0)
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
    assert batch.keys == {A}
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
        assert batch.keys == {A}
        assert when - start == pytest.approx(5.0)  # max_window, not never
        nursery.cancel_scope.cancel()


async def test_priority_path_waits_half_the_window(clock: trio.testing.MockClock, rig: Rig) -> None:
    start = trio.current_time()
    await rig.send.send(B)
    when, batch = await rig.take()
    assert batch.keys == {B}
    assert when - start == pytest.approx(0.5)


async def test_a_batch_waits_the_largest_window_of_its_paths(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    # B alone would go after half the window; changed together with A, both wait A's window,
    # in one batch: the quiet window belongs to the batch.
    start = trio.current_time()
    await rig.send.send(A)
    await rig.send.send(B)
    when, batch = await rig.take()
    assert batch.keys == {A, B}
    assert when - start == pytest.approx(1.0)


async def test_an_event_for_any_path_extends_the_batch(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    # A deploy: A, then B 0.8 s later (inside A's window), then A again. One batch, released
    # one window after the last write, whichever file it touched.
    start = trio.current_time()
    await rig.send.send(A)
    await trio.sleep(0.8)
    await rig.send.send(B)
    await trio.sleep(0.8)
    await rig.send.send(A)
    when, batch = await rig.take()
    assert batch.keys == {A, B}
    assert when - start == pytest.approx(2.6)


async def test_a_held_path_keeps_the_batch_open_until_the_ceiling(
    clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # git checkout: A is rewritten and closed; B was unlinked (held: maybe replaced) and is
    # being written. A waits for B past its own window; the ceiling still wins (a writer may
    # take its time), with a warning that the snapshot may mix two versions.
    start = trio.current_time()
    await rig.send.send(Hold(B))
    await rig.send.send(A)
    await trio.sleep(1.5)
    assert rig.inbox_is_empty()  # A's window is long over: B's write holds the batch
    await rig.send.send(B)  # the writer closed B
    when, batch = await rig.take()
    assert batch.keys == {A, B}
    assert when - start == pytest.approx(1.5 + 1.0)  # one version, a window after B
    await rig.send.send(Hold(B))
    await rig.send.send(A)
    when, batch = await rig.take()
    assert batch.keys == {A}
    assert when - start == pytest.approx(2.5 + 5.0)  # max_window: the ceiling
    assert "may mix two deploys" in caplog.text


async def test_a_reload_waits_until_a_hold_never_reported_lapses(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    start = trio.current_time()
    await rig.send.send(Hold(B))
    ticket = rig.tickets.issue()
    await rig.send.send(ticket)
    when, batch = await rig.take()
    assert (batch.rescan, batch.tickets) == (True, (ticket,))
    assert when - start == pytest.approx(10.0)  # the hold limit: a lost report never hangs


async def test_a_hold_alone_opens_no_batch(clock: trio.testing.MockClock, rig: Rig) -> None:
    await rig.send.send(Hold(A))
    await trio.sleep(20.0)
    assert rig.inbox_is_empty()
    start = trio.current_time()
    await rig.send.send(B)  # the hold lapsed long ago: B waits its own window only
    when, batch = await rig.take()
    assert batch.keys == {B}
    assert when - start == pytest.approx(0.5)


async def test_a_reload_joins_the_open_batch(clock: trio.testing.MockClock, rig: Rig) -> None:
    start = trio.current_time()
    await rig.send.send(A)
    await trio.sleep(0.2)
    ticket = rig.tickets.issue()
    await rig.send.send(ticket)
    when, batch = await rig.take()
    assert (batch.keys, batch.rescan, batch.tickets) == ({A}, True, (ticket,))
    assert when - start == pytest.approx(1.0)  # A's window, not at once around it


async def test_a_reload_waits_for_held_paths_and_goes_at_once_otherwise(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    start = trio.current_time()
    ticket = rig.tickets.issue()
    await rig.send.send(ticket)
    when, batch = await rig.take()
    assert (batch.keys, batch.rescan, batch.tickets) == (frozenset(), True, (ticket,))
    assert when == pytest.approx(start)
    await rig.send.send(Hold(A))  # a writer has A open
    ticket = rig.tickets.issue()
    await rig.send.send(ticket)
    await trio.sleep(3.0)
    assert rig.inbox_is_empty()  # a rescan would read A mid-write
    await rig.send.send(A)
    when, batch = await rig.take()
    assert (batch.keys, batch.rescan, batch.tickets) == ({A}, True, (ticket,))
    assert when - start == pytest.approx(3.0 + 1.0)


async def test_commit_trigger_releases_the_batch(clock: trio.testing.MockClock) -> None:
    stamp = Path("/etc/app/.deployed")
    async for rig in _rig(1.0, 5.0, commit=stamp):
        start = trio.current_time()
        await rig.send.send(A)
        await trio.sleep(30.0)  # a slow deploy: far past the window and the ceiling
        await rig.send.send(B)
        await trio.sleep(30.0)
        assert rig.inbox_is_empty()
        await rig.send.send(stamp)  # the deploy tool's last step
        when, batch = await rig.take()
        assert batch.keys == {A, B}  # the trigger itself is no source
        assert when - start == pytest.approx(61.0)
        # A trigger with nothing changed commits nothing, and leaves nothing open.
        await rig.send.send(stamp)
        await trio.sleep(2.0)
        assert rig.inbox_is_empty()
        await rig.send.send(A)
        await trio.sleep(10.0)
        assert rig.inbox_is_empty()


async def test_a_ceiling_release_of_several_files_warns_possibly_torn(
    clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async with trio.open_nursery() as nursery:

        async def storm() -> None:
            for path in itertools.cycle([A, B]):
                await rig.send.send(path)
                await trio.sleep(0.25)

        nursery.start_soon(storm)
        _, batch = await rig.take()
        assert batch.keys == {A, B}
        nursery.cancel_scope.cancel()
    assert "may mix two deploys" in caplog.text


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
    assert batch.keys == {A}


async def test_zero_window_releases_at_once_and_merges_while_busy(
    clock: trio.testing.MockClock,
) -> None:
    async for rig in _rig(0.0, 0.5):
        await rig.send.send(A)
        when, batch = await rig.take()
        assert batch.keys == {A}
        assert when == pytest.approx(trio.current_time())
        # The updater is busy (not taking): events for A and B arrive; both form one batch.
        await rig.send.send(A)
        await rig.send.send(B)
        await trio.testing.wait_all_tasks_blocked()
        _, batch = await rig.take()
        assert batch.keys == {A, B}


async def test_end_of_channel_flushes_what_is_pending(clock: trio.testing.MockClock) -> None:
    send, receive = trio.open_memory_channel[WatchEvent](10)
    inbox = Inbox()
    await send.send(A)
    await send.aclose()
    await run_debouncer(receive, inbox, Debouncer(1.0, 5.0), Counters())
    batch = await inbox.take()
    assert batch.keys == {A}


def test_debouncer_table_rules() -> None:
    deb = Debouncer(1.0, 3.0, frozenset({B}))
    deb.completed(A, 10.0)
    deb.completed(A, 12.5)
    assert deb.next_deadline(12.5) == pytest.approx(13.0)  # ceiling: first event + max_window
    assert deb.release_due(12.9) is None
    assert deb.release_due(13.0) == Release(frozenset({A}))
    deb.completed(B, 20.0)
    assert deb.next_deadline(20.0) == pytest.approx(20.5)
    assert deb.release_due(20.5) == Release(frozenset({B}))
    assert deb.pending() == frozenset()


def test_tables_are_pruned_when_paths_rest() -> None:
    # A folder of many files, each changed once: the per-path tables must not keep them all.
    deb = Debouncer(0.05, 0.5)
    for i in range(1000):
        path = Path(f"/etc/app/conf.d/tenant{i}.toml")
        deb.completed(path, i * 1.0)
        assert deb.release_due(i * 1.0 + 0.05) is not None
        deb.failed(frozenset({path}), i * 1.0 + 0.06)  # a bad save, never written again
    assert len(deb._grown) <= 1
    assert len(deb._unapplied) <= 1
    assert not deb._released


def test_a_failed_reload_does_not_make_its_changes_wait_a_second_ceiling() -> None:
    deb = Debouncer(0.05, 0.5)
    for i in range(50):  # a storm, one event every 10 ms from t=0
        deb.completed(A, i * 0.01)
    assert deb.release_due(0.5) == Release(frozenset({A}))  # the ceiling: 0.5 s after the first
    # That reload failed (a read between an in-place writer's truncate and its write): the
    # changes since t=0 are still not applied, and have waited the whole ceiling already.
    deb.failed(frozenset({A}), 0.505)
    deb.completed(A, 0.51)
    assert deb.release_due(0.51) == Release(frozenset({A}))
    # The retry failed too: no second retry, the next change waits the normal way.
    deb.failed(frozenset({A}), 0.515)
    deb.completed(A, 0.52)
    assert deb.release_due(0.52) is None
    assert deb.next_deadline(0.52) > 0.52


def test_a_success_or_a_rewrite_during_the_attempt() -> None:
    deb = Debouncer(0.05, 0.5)
    deb.completed(A, 0.0)
    deb.completed(A, 0.45)
    assert deb.release_due(0.5) == Release(frozenset({A}))
    deb.completed(A, 0.501)  # written again while the updater read the file
    deb.failed(frozenset({A}), 0.502)
    assert deb.release_due(0.502) == Release(frozenset({A}))  # due at once, with the old ones
    deb.applied(frozenset({A}))
    deb.completed(A, 0.6)
    assert deb.release_due(0.6) is None  # applied: nothing carried, a normal window
    deb.failed(frozenset({B}), 0.6)  # never released: nothing to carry
    deb.completed(B, 0.6)
    assert deb.release_due(0.6) is None


async def test_the_updater_reports_a_failed_reload_to_the_debouncer(
    clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # The real pipeline minus the watcher, in virtual time: events sent by hand, the file read
    # for real. A storm of saves; the read at the ceiling finds a torn in-place write; the
    # writer's next save (complete) must apply at once, not a second ceiling later.
    import attrs
    from support import open_live, writer

    from trioconf._converter import make_converter
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

    live = open_live(config, origins=origins, reload=reload)
    send, receive = trio.open_memory_channel[WatchEvent](100)
    inbox = Inbox()
    debouncer = Debouncer(0.05, 0.5)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_debouncer, receive, inbox, debouncer, live._state.counters)
        nursery.start_soon(run_updater, inbox, loader, writer(live), None, debouncer)
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
        assert (await inbox.take()).keys == {A}  # quiet window: released at 0.05
        await trio.sleep(0.01)
        await send.send(A)  # during the attempt: due at 0.06 + the window, 0.11
        await trio.sleep(0.001)  # the debouncer is asleep again
        debouncer.failed(frozenset({A}), trio.current_time())  # the change of t=0 is not in
        assert (await inbox.take()).keys == {A}
        assert trio.current_time() - start == pytest.approx(0.1)  # its ceiling, not 0.11
        nursery.cancel_scope.cancel()


async def test_zero_window_gives_up_atomicity_but_not_for_rescans(
    clock: trio.testing.MockClock,
) -> None:
    async for rig in _rig(0.0, 0.5):
        await rig.send.send(Hold(B))  # B is being written
        await rig.send.send(A)
        when, batch = await rig.take()
        assert batch.keys == {A}  # debounce=0: at once, B or not
        assert when == pytest.approx(trio.current_time())
        ticket = rig.tickets.issue()
        await rig.send.send(ticket)
        await trio.sleep(1.0)
        assert rig.inbox_is_empty()  # a reload would read B mid-write: it waits
        await rig.send.send(B)
        _, batch = await rig.take()
        assert (batch.keys, batch.rescan, batch.tickets) == ({B}, True, (ticket,))


async def test_a_storm_of_in_place_saves_is_released_at_the_ceiling(
    clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # Saves 1 ms apart, each held from its truncate to its close: the file is almost always
    # being written. The ceiling releases it anyway (the read that may catch a write is the
    # updater's to retry), and one file rewritten in a storm is no mix of deploys: no warning.
    caplog.set_level(logging.WARNING, logger="trioconf")
    start = trio.current_time()
    async with trio.open_nursery() as nursery:

        async def storm() -> None:
            while True:
                await rig.send.send(Hold(A))
                await trio.sleep(0.0005)
                await rig.send.send(A)
                await trio.sleep(0.0005)

        nursery.start_soon(storm)
        when, batch = await rig.take()
        assert batch.keys == {A}
        assert when - start == pytest.approx(5.0, abs=0.002)
        nursery.cancel_scope.cancel()
    assert "may mix" not in caplog.text


async def test_at_the_ceiling_the_files_go_and_a_reload_waits_for_the_held_one(
    clock: trio.testing.MockClock, rig: Rig
) -> None:
    start = trio.current_time()
    await rig.send.send(Hold(B))
    await rig.send.send(A)
    ticket = rig.tickets.issue()
    await rig.send.send(ticket)
    when, batch = await rig.take()
    assert (batch.keys, batch.rescan, batch.tickets) == ({A}, False, ())
    assert when - start == pytest.approx(5.0)
    await trio.sleep(1.0)
    assert rig.inbox_is_empty()  # the reload still waits for B's writer
    await rig.send.send(B)
    when, batch = await rig.take()
    assert (batch.keys, batch.rescan, batch.tickets) == ({B}, True, (ticket,))
    assert when - start == pytest.approx(6.0 + 0.5)  # with B, after its (priority) window


async def test_a_file_the_updater_waits_for_is_released_with_its_next_report(
    clock: trio.testing.MockClock, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # The updater read A between an in-place writer's truncate and its write (emptied: its
    # grace) and waits for A's next report: it must not also wait a window, or a ceiling.
    debouncer = rig.debouncer
    assert debouncer is not None
    start = trio.current_time()
    debouncer.awaiting(frozenset({A}))
    await rig.send.send(Hold(A))
    await rig.send.send(A)
    await rig.send.send(Hold(A))  # the storm goes on: A held again at once
    when, batch = await rig.take()
    assert batch.keys == {A}
    assert when == pytest.approx(start)
    # With another file held (a checkout still writing B), the batch waits for B as usual.
    await rig.send.send(Hold(B))
    await rig.send.send(A)
    await trio.sleep(1.0)
    assert rig.inbox_is_empty()
    await rig.send.send(B)
    _, batch = await rig.take()
    assert batch.keys == {A, B}
    assert "may mix" not in caplog.text  # released for the updater's wait: no cut
    debouncer.awaiting(frozenset())
    await trio.sleep(6.0)  # A rests: its window cools back to the base
    start = trio.current_time()
    await rig.send.send(A)
    when, _ = await rig.take()
    assert when - start == pytest.approx(1.0)  # the wait is over: the window again
