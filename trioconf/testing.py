"""Helpers for testing code that uses trioconf, without sleeps.

- :func:`static` makes a :class:`StaticLive`: a live value with no files behind it, whose
  :meth:`~StaticLive.set` publishes a new snapshot and :meth:`~StaticLive.fail` records a
  rejected one, for unit tests of the tasks that take a ``Live`` (or a ``View`` of one).
- :func:`expect_outcome` arms a wait for the outcome of a change before the change is made,
  so that a reload at ``debounce=0`` cannot be missed, and fails clearly when the change
  changed nothing.
- :class:`ConfigFiles` writes config files as real tools do (a rename save, or in place); the
  pytest plugin ``trioconf.pytest_plugin`` gives one per test as the ``config_files`` fixture.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import cattrs
import trio

from ._errors import ConfigError
from ._live import Live
from ._merge import changed_paths
from ._records import Cleared, Failure, PastUpdate, Update
from ._state import LiveState, Publisher

__all__ = ["ConfigFiles", "Outcome", "StaticLive", "expect_outcome", "static"]

T = TypeVar("T")

_UNSTRUCTURE = cattrs.Converter()


class StaticLive(Live[T]):
    """A :class:`~trioconf.Live` with no reloader: the same reading API (``current``,
    ``version``, ``wait_value``, ``updates``, ``open_view``, ``history``, ``records``,
    ``last_error``...), driven by the test. ``reload()`` and ``request_reload()`` change
    nothing (there is nothing to read)."""

    __slots__ = ("_publisher",)

    def __init__(self, state: LiveState[T]) -> None:
        async def reload() -> None:
            await trio.lowlevel.checkpoint()

        super().__init__(state, reload, lambda: None)
        self._publisher = Publisher(state)

    def set(self, config: T) -> Update[T]:
        """Publish ``config`` as the next version (sync, like the reloader's swap): waiters
        wake, views re-judge, an ``Update`` is recorded (its ``changed`` listed on demand)."""
        if self.closed:
            raise trio.ClosedResourceError("the static live value is closed")
        old = self.current
        return self._publisher.publish(config, lambda: _diff(old, config), {})

    def fail(self, error: ConfigError) -> Failure:
        """Record ``error`` as a rejected change: ``last_error`` and a ``Failure`` record;
        the current snapshot stays."""
        return self._publisher.fail(error)

    def close(self) -> None:
        """End it: waits raise ``trio.ClosedResourceError``, iterators end."""
        self._publisher.close()


def static(config: T, *, history_size: int = 64) -> StaticLive[T]:
    """A live value holding ``config`` as version 1, for unit tests (see :class:`StaticLive`)."""
    return StaticLive(LiveState(config, origins={}, history_size=history_size))


def _diff(old: object, new: object) -> frozenset[str]:
    return changed_paths(_UNSTRUCTURE.unstructure(old), _UNSTRUCTURE.unstructure(new))


class Outcome:
    """What :func:`expect_outcome` saw: the first record after the block (``record``)."""

    record: Update[Any] | PastUpdate | Failure | Cleared | None = None

    @property
    def applied(self) -> bool:
        """A new version was published."""
        return isinstance(self.record, Update | PastUpdate)

    @property
    def error(self) -> ConfigError | None:
        """The error of a rejected change (None if it was applied)."""
        return self.record.error if isinstance(self.record, Failure) else None


@contextlib.asynccontextmanager
async def expect_outcome(live: Live[Any]) -> AsyncIterator[Outcome]:
    """Wait, when the block ends, for the outcome of the change the block makes::

        async with trioconf.testing.expect_outcome(live) as outcome:
            config_files.write("app.toml", "port = 8081\\n")
        assert outcome.applied and live.current.port == 8081

    The wait is armed when the block starts, so the fastest reload cannot slip past it. It
    ends with the first record appended after that (an ``Update``, a ``Failure``, or a
    ``Cleared``), or raises ``AssertionError`` when the reloader read the change and found
    nothing to apply (the same bytes, or a config equal to the current one): a test whose edit
    changes nothing is a broken test. Bound it with ``trio.fail_after``: an edit the watcher
    never sees (a path the reloader does not read) has no outcome."""
    state = live._state
    first = state.records_total
    noops = state.counters.noops
    pending = state.restart_pending
    outcome = Outcome()
    yield outcome
    while True:
        if state.records_total > first:
            # The first record appended since the block started, wherever the history is now.
            index = first - (state.records_total - len(state.history))
            outcome.record = state.history[max(index, 0)]
            return
        if state.counters.noops > noops:
            msg = (
                "the change made in the block changed nothing: the reloader found the same "
                "bytes, or a config equal to the current one"
            )
            if state.restart_pending != pending:
                # Not a broken test: the edit is to restart-only fields, and it is held.
                msg += f"; what changed waits for a restart: {state.restart_pending!r}"
            raise AssertionError(msg)
        if state.closed:
            raise trio.ClosedResourceError("the live value closed before the outcome")
        await state.record_lot.park()


class ConfigFiles:
    """Config files in one folder, written the way tools write them.

    ``write(name, text)`` saves by rename (write a temporary file beside it, then rename it
    over the name: editors, ``write_atomic``, deploy tools); ``mode="inplace"`` truncates and
    writes the file itself (``echo >``, ``sed -i`` without a backup...). Each returns the
    path."""

    def __init__(self, folder: os.PathLike[str] | str) -> None:
        self.folder: Path = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write(self, name: str, text: str, *, mode: Literal["rename", "inplace"] = "rename") -> Path:
        path = self.path(name)
        if mode == "inplace":
            with open(path, "w") as f:
                f.write(text)
            return path
        if mode != "rename":
            msg = f"mode must be 'rename' or 'inplace', not {mode!r}"
            raise ValueError(msg)
        tmp = path.with_name(f".{path.name}.trioconf-test.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return path

    def remove(self, name: str) -> None:
        self.path(name).unlink()
