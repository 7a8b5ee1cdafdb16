"""The live value: the end of the pipeline, where validated snapshots meet the user's tasks.

``Live`` is the user's side of the live value's state (``_state``): user tasks read ``current``
(a plain attribute read), wait with ``wait_value``, iterate with ``updates()`` and
``records()``, and derive parts with ``open_view``. Only the updater task's ``Publisher``
(``_state``) changes that state.

How readers wait (a parking lot, so the updater never runs user code) is explained in
``_wake``; views are in ``_view``, leaf paths and path lookups in ``_paths``. The iterators of
``updates()`` and ``records()`` stay here: they read ``Live``'s own state and record history.

Delivery semantics, side by side:

============================  ===========================================================
``wait_value(pred)``          latest wins: ``pred`` sees the current snapshot each time the
                              version moves; a state that was current only while the waiter
                              was not scheduled is not seen. Returns the value that is current
                              at the moment it returns.
``updates()``                 latest wins, compared by version (a revert 0→1→0 yields).
``View`` waiters/iterators    wake when the *viewed* value changed, judged on every retained
                              snapshot (so a→b→a counts as two changes, even when read late,
                              as long as those versions are still retained).
``records()``                 every record, in order, none skipped while the consumer stays
                              within ``history_size`` of the newest (see ``_Records``); an
                              ``Update`` read more than ``snapshots`` versions late comes as
                              a ``PastUpdate``.
============================  ===========================================================

What is retained, and why that little: a snapshot of a keyed Directory holds its own mapping of
every entry (a ``dict`` field cannot share structure between versions), so each version kept
costs a copy of that mapping, and a version kept also keeps every entry it held that was
replaced since. The live value therefore keeps the snapshots of its newest ``snapshots + 1``
versions only (the current one and ``snapshots`` before it): the ``Update`` records of the
newest ``snapshots`` versions are whole (``config`` and ``previous``), older ones are replaced in
the history by a ``PastUpdate`` (version, changed paths, timestamp), and views judge those
retained versions. Failures are stored with a copy of their error that has no tracebacks
(``detached``): a traceback's frames hold the updater's locals, whole merged documents.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar, cast

import trio

from ._errors import ConfigError
from ._explain import explain
from ._hold import RestartPending
from ._origins import origin_of
from ._records import Cleared, Failure, PastUpdate, Statistics, Update
from ._state import LiveState
from ._view import View, open_view
from ._wake import closed_error

T = TypeVar("T")
U = TypeVar("U")


class Live(Generic[T]):
    """The current snapshot of a config of type ``T``, and the ways to wait for newer ones.

    Created by the reloader after the initial load; user code never constructs it.
    """

    __slots__ = ("_reload", "_request", "_state")

    def __init__(
        self,
        state: LiveState[T],
        reload: Callable[[], Awaitable[None]],
        request: Callable[[], None],
    ) -> None:
        self._state = state
        self._reload = reload
        self._request = request

    # --- read by user tasks -------------------------------------------------------------------

    @property
    def current(self) -> T:
        """The snapshot now. Sync, no checkpoint; never torn (snapshots are swapped whole)."""
        return self._state.config

    @property
    def version(self) -> int:
        """1 for the initial snapshot, +1 for each one published since."""
        return self._state.version

    @property
    def last_error(self) -> ConfigError | None:
        """The error of the latest reload attempt; ``None`` once an attempt succeeds.

        The error the failed ``Failure`` record holds: a copy of the one the attempt raised
        (same class, fields and message, its ``__cause__`` chain copied too), without
        tracebacks, so that it keeps nothing of the attempt alive."""
        return self._state.last_error

    @property
    def closed(self) -> bool:
        """True once the reloader has closed: waiters raise, iterators end."""
        return self._state.closed

    @property
    def restart_pending(self) -> tuple[RestartPending, ...]:
        """The restart-only values that differ on disk from the running ones, each waiting
        for the service to restart: a :class:`RestartPending` (path, source, value on disk,
        masked where secret) per field marked ``trioconf.field(restart_only=True)`` whose
        value changed on disk. The snapshot keeps the running value of each (see
        "Restart-only fields" in :doc:`concepts`); the other changes apply. Empty when the
        files give the running values again, and at start-up, when every value is taken as it
        is on disk. Set by each successful reload attempt; a rejected one leaves it as it was.
        """
        return self._state.restart_pending

    @property
    def history(self) -> tuple[Update[T] | PastUpdate | Failure | Cleared, ...]:
        """The last ``history_size`` records, oldest first (the initial one included until it
        is pushed out).

        The ``Update`` records of the newest ``snapshots`` versions (4 by default) are whole;
        each older one is a ``PastUpdate``: the same version, changed paths and timestamp,
        without the snapshots."""
        return cast(
            "tuple[Update[T] | PastUpdate | Failure | Cleared, ...]", tuple(self._state.history)
        )

    async def wait_value(self, predicate: Callable[[T], bool]) -> T:
        """Return the first snapshot, from now on, for which ``predicate`` is true.

        If the current snapshot satisfies it, return it at once (after a checkpoint).
        Otherwise ``predicate`` is called again, in this task, each time the version moves;
        if it raises, the exception propagates here. Raises ``trio.ClosedResourceError`` once
        the live value is closed.
        """
        await trio.lowlevel.checkpoint()
        state = self._state
        seen = 0
        while True:
            if state.closed:
                raise closed_error()
            if state.version != seen:
                seen = state.version
                config = state.config
                if predicate(config):
                    return config
            await state.state_lot.park()

    def updates(self) -> AsyncIterator[T]:
        """Iterate over the current snapshot, then each newer one (latest wins).

        A plain async iterator, not a generator: breaking out of the loop needs no cleanup.
        Ends when the live value closes.
        """
        return _Updates(self._state)

    def records(self) -> AsyncIterator[Update[T] | PastUpdate | Failure | Cleared]:
        """Iterate over every record appended from now on, in order; ends on close after the
        records appended before the close: ``async for record in live.records()``, each an
        :class:`Update`, :class:`PastUpdate`, :class:`Failure` or :class:`Cleared` (the
        return type is ``AsyncIterator[Update[T] | PastUpdate | Failure | Cleared]``; it is
        no generator, so breaking out of the loop needs no cleanup).

        Each record is yielded as the history holds it when it is read: an ``Update`` is whole
        while its version is among the newest ``snapshots``, a ``PastUpdate`` if the consumer
        reads it later than that. A consumer more than ``history_size`` records behind
        resumes at the oldest one retained (see ``_Records``)."""
        return _Records(self._state)

    def open_view(self, f: Callable[[T], U]) -> contextlib.AbstractContextManager[View[U]]:
        """A derived value ``f(current)`` whose waiters wake only when it changes.

        Sync, starts no task: ``f`` runs lazily in the tasks that read the view. Leaving the
        ``with`` block closes the view: its waiters raise ``trio.ClosedResourceError`` and its
        iterators end.
        """
        return open_view(self._state, f)

    async def reload(self) -> None:
        """Re-read every source now (environment variables too), without waiting for the
        debounce window: for SIGHUP handlers and admin endpoints.

        Returns once that attempt is over. If it failed, its ConfigError is raised here as
        well as recorded in ``last_error`` (the last good snapshot stays). Raises
        ``trio.ClosedResourceError`` after close."""
        if self._state.closed:
            await trio.lowlevel.checkpoint()
            raise closed_error()
        await self._reload()

    def request_reload(self) -> None:
        """Ask for every source to be re-read (environment variables too), and return at once.

        Sync and never raises, so it fits where :meth:`reload` does not: a signal receiver
        loop, a callback, an admin endpoint that answers before the outcome. The outcome
        lands where every attempt's does: a new version (``version``, :meth:`updates`), or a
        rejection in ``last_error`` and the history while the last good snapshot stays. The
        request joins the batch that is open, like :meth:`reload`'s. After close it does
        nothing. ``open_reloader(..., reload_signal=signal.SIGHUP)`` calls it on each signal.
        """
        if not self._state.closed:
            self._request()

    def origin(self, path: str) -> str:
        """Which source supplied the value at the dotted ``path`` (``"db.port"``).

        For a value: a file's path and the line the value is on (``/etc/app/base.toml:4``),
        ``env APP_DB__PORT`` for the variable that set it, what a :class:`Source` of your own
        says (:meth:`Source.origin`), or ``"default"`` when no source supplied it (the class's
        default was used). A list comes whole from one source: the list, and an item or a
        field of one (``"servers.0.host"`` or ``"servers[0].host"``), name it, with the line
        of what was asked; a field that the item leaves out is ``"default"``. An entry of a
        keyed :class:`Directory` names its file, without a line (the folder keeps no entry's
        bytes), and the Directory's own field names the folder. For a section (a path above
        the values), the distinct sources of its values, without lines, in field order,
        joined by ``", "``. ``KeyError`` when ``path`` is not in the current snapshot.

        The line is looked for when asked, by reading the file's text as it was loaded
        again: nothing of this is paid on a reload.
        """
        return origin_of(self._state.config, self._state.origins, path)

    def explain(self, format: str = "text") -> str:
        """The current snapshot, one line per value, with the origin of each: what
        ``trioconf check --print`` prints.

        ``format="text"`` (the default) gives aligned lines ``path = value  # origin``, the
        value written as a config file would write it; ``format="json"`` a JSON object of
        ``{"path": {"value": ..., "origin": ...}}`` in field order, with a value JSON has no
        type for (a ``Path``, a duration, a date) as its text. Secret values
        (``trioconf.field(secret=True)``, :class:`SecretStr`) are shown as ``**********``.
        A list of values is one line; a list of structures is one line per field of each
        item (``servers[0].host``). A ``format`` other than these two is a ``ValueError``.
        """
        return explain(self._state.config, self._state.origins, format)

    def statistics(self) -> Statistics:
        """The pipeline's counts so far (see ``Statistics``)."""
        c = self._state.counters
        return Statistics(
            version=self._state.version,
            events=c.events,
            batches=c.batches,
            reloads=c.reloads,
            applied=c.applied,
            rejected=c.rejected,
            noops=c.noops,
        )

    def __repr__(self) -> str:
        state = "closed" if self._state.closed else "open"
        return f"<trioconf.Live version={self._state.version} {state}>"


