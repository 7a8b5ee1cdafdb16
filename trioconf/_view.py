"""Views: a derived part of the live config whose waiters wake only when that part changes.

Separate from ``_live`` because it is its own concept with its own change semantics (judged on
every retained snapshot, ``f`` run lazily in the reading tasks, its failures kept apart from the
live value's). A view reads the live value's state (``_state``) and never changes it; it does
not import ``_live``, and ``Live.open_view`` is the only way in.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, cast

import trio

from ._state import LiveState
from ._wake import closed_error

U = TypeVar("U")


class View(Generic[U]):
    """``f(live.current)``, evaluated lazily in the reading task and cached per live version.

    ``version`` starts at 1 and grows by one each time the viewed value changes (``!=``, or
    ``f`` starting or stopping to raise). Changes are judged on every snapshot the live value
    still retains (the current one and the 4 before it, by default) that this view has not
    judged yet, so a change a→b→a counts twice even when nobody read the view in between. A
    view read later than that compares the value it judged last with the oldest snapshot
    still retained, then each newer one: changes made and undone within the versions dropped
    in between are not counted. The judging happens whenever anything reads the view, and is
    shared by all its readers.

    A view keeps ``f``'s value for the last snapshot it judged, not the snapshot itself
    (unless ``f`` raised for it, to raise afresh for each reader), so a view read rarely does
    not keep an old snapshot alive.

    If ``f`` raises for the current snapshot, reading ``current`` (and so this view's waiters
    and iterators) raises that exception; the live value and other views are unaffected.
    """

    __slots__ = ("_closed", "_f", "_live", "_seen_config", "_seen_version", "_state", "_version")

    def __init__(self, live: LiveState[Any], f: Callable[[Any], U]) -> None:
        self._live = live
        self._f = f
        self._closed = False
        self._version = 1
        # The newest live snapshot judged, and f of it (_UNSET until someone needs it). The
        # snapshot itself is held only while f has to be called on it again (_UNSET, _FAILED):
        # an old snapshot kept by an idle view would be a copy of a large mapping kept alive.
        self._seen_version = live.version
        self._seen_config: Any = live.config
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
                self._seen_config = None
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
            if self._closed or self._live.closed:
                raise closed_error()
            if self.version != seen:
                seen = self._version
                value = self.current
                if predicate(value):
                    return value
            await self._live.state_lot.park()

    def updates(self) -> AsyncIterator[U]:
        """The viewed value now, then after each change (latest wins); ends on close."""
        return _ViewUpdates(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<trioconf.View version={self._version} {state}>"

    def _catch_up(self) -> None:
        """Judge every retained live snapshot newer than the last one judged."""
        live = self._live
        if live.version == self._seen_version:
            return
        state = self._state
        if state is _UNSET:
            state = self._state = _evaluate(self._f, self._seen_config)
        for version, config in live.snapshots:
            if version <= self._seen_version:
                continue
            new = _evaluate(self._f, config)
            if _differs(state, new):
                self._version += 1
            state = self._state = new
            self._seen_version = version
            self._seen_config = config if new is _FAILED else None

    def _close(self) -> None:
        self._closed = True
        # Waiters park on the live value's lot: wake them all; the others simply park again.
        self._live.state_lot.unpark_all()


def open_view(
    live: LiveState[Any], f: Callable[[Any], U]
) -> contextlib.AbstractContextManager[View[U]]:
    """``Live.open_view``: a view of ``f`` over ``live``, closed when the ``with`` block exits.

    The view is built here, at the call, not on entering the block, so its version 1 is the
    snapshot current when ``open_view`` was called.
    """
    return _closing(View(live, f))


@contextlib.contextmanager
def _closing(view: View[U]) -> Iterator[View[U]]:
    try:
        yield view
    finally:
        view._close()


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
            if view._closed or view._live.closed:
                raise StopAsyncIteration
            if view.version != self._seen:
                # Marked seen before f may raise: a retry waits for the next change instead
                # of raising the same error again.
                self._seen = view._version
                return view.current
            await view._live.state_lot.park()


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
