"""The hand-off between the debouncer and the updater: a mailbox that coalesces.

A memory channel would freeze each batch at the moment it was sent: while the updater is busy
parsing, the debouncer's next ready batches would queue up and be applied one after another.
The inbox instead merges everything that becomes ready while the updater works into the single
next batch, which is what "events that arrive during an update form the next batch" asks for,
and it lets ``debounce=0`` mean "apply as soon as the updater is idle".

``reload()`` callers travel in the batches as tickets (``_tickets``), which the updater settles
when the attempt that carried them is over.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import attrs
import trio

from ._errors import ConfigError
from ._source_state import Key
from ._tickets import Ticket


@attrs.frozen
class Batch:
    """The keys of the sources that may have changed (watched paths, sources that reported
    a change themselves), or ``rescan`` (re-read every source)."""

    keys: frozenset[Key]
    rescan: bool = False
    tickets: tuple[Ticket, ...] = ()

    def joined(self, later: Batch) -> Batch:
        """This batch and one that arrived while it was being read, as one attempt."""
        return Batch(
            self.keys | later.keys, self.rescan or later.rescan, self.tickets + later.tickets
        )


class Batches(Protocol):
    """Where the updater takes its batches: the ``Inbox``, or at ``debounce=0`` the
    debouncer and the file watcher run in the updater's own task (``_fused.FusedInbox``)."""

    async def take(self) -> Batch: ...


class Inbox:
    def __init__(self) -> None:
        self._keys: set[Key] = set()
        self._rescan = False
        self._tickets: list[Ticket] = []
        self._ready = trio.Event()
        self._closed = False

    def put(
        self, keys: Iterable[Key], *, rescan: bool = False, tickets: Iterable[Ticket] = ()
    ) -> None:
        """Add a released batch (sync: the debouncer never waits for the updater)."""
        if self._closed:
            return
        self._keys.update(keys)
        self._rescan = self._rescan or rescan
        self._tickets.extend(tickets)
        if self._keys or self._rescan:
            self._ready.set()

    @property
    def ready(self) -> bool:
        """Whether ``take`` would return at once (a batch waits, or the inbox is closed)."""
        return self._ready.is_set()

    async def take(self) -> Batch:
        """Wait until something is ready, then take all of it as one batch.

        Cancel-safe: a cancellation while waiting takes nothing."""
        await self._ready.wait()
        return self.take_nowait()

    def take_nowait(self) -> Batch:
        """``take`` for a caller that knows the inbox is ``ready`` and has just passed a
        checkpoint of its own (the fused debouncer's wait): ``Event.wait`` on a set event
        checkpoints anyway, one more scheduler pass on every save's path at debounce 0."""
        if self._closed:
            raise trio.EndOfChannel
        batch = Batch(frozenset(self._keys), self._rescan, tuple(self._tickets))
        self._keys = set()
        self._rescan = False
        self._tickets = []
        self._ready = trio.Event()
        return batch

    def close(self) -> None:
        """Refuse new work; a waiting ``take`` ends (its tickets are settled by the reloader's
        ticket registry, which closes after this)."""
        self._closed = True
        self._ready.set()


def settle_all(batch: Batch, error: ConfigError | None) -> None:
    for ticket in batch.tickets:
        ticket.settle(error)