class _Updates(Generic[T]):
    """``Live.updates()``: yields the snapshot whenever its version moved since the last yield."""

    __slots__ = ("_seen", "_state")

    def __init__(self, state: LiveState[T]) -> None:
        self._state = state
        self._seen = 0

    def __aiter__(self) -> _Updates[T]:
        return self

    async def __anext__(self) -> T:
        state = self._state
        await trio.lowlevel.checkpoint()
        while True:
            if state.closed:
                raise StopAsyncIteration
            if state.version != self._seen:
                self._seen = state.version
                return state.config
            await state.state_lot.park()


class _Records(Generic[T]):
    """``Live.records()``: every record from the moment of the call, in order.

    Records live in the bounded history only, and are read from it when the consumer asks
    for the next one: an ``Update`` that newer versions have pushed out of the whole ones is
    read as the ``PastUpdate`` that replaced it. A consumer that falls more than
    ``history_size`` records behind resumes at the oldest one still retained; the number of
    records it lost that way is counted in ``missed`` (the stream itself stays a plain
    sequence of records).
    """

    __slots__ = ("_next", "_state", "missed")

    def __init__(self, state: LiveState[T]) -> None:
        self._state = state
        self._next = state.records_total  # sequence number of the next record to yield
        self.missed = 0

    def __aiter__(self) -> _Records[T]:
        return self

    async def __anext__(self) -> Update[T] | PastUpdate | Failure | Cleared:
        state = self._state
        await trio.lowlevel.checkpoint()
        while True:
            oldest = state.records_total - len(state.history)
            if self._next < oldest:
                self.missed += oldest - self._next
                self._next = oldest
            if self._next < state.records_total:
                record = state.history[self._next - oldest]
                self._next += 1
                return cast("Update[T] | PastUpdate | Failure | Cleared", record)
            if state.closed:
                raise StopAsyncIteration
            await state.record_lot.park()
