"""The live value's state: one object, read by ``Live`` and ``View``, changed by ``Publisher``.

The way trio's memory channels share one state object between two endpoint classes with
different rights: ``LiveState`` holds everything (the snapshot, its version, the history, the
counters, the parking lots); ``Live`` (``_live``) and ``View`` (``_view``) only read it, and
the updater task's ``Publisher`` is the only code that changes it. The debouncer counts the
events it receives in the same ``Counters`` (its one field it owns).

Every change here is synchronous, runs no user code and never raises: it swaps attributes and
unparks a lot, and each woken reader re-checks its own condition in its own task (``_wake``).
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import trio

from ._errors import ConfigError
from ._hold import RestartPending
from ._paths import leaf_paths
from ._records import Cleared, Counters, Failure, PastUpdate, Update, detached, past

T = TypeVar("T")

Record = Update[Any] | PastUpdate | Failure | Cleared


class LiveState(Generic[T]):
    """Everything a live value is. Readers check ``closed`` and ``version`` and park on
    ``state_lot`` with no checkpoint in between, so no wake-up is lost; ``state_lot`` is
    unparked whenever ``version`` moves or ``closed`` turns true, ``record_lot`` whenever a
    record is appended."""

    __slots__ = (
        "closed",
        "config",
        "counters",
        "history",
        "last_error",
        "origins",
        "record_lot",
        "records_total",
        "restart_pending",
        "retired",
        "snapshots",
        "state_lot",
        "version",
        "whole",
    )

    def __init__(
        self,
        initial: T,
        *,
        origins: Mapping[str, str],
        history_size: int = 64,
        snapshots: int = 4,
        counters: Counters | None = None,
    ) -> None:
        if history_size < 1:
            msg = f"history_size must be at least 1, not {history_size}"
            raise ValueError(msg)
        if snapshots < 1:
            msg = f"snapshots must be at least 1, not {snapshots}"
            raise ValueError(msg)
        self.config: T = initial
        self.version: int = 1
        self.closed: bool = False
        self.last_error: ConfigError | None = None
        # Not copied: built lazily (``_origins.LayerOrigins``, ``KeyedOrigins`` for a keyed
        # Directory), never changed.
        self.origins: Mapping[str, str] = origins
        # The restart-only values that differ on disk from the running ones (``_hold``): none
        # at start, when every value is taken as it is on disk.
        self.restart_pending: tuple[RestartPending, ...] = ()
        self.state_lot: trio.lowlevel.ParkingLot = trio.lowlevel.ParkingLot()
        self.record_lot: trio.lowlevel.ParkingLot = trio.lowlevel.ParkingLot()
        # The retained snapshots, so that a view read late can judge the versions it missed:
        # those the whole Update records hold (config and previous), hence one more.
        self.snapshots: deque[tuple[int, T]] = deque([(1, initial)], maxlen=snapshots + 1)
        self.history: deque[Record] = deque(maxlen=history_size)
        self.records_total: int = 0  # records ever appended; the oldest retained is total - len
        # The Update records still whole, with their sequence numbers (the count of records
        # appended before each), oldest first: the one pushed out is found in the history
        # by its number and replaced there by its PastUpdate.
        self.whole: deque[tuple[int, Update[T]]] = deque(maxlen=snapshots)
        self.counters: Counters = Counters() if counters is None else counters
        # What the last publish let go of (an old snapshot, an old record), kept until the
        # updater is idle: freeing a snapshot of ten thousand entries takes as long as
        # building the new one, and the tasks waiting for the new one should not wait for it.
        self.retired: list[object] = []
        # Every leaf path, listed on first access: a keyed Directory of ten thousand entries
        # has a hundred thousand of them, which took more time at start-up, and more memory
        # for as long as this record is kept, than the entries themselves.
        first = Update(1, initial, None, functools.partial(_all_leaves, initial), time.time())
        _append_update(self, first)


class Publisher(Generic[T]):
    """The updater's rights over a live value: publish, record a failure, close, count."""

    __slots__ = ("_state",)

    def __init__(self, state: LiveState[T]) -> None:
        self._state = state

    @property
    def current(self) -> T:
        return self._state.config

    @property
    def version(self) -> int:
        return self._state.version

    @property
    def origins(self) -> Mapping[str, str]:
        return self._state.origins

    def taken(self) -> None:
        """The updater took a batch from the debouncer."""
        self._state.counters.batches += 1

    def attempting(self) -> None:
        """A reload attempt starts (a batch, or a ``reload()`` call's)."""
        self._state.counters.reloads += 1

    def publish(
        self,
        config: T,
        changed: frozenset[str] | Callable[[], frozenset[str]],
        origins: Mapping[str, str],
    ) -> Update[T]:
        """Swap in a new snapshot (and its origins), clear ``last_error``, wake everyone."""
        state = self._state
        if len(state.snapshots) == state.snapshots.maxlen:
            state.retired.append(state.snapshots[0])
        if len(state.whole) == state.whole.maxlen:
            state.retired.append(state.whole[0][1])
        cleared = state.last_error is not None
        update = Update(state.version + 1, config, state.config, changed, time.time(), cleared)
        state.config = config
        state.version = update.version
        state.origins = origins
        state.last_error = None
        state.snapshots.append((update.version, config))
        _append_update(state, update)
        state.counters.applied += 1
        state.state_lot.unpark_all()
        return update

    def release(self) -> None:
        """Between publishes: let go of what the last one retired (``LiveState.retired``),
        and list now the changed paths of the update the next one will retire, which
        becomes a ``PastUpdate`` then and needs them (listed on demand, and cached)."""
        state = self._state
        state.retired.clear()
        whole = state.whole
        if len(whole) == whole.maxlen and whole[0][1].previous is not None:
            whole[0][1].changed  # noqa: B018 (computed now, off the next publish's path)

    def waiting(self, pending: tuple[RestartPending, ...]) -> None:
        """The restart-only values that wait now. Set by an attempt that succeeded, just
        before it publishes or confirms (no checkpoint between): readers see the two agree."""
        self._state.restart_pending = pending

    def fail(self, error: ConfigError) -> Failure:
        """Record a failed attempt; the current snapshot stays.

        The record (and ``last_error``) holds a traceback-free copy of ``error``; ``error``
        itself is left as it is, for the updater to hand to ``reload()`` callers."""
        state = self._state
        failure = Failure(detached(error), state.version, time.time())
        state.last_error = failure.error
        state.counters.rejected += 1
        _append_record(state, failure)
        return failure

    def confirmed(self) -> Cleared | None:
        """An attempt built and checked a config equal to the current one: it succeeded
        without a new version, so ``last_error`` is cleared, and if it was set, a ``Cleared``
        record says so (returned)."""
        state = self._state
        state.counters.noops += 1
        if state.last_error is None:
            state.record_lot.unpark_all()  # for ``testing.expect_outcome``: no outcome
            return None
        state.last_error = None
        record = Cleared(state.version, time.time())
        _append_record(state, record)
        return record

    def unchanged(self) -> None:
        """An attempt found the bytes on disk as they were: nothing to build or decide
        (``last_error`` stays whatever it was: a rejection is still one)."""
        self._state.counters.noops += 1
        self._state.record_lot.unpark_all()  # for ``testing.expect_outcome``: no outcome

    def close(self) -> None:
        """Wake every waiter for the last time: waits raise, iterators end. Idempotent."""
        state = self._state
        state.closed = True
        state.state_lot.unpark_all()
        state.record_lot.unpark_all()


def _append_update(state: LiveState[T], update: Update[T]) -> None:
    """Append a whole ``Update``; the one it pushes out of the whole ones becomes a
    ``PastUpdate`` where the history holds it (if it still does)."""
    whole = state.whole
    if len(whole) == whole.maxlen:
        number, old = whole.popleft()
        index = number - (state.records_total - len(state.history))
        if index >= 0:
            state.history[index] = past(old)
    whole.append((state.records_total, update))
    _append_record(state, update)


def _append_record(state: LiveState[Any], record: Record) -> None:
    state.history.append(record)
    state.records_total += 1
    state.record_lot.unpark_all()


def _all_leaves(config: object) -> frozenset[str]:
    return frozenset(leaf_paths(config))
