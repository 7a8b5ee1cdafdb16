"""The hand-off between the debouncer and the updater: a mailbox that coalesces.

A memory channel would freeze each batch at the moment it was sent: while the updater is busy
parsing, the debouncer's next ready paths would queue up as separate batches and be applied one
after another. The inbox instead merges everything that becomes ready while the updater works
into the single next batch, which is what "events that arrive during an update form the next
batch" asks for, and it lets ``debounce=0`` mean "apply as soon as the updater is idle".

Reload requests from ``Live.reload()`` travel the same way, as tickets that the updater settles
when the batch that carried them has been processed.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from ._errors import ConfigError


@attrs.define(eq=False)
class Ticket:
    """A ``reload()`` caller waiting for the attempt that includes its request."""

    done: trio.Event = attrs.field(factory=trio.Event)
    error: BaseException | None = None

    def settle(self, error: BaseException | None) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise self.error


@attrs.frozen
class Batch:
    """Paths that may have changed, or ``rescan`` (re-read every source)."""

    paths: frozenset[Path]
    rescan: bool = False
    tickets: tuple[Ticket, ...] = ()


class Inbox:
    def __init__(self) -> None:
        self._paths: set[Path] = set()
        self._rescan = False
        self._tickets: list[Ticket] = []
        self._ready = trio.Event()
        self._closed = False

    def put(self, paths: frozenset[Path] | set[Path], *, rescan: bool = False) -> None:
        """Add paths (sync: the debouncer never waits for the updater)."""
        if self._closed:
            return
        self._paths |= paths
        self._rescan = self._rescan or rescan
        if self._paths or self._rescan:
            self._ready.set()

    def request_reload(self) -> Ticket:
        ticket = Ticket()
        if self._closed:
            ticket.settle(trio.ClosedResourceError("the reloader is closed"))
            return ticket
        self._tickets.append(ticket)
        self._rescan = True
        self._ready.set()
        return ticket

    async def take(self) -> Batch:
        """Wait until something is ready, then take all of it as one batch."""
        await self._ready.wait()
        if self._closed:
            raise trio.EndOfChannel
        batch = Batch(frozenset(self._paths), self._rescan, tuple(self._tickets))
        self._paths = set()
        self._rescan = False
        self._tickets = []
        self._ready = trio.Event()
        return batch

    def close(self) -> None:
        """Refuse new work and fail the tickets nobody will settle."""
        self._closed = True
        for ticket in self._tickets:
            ticket.settle(trio.ClosedResourceError("the reloader closed before reloading"))
        self._tickets = []
        self._ready.set()


def settle_all(batch: Batch, error: ConfigError | None) -> None:
    for ticket in batch.tickets:
        ticket.settle(error)
