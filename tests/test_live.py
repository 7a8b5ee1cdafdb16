"""Tests of the live value, its views and its record streams, driven by real Trio tasks.

No reloader is needed: the tests build ``Live`` directly and play the updater's part by calling
``_publish`` / ``_fail`` / ``_close`` themselves.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import warnings
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from support import open_live, writer

from trioconf._errors import ConfigError, RejectedError
from trioconf._live import Live
from trioconf._records import Failure, Statistics, Update


@attrs.frozen
class DB:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Cfg:
    db: DB = DB()
    debug: bool = False
    tags: dict[str, str] = attrs.field(factory=dict)


def make_live(
    initial: Any = None,
    *,
    history_size: int = 64,
    snapshots: int = 4,
    origins: dict[str, str] | None = None,
) -> Live[Any]:
    return open_live(
        Cfg() if initial is None else initial,
        origins=origins,
        history_size=history_size,
        snapshots=snapshots,
    )


def publish(live: Live[Any], config: Any, changed: frozenset[str] = frozenset()) -> Update[Any]:
    return writer(live).publish(config, changed, {})


def port(n: int, **kw: Any) -> Cfg:
    return Cfg(db=DB(port=n), **kw)


async def blocked() -> None:
    """Let every task run until all of them wait (the state the test asserts on)."""
    await trio.testing.wait_all_tasks_blocked()


# --- current, version, records of the initial snapshot -------------------------------------


def test_initial_state() -> None:
    initial = Cfg()
    live = make_live(initial)
    assert live.current is initial
    assert live.version == 1
    assert live.last_error is None
    assert not live.closed
    (first,) = live.history
    assert isinstance(first, Update)
    assert (first.version, first.config, first.previous) == (1, initial, None)
    # Version 1 lists every leaf path: against "nothing", everything is new.
    assert first.changed == {"db.host", "db.port", "debug", "tags"}  # an empty dict is a leaf
    nested = make_live(Cfg(tags={"a": "1", "b": "2"})).history[0]
    assert nested.changed == {"db.host", "db.port", "debug", "tags.a", "tags.b"}  # type: ignore[union-attr]


def test_history_size_and_snapshots_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history_size"):
        make_live(history_size=0)
    with pytest.raises(ValueError, match="snapshots"):
        make_live(snapshots=0)


def test_publish_swaps_snapshot_and_records_update() -> None:
    live = make_live()
    old = live.current
    new = port(5433)
    update = writer(live).publish(new, frozenset({"db.port"}), {"db.port": "local.yaml"})
    assert live.current is new
    assert live.version == 2
    assert update == live.history[-1]
    assert (update.version, update.config, update.previous) == (2, new, old)
    assert update.changed == {"db.port"}
    assert update.timestamp >= live.history[0].timestamp
    assert live.origin("db.port") == "local.yaml"


def test_last_error_set_by_fail_cleared_by_any_success() -> None:
    live = make_live()
    error = RejectedError("no")
    failure = writer(live).fail(error)
    # The stored error is a traceback-free copy (tests/test_history.py), the same for both.
    assert live.last_error is failure.error
    assert (type(failure.error), str(failure.error)) == (RejectedError, str(error))
    assert failure == live.history[-1]
    assert failure.version == 1
    assert live.version == 1  # a failure keeps the snapshot
    writer(live).confirmed()
    assert live.last_error is None
    writer(live).fail(error)
    publish(live, port(1))
    assert live.last_error is None


def test_dataclass_config_leaf_paths() -> None:
    @dataclasses.dataclass(frozen=True)
    class Inner:
        a: int = 1

    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: Inner = dataclasses.field(default_factory=Inner)
        b: str = "x"

    live = make_live(Outer(), origins={"inner.a": "env:APP_INNER__A"})
    assert live.history[0].changed == {"inner.a", "b"}  # type: ignore[union-attr]
    assert live.origin("inner.a") == "env:APP_INNER__A"
    assert live.origin("b") == "default"


# --- wait_value -------------------------------------------------------------------------------


async def test_wait_value_returns_current_at_once_after_a_checkpoint() -> None:
    live = make_live()
    assert await live.wait_value(lambda c: not c.debug) is live.current
    # The immediate path still checkpoints: inside a cancelled scope it raises Cancelled.
    with trio.CancelScope() as scope:
        scope.cancel()
        await live.wait_value(lambda c: True)
        pytest.fail("wait_value did not checkpoint")


async def test_wait_value_waits_for_a_matching_snapshot() -> None:
    live = make_live()
    got: list[Cfg] = []

    async def waiter() -> None:
        got.append(await live.wait_value(lambda c: c.db.port == 7))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked()
            publish(live, port(6))
            await blocked()
            assert got == []  # a non-matching snapshot does not return
            publish(live, port(7))
    assert got == [port(7)]


async def test_predicate_runs_only_in_the_waiting_task() -> None:
    live = make_live()
    waiter_task: list[trio.lowlevel.Task] = []
    callers: list[trio.lowlevel.Task] = []

    def predicate(c: Cfg) -> bool:
        callers.append(trio.lowlevel.current_task())
        return c.db.port == 3

    async def waiter() -> None:
        waiter_task.append(trio.lowlevel.current_task())
        await live.wait_value(predicate)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked()
            assert len(callers) == 1
            for n in (1, 2):
                publish(live, port(n))
                assert len(callers) == 1 + (n - 1)  # _publish itself called nothing
                await blocked()
            publish(live, port(3))
    assert len(callers) == 4
    assert set(callers) == set(waiter_task)


async def test_predicate_exception_raises_in_the_waiter_only() -> None:
    live = make_live()

    def predicate(c: Cfg) -> bool:
        if c.debug:
            raise ZeroDivisionError("predicate broke")
        return False

    async def waiter() -> None:
        with pytest.raises(ZeroDivisionError, match="predicate broke"):
            await live.wait_value(predicate)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked()
            publish(live, Cfg(debug=True))  # must not raise here, in the "updater"
    assert live.version == 2


async def test_wait_value_after_close_and_during_close() -> None:
    live = make_live()
    errors: list[BaseException] = []

    async def waiter() -> None:
        with pytest.raises(trio.ClosedResourceError) as info:
            await live.wait_value(lambda c: c.debug)
        errors.append(info.value)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked()
            writer(live).close()
    assert len(errors) == 1
    assert live.closed
    # Even a predicate the current snapshot satisfies: the value is closed.
    with pytest.raises(trio.ClosedResourceError):
        await live.wait_value(lambda c: True)
    assert live.current == Cfg()  # the last snapshot stays readable


# --- updates() ----------------------------------------------------------------------------------


async def test_updates_yields_current_first_then_newest_skipping_intermediates() -> None:
    live = make_live()
    it = live.updates()
    with trio.fail_after(10):
        assert await it.__anext__() is live.current
        for n in (1, 2, 3):
            publish(live, port(n))
        assert await it.__anext__() == port(3)  # a slow consumer gets the newest
        publish(live, port(4))
        assert await it.__anext__() == port(4)


async def test_updates_yields_a_revert() -> None:
    live = make_live()
    it = live.updates()
    with trio.fail_after(10):
        first = await it.__anext__()
        publish(live, Cfg(debug=True))
        publish(live, Cfg())  # back to a value equal to the first
        assert await it.__anext__() == first
        assert live.version == 3


async def test_updates_checkpoints_on_every_step() -> None:
    live = make_live()
    it = live.updates()
    with trio.CancelScope() as scope:
        scope.cancel()
        await it.__anext__()  # a value is ready, yet the step still checkpoints
        pytest.fail("__anext__ did not checkpoint")
    # Cancellation lost nothing: the current snapshot is still delivered.
    with trio.fail_after(10):
        assert await it.__anext__() is live.current


async def test_updates_waits_then_ends_on_close() -> None:
    live = make_live()
    seen: list[int] = []

    async def consumer() -> None:
        async for cfg in live.updates():
            seen.append(cfg.db.port)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await blocked()
            publish(live, port(1))
            await blocked()
            writer(live).close()
            publish(live, port(2))  # after close: nothing more is yielded
    assert seen == [5432, 1]


async def test_breaking_out_of_updates_leaves_nothing_behind() -> None:
    live = make_live()
    it = live.updates()
    assert not inspect.isasyncgen(it)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for _cfg in it:
            break
        async for _cfg in live.updates():
            break
        del it
        gc.collect()
    await trio.lowlevel.checkpoint()


# --- views -----------------------------------------------------------------------------------


async def test_view_wakes_only_when_its_part_changes() -> None:
    live = make_live()
    seen: list[DB] = []
    with live.open_view(lambda c: c.db) as db:
        assert db.current == DB()
        assert db.version == 1

        async def consumer() -> None:
            async for value in db.updates():
                seen.append(value)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consumer)
                await blocked()
                assert seen == [DB()]
                publish(live, Cfg(debug=True))  # another part changed
                await blocked()
                assert seen == [DB()]
                assert db.version == 1
                publish(live, Cfg(db=DB(port=1), debug=True))
                await blocked()
                assert seen == [DB(), DB(port=1)]
                assert db.version == 2
                nursery.cancel_scope.cancel()


async def test_view_slow_consumer_sees_a_change_and_back() -> None:
    live = make_live()
    with live.open_view(lambda c: c.db.port) as view:
        it = view.updates()
        with trio.fail_after(10):
            assert await it.__anext__() == 5432
            publish(live, port(1))
            publish(live, port(5432))  # a→b→a while nobody reads the view
            publish(live, port(5432, debug=True))  # and a change elsewhere
            assert await it.__anext__() == 5432
            assert view.version == 3


async def test_view_wait_value_calls_predicate_only_on_changes() -> None:
    live = make_live()
    calls: list[int] = []

    def predicate(p: int) -> bool:
        calls.append(p)
        return p == 9

    async def waiter() -> None:
        assert await view.wait_value(predicate) == 9

    with live.open_view(lambda c: c.db.port) as view, trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await blocked()
            publish(live, port(5432, debug=True))
            await blocked()
            publish(live, port(9))
    assert calls == [5432, 9]


async def test_view_function_runs_lazily_in_reading_tasks_once_per_version() -> None:
    live = make_live()
    calls: list[tuple[int, trio.lowlevel.Task]] = []

    def f(c: Cfg) -> int:
        calls.append((c.db.port, trio.lowlevel.current_task()))
        return c.db.port

    with live.open_view(f) as view:
        assert calls == []  # opening evaluates nothing
        publish(live, port(1))
        publish(live, port(2))
        assert calls == []  # publishing evaluates nothing either
        reader = trio.lowlevel.current_task()
        assert view.current == 2
        assert view.version == 3
        assert view.current == 2
        # Once for the baseline, once per missed version: memoized, never repeated.
        assert calls == [(5432, reader), (1, reader), (2, reader)]


async def test_view_function_error_stays_in_that_view() -> None:
    live = make_live()

    def fragile(c: Cfg) -> int:
        if c.debug:
            raise LookupError("no port while debugging")
        return c.db.port

    with live.open_view(fragile) as bad, live.open_view(lambda c: c.db.host) as good:
        it = bad.updates()
        with trio.fail_after(10):
            assert await it.__anext__() == 5432
            publish(live, port(5432, debug=True))  # the "updater" is not disturbed
            assert live.version == 2
            with pytest.raises(LookupError):
                _ = bad.current
            with pytest.raises(LookupError):
                await it.__anext__()
            with pytest.raises(LookupError):
                await bad.wait_value(lambda p: True)
            assert bad.version == 2  # starting to raise counts as a change
            assert good.current == "localhost"
            assert good.version == 1
            assert await live.wait_value(lambda c: c.debug) == live.current
            publish(live, port(5432))  # recovers
            assert bad.current == 5432
            assert await it.__anext__() == 5432
            assert bad.version == 3


async def test_view_close_wakes_its_waiters() -> None:
    live = make_live()
    outcomes: list[str] = []

    async def waiter(view: Any) -> None:
        with pytest.raises(trio.ClosedResourceError):
            await view.wait_value(lambda p: p == -1)
        outcomes.append("wait raised")

    async def consumer(view: Any) -> None:
        async for _ in view.updates():
            pass
        outcomes.append("iteration ended")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with live.open_view(lambda c: c.db.port) as view:
                nursery.start_soon(waiter, view)
                nursery.start_soon(consumer, view)
                await blocked()
            assert view.closed
    assert sorted(outcomes) == ["iteration ended", "wait raised"]
    assert not live.closed


async def test_live_close_ends_view_waiters() -> None:
    live = make_live()
    outcomes: list[str] = []
    with live.open_view(lambda c: c.db) as view:

        async def waiter() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await view.wait_value(lambda d: d.port == -1)
            outcomes.append("wait raised")

        async def consumer() -> None:
            async for _ in view.updates():
                pass
            outcomes.append("iteration ended")

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                nursery.start_soon(consumer)
                await blocked()
                writer(live).close()
    assert sorted(outcomes) == ["iteration ended", "wait raised"]


def test_view_beyond_retained_snapshots_compares_latest_with_last_seen() -> None:
    live = make_live(snapshots=1)  # versions retained: the current one and the one before
    with live.open_view(lambda c: c.db.port) as view:
        assert view.current == 5432
        publish(live, port(1))
        publish(live, port(5432))
        publish(live, port(5432, debug=True))
        # Only versions 3 and 4 are retained: the 5432→1→5432 round trip is gone, and the
        # view can only compare what is left with what it saw last.
        assert view.version == 1
        publish(live, port(2))
        publish(live, port(3))
        assert view.version == 3  # both retained versions judged


# --- history and records() ----------------------------------------------------------------------


def test_history_is_bounded_oldest_first() -> None:
    live = make_live(history_size=3)
    for n in range(1, 5):
        publish(live, port(n))
    writer(live).fail(RejectedError("no"))
    history = live.history
    assert len(history) == 3
    assert [type(r).__name__ for r in history] == ["Update", "Update", "Failure"]
    assert [r.version for r in history] == [4, 5, 5]


async def test_records_sees_every_record_in_order() -> None:
    live = make_live()
    records = live.records()
    error = RejectedError("bad")
    got: list[Update[Any] | Failure] = []

    async def consumer() -> None:
        async for record in records:
            got.append(record)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await blocked()
            # Three records in one go, the consumer not running in between: none is skipped.
            publish(live, port(1))
            writer(live).fail(error)
            publish(live, port(2))
            await blocked()
            assert len(got) == 3
            writer(live).fail(error)
            writer(live).close()  # records appended before the close are still delivered
    assert [type(r).__name__ for r in got] == ["Update", "Failure", "Update", "Failure"]
    assert [r.version for r in got] == [2, 2, 3, 3]
    assert str(got[1].error) == str(error)  # type: ignore[union-attr]
    assert list(live.history)[1:] == got


async def test_records_waiting_consumer_ends_on_close() -> None:
    live = make_live()
    ended: list[bool] = []

    async def consumer() -> None:
        async for _ in live.records():
            pass
        ended.append(True)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await blocked()
            writer(live).close()
    assert ended == [True]


async def test_records_consumer_too_far_behind_resumes_at_oldest_retained() -> None:
    live = make_live(history_size=2)
    records = live.records()
    for n in range(1, 6):  # versions 2..6; only 5 and 6 retained
        publish(live, port(n))
    with trio.fail_after(10):
        assert (await records.__anext__()).version == 5
        assert records.missed == 3  # type: ignore[attr-defined]
        assert (await records.__anext__()).version == 6
        writer(live).close()
        with pytest.raises(StopAsyncIteration):
            await records.__anext__()


# --- statistics, reload, origin -----------------------------------------------------------------


def test_statistics_snapshot_the_counters() -> None:
    live = make_live()
    assert live.statistics() == Statistics(1, 0, 0, 0, 0, 0, 0)
    counters = live._state.counters
    counters.events += 5
    counters.batches += 2
    counters.reloads += 3
    counters.rejected += 1
    counters.noops += 1
    publish(live, port(1))  # counts itself as applied
    stats = live.statistics()
    assert stats == Statistics(
        version=2, events=5, batches=2, reloads=3, applied=1, rejected=1, noops=1
    )
    counters.events += 1
    assert stats.events == 5  # a frozen copy, not a live view


async def test_reload_delegates_to_the_injected_callable() -> None:
    calls: list[trio.lowlevel.Task] = []

    async def reload() -> None:
        calls.append(trio.lowlevel.current_task())
        await trio.lowlevel.checkpoint()
        writer(live).publish(port(1), frozenset({"db.port"}), {})

    live: Live[Cfg] = open_live(Cfg(), reload=reload)
    await live.reload()
    assert calls == [trio.lowlevel.current_task()]
    assert live.version == 2
    writer(live).close()
    with pytest.raises(trio.ClosedResourceError):
        await live.reload()
    assert len(calls) == 1


async def test_reload_propagates_the_callables_error() -> None:
    async def reload() -> None:
        raise RejectedError("from the reloader")

    live: Live[Cfg] = open_live(Cfg(), reload=reload)
    with pytest.raises(ConfigError, match="from the reloader"):
        await live.reload()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("db.port", "local.yaml"),
        ("db.host", "default"),
        ("debug", "env:APP_DEBUG"),
        ("db", "default, local.yaml"),  # leaves' origins, in the order of the fields
        ("tags", "base.toml"),  # a dict field supplied key by key
        ("tags.a", "base.toml"),
    ],
)
def test_origin(path: str, expected: str) -> None:
    live = make_live(
        Cfg(tags={"a": "1"}),
        origins={"db.port": "local.yaml", "debug": "env:APP_DEBUG", "tags.a": "base.toml"},
    )
    assert live.origin(path) == expected


@pytest.mark.parametrize("path", ["nope", "db.nope", "db.port.x", "tags.b", ""])
def test_origin_of_an_unknown_path_is_a_key_error(path: str) -> None:
    live = make_live(Cfg(tags={"a": "1"}))
    with pytest.raises(KeyError):
        live.origin(path)


def test_origin_follows_the_published_snapshot() -> None:
    live = make_live(origins={"db.port": "base.toml"})
    writer(live).publish(port(1), frozenset({"db.port"}), {"db.port": "local.yaml"})
    assert live.origin("db.port") == "local.yaml"
    writer(live).publish(port(1, debug=True), frozenset({"debug"}), {"debug": "env:APP_DEBUG"})
    assert live.origin("db.port") == "default"
