"""``reload()`` callers: each one waits on a ticket that the attempt carrying it settles.

A ticket travels with the batch that answers it: from ``Live.reload()`` to the debouncer (it
joins the batch that is open, so it does not read around a change under way), through the inbox
to the updater, which settles it when that attempt is over. Anywhere on the way the reloader
may close: the updater cancelled in the middle of a worker parse, a batch still in the
debouncer's hands, a ``reload()`` that raced the close. So every ticket is issued by one
registry (``Tickets``) that the reloader closes last, settling whatever is still open with
``trio.ClosedResourceError``: no waiter can be forgotten, whichever task held its ticket.

One failed attempt may answer several callers, and the same error is recorded in the history.
Each caller raises a clone of its own (``ConfigError.clone()``): one exception object raised in
several tasks would collect every task's traceback, and its frames would keep alive whatever
those tasks referenced.
"""

from __future__ import annotations

import attrs
import trio

from ._errors import ConfigError


def _closed() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("the reloader closed before that reload was done")


@attrs.define(eq=False)
class Ticket:
    """One ``reload()`` caller, waiting for the attempt that includes its request."""

    _registry: Tickets
    _done: trio.Event = attrs.field(factory=trio.Event)
    _error: ConfigError | None = None
    _closed: bool = False

    def settle(self, error: ConfigError | None) -> None:
        """The attempt is over (``error`` is its failure, if it failed); idempotent."""
        if self._done.is_set():
            return
        self._error = error
        self._done.set()
        self._registry._open.discard(self)

    def _close(self) -> None:
        if not self._done.is_set():
            self._closed = True
            self.settle(None)

    async def wait(self) -> None:
        """Return once settled; raise the attempt's error (a clone of it), or
        ``trio.ClosedResourceError`` when the reloader closed first."""
        await self._done.wait()
        if self._closed:
            raise _closed()
        if self._error is not None:
            raise self._error.clone()


class Tickets:
    """Issues tickets, and settles every open one when the reloader closes."""

    def __init__(self) -> None:
        self._open: set[Ticket] = set()
        self._is_closed = False

    def issue(self) -> Ticket:
        ticket = Ticket(self)
        if self._is_closed:
            ticket._close()
        else:
            self._open.add(ticket)
        return ticket

    def close(self) -> None:
        self._is_closed = True
        for ticket in list(self._open):
            ticket._close()
