"""A watcher's descriptor, lent to the task that consumes its events (at ``debounce=0``).

The floor of a reload is one task that waits on the inotify descriptor, reads the file, parses
and structures it. A watcher task that reads the events and sends them on to an updater task
adds a task step, a channel and a second wait on the descriptor to every save, which measured
about a quarter of trioconf's latency above that floor. So when nothing would wait between the
two (a zero debounce window), the file watcher lends its descriptor's ``Pump`` (what one
wake-up of its loop does) to the consumer, and the consumer, while idle, waits on the
descriptor itself and runs the pump in its own task. The watcher keeps everything else: it
installed the watches, it owns the descriptor and closes it, and it takes the pump back when it
ends. Every other producer (the folder watcher, pollers, user sources, ``reload()``) still
sends on the channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from ._events import WatchEvent


class Pump(Protocol):
    """One wake-up of a watcher's loop, run by whichever task waits."""

    @property
    def fd(self) -> int:
        """The descriptor to wait on (``trio.lowlevel.wait_readable``)."""
        ...

    def deadline(self) -> float:
        """When a held path is due to be reported anyway (``inf``: none held)."""
        ...

    def events(self, now: float) -> list[WatchEvent]:
        """What the watcher makes of every event queued now, and of the held paths due."""
        ...


class Lend:
    """The slot a watcher lends its pump through; the borrower learns of changes through
    ``on_change`` (it may be waiting on the old descriptor, or on nothing)."""

    def __init__(self) -> None:
        self.pump: Pump | None = None
        self._on_change: Callable[[], None] = _nothing

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (sync, no checkpoint) whenever a pump is lent or taken back."""
        self._on_change = callback

    @contextlib.contextmanager
    def lent(self, pump: Pump) -> Iterator[None]:
        """Lend ``pump`` for the duration of the block; it is taken back when the block ends
        (the watcher ending, cancelled or failed), before its descriptor is closed."""
        if self.pump is not None:
            raise RuntimeError("a pump is lent already: only the file watcher lends one")
        self.pump = pump
        self._on_change()
        try:
            yield
        finally:
            self.pump = None
            self._on_change()


def _nothing() -> None:
    pass
