"""The live value: the end of the pipeline, where validated snapshots meet the user's tasks.

The updater task publishes snapshots with the internal, synchronous ``_publish`` / ``_fail`` /
``_succeed_noop`` / ``_close``; user tasks read ``current`` (a plain attribute read), wait with
``wait_value``, iterate with ``updates()`` and ``records()``, and derive parts with
``open_view``.

Waking: two ``trio.lowlevel.ParkingLot`` objects, not trio-util's ``AsyncValue``. AsyncValue runs
every waiter's predicate inside the ``.value`` setter, i.e. in the updater task; here the
publisher runs no callable at all (not even an internal predicate): it swaps two attributes and
unparks the lot. Each woken task re-checks its own condition (a version number compared, then the
user's predicate or view function) in its own task, so user code can only ever raise where it
was called. Checking then parking has no checkpoint in between, so no wake-up can be lost.
``_state_lot`` is unparked when the snapshot changes or the value closes; ``_record_lot`` when a
record (update or failure) is appended or the value closes.

Delivery semantics, side by side:

============================  ===========================================================
``wait_value(pred)``          latest wins: ``pred`` sees the current snapshot each time the
                              version moves; a state that was current only while the waiter
                              was not scheduled is not seen. Returns the value that is current
                              at the moment it returns.
``updates()``                 latest wins, compared by version (a revert 0→1→0 yields).
``View`` waiters/iterators    wake when the *viewed* value changed, judged on every retained
                              snapshot (so a→b→a counts as two changes, even when read late).
``records()``                 every record, in order, none skipped while the consumer stays
                              within ``history_size`` of the newest (see ``_Records``).
============================  ===========================================================
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

import attrs
import trio

from ._errors import ConfigError
from ._records import Counters, Failure, Statistics, Update

T = TypeVar("T")
U = TypeVar("U")

Record = Update[Any] | Failure


class Live(Generic[T]):
    """The current snapshot of a config of type ``T``, and the ways to wait for newer ones.

    Created by the reloader after the initial load; user code never constructs it.
    """

    __slots__ = (
        "_closed",
        "_config",
        "_history",
        "_last_error",
        "_origins",
        "_record_lot",
        "_records_total",
        "_reload",
        "_snapshots",
        "_state_lot",
        "_version",
        "counters",
    )

    def __init__(
        self,
        initial: T,
        *,
        origins: Mapping[str, str],
        history_size: int = 64,
        reload: Callable[[], Awaitable[None]],
    ) -> None:
        if history_size < 1:
            msg = f"history_size must be at least 1, not {history_size}"
            raise ValueError(msg)
        self._config = initial
        self._version = 1
        self._closed = False
        self._last_error: ConfigError | None = None
        self._origins: dict[str, str] = dict(origins)
        self._reload = reload
        self._state_lot = trio.lowlevel.ParkingLot()
        self._record_lot = trio.lowlevel.ParkingLot()
        # The last snapshots, so that a view read late can judge every version it missed.
        self._snapshots: deque[tuple[int, T]] = deque([(1, initial)], maxlen=history_size)
        self._history: deque[Record] = deque(maxlen=history_size)
        self._records_total = 0  # records ever appended; the oldest retained is total - len
        self.counters = Counters()
        first = Update(1, initial, None, frozenset(_leaf_paths(initial)), time.time())
        self._append_record(first)

    # --- read by user tasks -------------------------------------------------------------------

    @property
    def current(self) -> T:
        """The snapshot now. Sync, no checkpoint; never torn (snapshots are swapped whole)."""
        return self._config

    @property
    def version(self) -> int:
        """1 for the initial snapshot, +1 for each one published since."""
        return self._version

    @property
    def last_error(self) -> ConfigError | None:
        """The error of the latest reload attempt; ``None`` once an attempt succeeds."""
        return self._last_error

    @property
    def closed(self) -> bool:
        """True once the reloader has closed: waiters raise, iterators end."""
        return self._closed

    @property
    def history(self) -> tuple[Update[T] | Failure, ...]:
        """The last ``history_size`` records, oldest first (the initial ``Update`` included
        until it is pushed out)."""
        return cast("tuple[Update[T] | Failure, ...]", tuple(self._history))

    async def wait_value(self, predicate: Callable[[T], bool]) -> T:
        """Return the first snapshot, from now on, for which ``predicate`` is true.

        If the current snapshot satisfies it, return it at once (after a checkpoint).
        Otherwise ``predicate`` is called again, in this task, each time the version moves;
        if it raises, the exception propagates here. Raises ``trio.ClosedResourceError`` once
        the live value is closed.
        """
        await trio.lowlevel.checkpoint()
        seen = 0
        while True:
            if self._closed:
                raise _closed_error()
            if self._version != seen:
                seen = self._version
                config = self._config
                if predicate(config):
                    return config
            await self._state_lot.park()

    def updates(self) -> AsyncIterator[T]:
        """Iterate over the current snapshot, then each newer one (latest wins).

        A plain async iterator, not a generator: breaking out of the loop needs no cleanup.
        Ends when the live value closes.
        """
        return _Updates(self)

    def records(self) -> AsyncIterator[Update[T] | Failure]:
        """Iterate over every record appended from now on, in order; ends on close after the
        records appended before the close. See ``_Records`` for a consumer that falls behind."""
        return _Records(self)

    def open_view(self, f: Callable[[T], U]) -> contextlib.AbstractContextManager[View[U]]:
        """A derived value ``f(current)`` whose waiters wake only when it changes.

        Sync, starts no task: ``f`` runs lazily in the tasks that read the view. Leaving the
        ``with`` block closes the view: its waiters raise ``trio.ClosedResourceError`` and its
        iterators end.
        """
        return _open_view(View(self, f))

    async def reload(self) -> None:
        """Re-read every source now; returns once the attempt is over (its outcome is in
        ``version`` / ``last_error``). Raises ``trio.ClosedResourceError`` after close."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise _closed_error()
        await self._reload()

    def origin(self, path: str) -> str:
        """Which source supplied the value at the dotted ``path`` (``"db.port"``).

        The source's name as the loader recorded it for that key path (it records one for
        inner tables too); ``"default"`` when no source supplied it (the class's default was
        used). For a path above the leaves with no record of its own, the distinct origins of
        its leaves, in field order, joined by ``", "``. ``KeyError`` when ``path`` is not in
        the current snapshot.
        """
        found = self._origins.get(path)
        if found is not None:
            return found
        value = _lookup(self._config, path)  # raises KeyError
        leaves = [f"{path}.{leaf}" for leaf in _leaf_paths(value)] or [path]
        origins = dict.fromkeys(self._origins.get(leaf, "default") for leaf in leaves)
        return ", ".join(origins)

    def statistics(self) -> Statistics:
        """The pipeline's counts so far (see ``Statistics``)."""
        c = self.counters
        return Statistics(
            version=self._version,
            events=c.events,
            batches=c.batches,
            reloads=c.reloads,
            applied=c.applied,
            rejected=c.rejected,
            noops=c.noops,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<trioconf.Live version={self._version} {state}>"

    # --- called by the updater task: sync, run no user code, never raise -----------------------

    def _publish(self, config: T, changed: frozenset[str], origins: Mapping[str, str]) -> Update[T]:
        """Swap in a new snapshot (and its origins), clear ``last_error``, wake everyone."""
        update = Update(self._version + 1, config, self._config, changed, time.time())
        self._config = config
        self._version = update.version
        self._origins = dict(origins)
        self._last_error = None
        self._snapshots.append((update.version, config))
        self._append_record(update)
        self._state_lot.unpark_all()
        return update

    def _fail(self, error: ConfigError) -> Failure:
        """Record a failed attempt; the current snapshot stays."""
        failure = Failure(error, self._version, time.time())
        self._last_error = error
        self._append_record(failure)
        return failure

    def _succeed_noop(self) -> None:
        """An attempt succeeded but changed nothing: only ``last_error`` is cleared."""
        self._last_error = None

    def _close(self) -> None:
        """Wake every waiter for the last time: waits raise, iterators end. Idempotent."""
        self._closed = True
        self._state_lot.unpark_all()
        self._record_lot.unpark_all()

    # --- helpers ------------------------------------------------------------------------------

    def _append_record(self, record: Record) -> None:
        self._history.append(record)
        self._records_total += 1
        self._record_lot.unpark_all()


class View(Generic[U]):
    """``f(live.current)``, evaluated lazily in the reading task and cached per live version.

    ``version`` starts at 1 and grows by one each time the viewed value changes (``!=``, or
    ``f`` starting or stopping to raise). Changes are judged on every snapshot the live value
    still retains (its last ``history_size``) that this view has not judged yet, so a change
    a→b→a counts twice even when nobody read the view in between; snapshots already dropped
    from the retained window are skipped, and only the ones still retained are compared.
    The judging happens whenever anything reads the view, and is shared by all its readers.

    If ``f`` raises for the current snapshot, reading ``current`` (and so this view's waiters
    and iterators) raises that exception; the live value and other views are unaffected.
    """

    __slots__ = ("_closed", "_f", "_live", "_seen_config", "_seen_version", "_state", "_version")

    def __init__(self, live: Live[Any], f: Callable[[Any], U]) -> None:
        self._live = live
        self._f = f
        self._closed = False
        self._version = 1
        # The newest live snapshot judged, and f of it (_UNSET until someone needs it).
        self._seen_version = live._version
        self._seen_config: Any = live._config
        self._state: object = _UNSET

    @property
    def current(self) -> U:
        """``f`` of the live snapshot now; raises what ``f`` raises for it."""
        self._catch_up()
        state = self._state
        if state is _UNSET or state is _FAILED:
            # Call f again rather than re-raise a stored exception: each reader gets a fresh
            # exception with its own traceback, and no frame is kept alive between reads.
            value = self._f(self._seen_config)
            if state is _UNSET:
                self._state = value
            return value
        return cast("U", state)

    @property
    def version(self) -> int:
        """1 + the number of times the viewed value changed since the view was opened."""
        self._catch_up()
        return self._version

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_value(self, predicate: Callable[[U], bool]) -> U:
        """Like ``Live.wait_value``, on the viewed value; ``predicate`` is called only when the
        viewed value changed. Raises ``trio.ClosedResourceError`` once the view or the live
        value is closed."""
        await trio.lowlevel.checkpoint()
        seen = 0
        while True:
            if self._closed or self._live._closed:
                raise _closed_error()
            if self.version != seen:
                seen = self._version
                value = self.current
                if predicate(value):
                    return value
            await self._live._state_lot.park()

    def updates(self) -> AsyncIterator[U]:
        """The viewed value now, then after each change (latest wins); ends on close."""
        return _ViewUpdates(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<trioconf.View version={self._version} {state}>"

    def _catch_up(self) -> None:
        """Judge every retained live snapshot newer than the last one judged."""
        live = self._live
        if live._version == self._seen_version:
            return
        state = self._state
        if state is _UNSET:
            state = self._state = _evaluate(self._f, self._seen_config)
        for version, config in live._snapshots:
            if version <= self._seen_version:
                continue
            new = state if config is self._seen_config else _evaluate(self._f, config)
            if _differs(state, new):
                self._version += 1
            state = self._state = new
            self._seen_version = version
            self._seen_config = config

    def _close(self) -> None:
        self._closed = True
        # Waiters park on the live value's lot: wake them all; the others simply park again.
        self._live._state_lot.unpark_all()


@contextlib.contextmanager
def _open_view(view: View[U]) -> Iterator[View[U]]:
    try:
        yield view
    finally:
        view._close()


class _Updates(Generic[T]):
    """``Live.updates()``: yields the snapshot whenever its version moved since the last yield."""

    __slots__ = ("_live", "_seen")

    def __init__(self, live: Live[T]) -> None:
        self._live = live
        self._seen = 0

    def __aiter__(self) -> _Updates[T]:
        return self

    async def __anext__(self) -> T:
        live = self._live
        await trio.lowlevel.checkpoint()
        while True:
            if live._closed:
                raise StopAsyncIteration
            if live._version != self._seen:
                self._seen = live._version
                return live._config
            await live._state_lot.park()


class _ViewUpdates(Generic[U]):
    """``View.updates()``: yields the viewed value whenever the view's version moved."""

    __slots__ = ("_seen", "_view")

    def __init__(self, view: View[U]) -> None:
        self._view = view
        self._seen = 0

    def __aiter__(self) -> _ViewUpdates[U]:
        return self

    async def __anext__(self) -> U:
        view = self._view
        await trio.lowlevel.checkpoint()
        while True:
            if view._closed or view._live._closed:
                raise StopAsyncIteration
            if view.version != self._seen:
                # Marked seen before f may raise: a retry waits for the next change instead
                # of raising the same error again.
                self._seen = view._version
                return view.current
            await view._live._state_lot.park()


class _Records(Generic[T]):
    """``Live.records()``: every record from the moment of the call, in order.

    Records live in the bounded history only. A consumer that falls more than
    ``history_size`` records behind resumes at the oldest one still retained; the number of
    records it lost that way is counted in ``missed`` (the stream itself stays a plain
    sequence of ``Update`` / ``Failure`` records).
    """

    __slots__ = ("_live", "_next", "missed")

    def __init__(self, live: Live[T]) -> None:
        self._live = live
        self._next = live._records_total  # sequence number of the next record to yield
        self.missed = 0

    def __aiter__(self) -> _Records[T]:
        return self

    async def __anext__(self) -> Update[T] | Failure:
        live = self._live
        await trio.lowlevel.checkpoint()
        while True:
            oldest = live._records_total - len(live._history)
            if self._next < oldest:
                self.missed += oldest - self._next
                self._next = oldest
            if self._next < live._records_total:
                record = live._history[self._next - oldest]
                self._next += 1
                return cast("Update[T] | Failure", record)
            if live._closed:
                raise StopAsyncIteration
            await live._record_lot.park()


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_UNSET = _Marker("<unset>")  # f not evaluated yet for the view's last judged snapshot
_FAILED = _Marker("<f raised>")  # f raised for it


def _evaluate(f: Callable[[Any], object], config: object) -> object:
    try:
        return f(config)
    except Exception:
        # Judged as "f raised"; the exception itself reaches readers when they read current.
        return _FAILED


def _differs(old: object, new: object) -> bool:
    if old is new:
        return False
    if old is _FAILED or new is _FAILED:
        return True
    try:
        return bool(old != new)
    except Exception:
        return True  # an incomparable value (a numpy array): wake rather than miss a change


def _closed_error() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("the live config value is closed")


def _children(value: object) -> dict[str, object] | None:
    """The named parts of a value: the fields of an attrs or dataclass instance, the items of
    a mapping (keys as strings); None for anything else (a leaf)."""
    cls = type(value)
    if attrs.has(cls):
        return {a.name: getattr(value, a.name) for a in attrs.fields(cls)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    return None


def _leaf_paths(value: object) -> list[str]:
    """Dotted paths of the leaves below ``value``; [] for a leaf itself.

    Nested attrs/dataclass instances and non-empty mappings are walked; anything else (scalars,
    lists, None, an empty mapping) is a leaf. This matches the paths the updater's diff of the
    unstructured documents reports, so version 1's ``changed`` reads like every later one's.
    """
    children = _children(value)
    if children is None:
        return []
    paths: list[str] = []
    for name, child in children.items():
        below = _leaf_paths(child)
        if below:
            paths.extend(f"{name}.{leaf}" for leaf in below)
        else:
            paths.append(name)
    return paths


def _lookup(config: object, path: str) -> object:
    """The value at a dotted path of the snapshot (through fields and mapping keys)."""
    value = config
    for part in path.split("."):
        children = _children(value)
        if children is None or part not in children:
            raise KeyError(path)
        value = children[part]
    return value
