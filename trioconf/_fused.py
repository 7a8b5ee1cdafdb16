"""The updater's inbox at ``debounce=0``: the debouncer and the file watcher's wake-up, run in
the updater's own task while it is idle.

With a zero window nothing waits between a watcher's report and its read, so two tasks between
them (a watcher that reads the inotify queue and sends, a debouncer that batches) were two task
steps, a channel and a second wait on the descriptor on every save, for nothing. Here the
updater, whenever it asks for its next batch (``take``), waits on the file watcher's descriptor
itself, runs the watcher's wake-up (``_watch._lend.Pump``: read, process, expire the held paths
due) and hands the reports to the same ``Debouncer``, until it releases a batch, which goes
to the updater at once. A save
then costs what the floor costs (one task that waits, reads, parses and structures) plus
trioconf's own work, and the descriptor's next wait is set up after the publish, not before it.

Everything else still travels on the channel: the folder watcher, pollers, user sources and
``reload()`` requests. A relay task (``relay``) takes them off it and wakes the updater out of
its wait (by cancelling the scope it waits in), since one task cannot wait on a descriptor and a
channel at once. The debouncer's rules (holds, requests, the commit trigger, the ceiling, the
updater's feedback) are its own code, unchanged; at ``debounce > 0`` none of this is used: the
debouncer runs as its own task and the updater waits on the plain ``Inbox``.

Events that arrive while the updater reads wait in the kernel's queue (and the channel) and
form the next batch, as the inbox's coalescing did.
"""

from __future__ import annotations

import math

import trio

from ._debounce import Debouncer, DebouncerInput, take_event
from ._inbox import Batch, Inbox
from ._records import Counters
from ._watch._lend import Lend


class FusedInbox:
    """``Batches`` for the updater at debounce 0 (see the module doc)."""

    def __init__(self, inbox: Inbox, debouncer: Debouncer, counters: Counters) -> None:
        self._inbox = inbox
        self._debouncer = debouncer
        self._counters = counters
        self.lend = Lend()
        self.lend.on_change(self._wake)
        self._pending: list[DebouncerInput] = []  # taken off the channel by ``relay``
        self._open = True  # some sender may still send on the channel
        self._scope: trio.CancelScope | None = None  # the updater's wait, while it waits

    def _wake(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def relay(self, receive: trio.MemoryReceiveChannel[DebouncerInput]) -> None:
        """A task: move what producers send into this inbox, waking the updater. Ends when
        every sender is closed."""
        async with receive:
            async for event in receive:
                self._pending.append(event)
                self._wake()
        self._open = False
        self._wake()

    async def take(self) -> Batch:
        """The next batch, driving the watcher's pump and the debouncer until there is one
        (a batch in the inbox first: ``Inbox.take``). ``EndOfChannel`` once the inbox is
        closed, or every sender is and nothing is left."""
        inbox = self._inbox
        if inbox.ready:
            return await inbox.take()  # its checkpoint is this call's
        debouncer = self._debouncer
        while True:
            pump = self.lend.pump
            now = trio.current_time()
            deadline = debouncer.next_deadline(now)
            if pump is not None:
                deadline = min(deadline, pump.deadline())
            if self._pending or not self._open:
                deadline = -math.inf  # nothing to wait for; the wait is this call's checkpoint
            # Each pass waits (a checkpoint taken) in a scope that the relay, a pump lent or
            # taken back, and the debouncer's feedback (``waits_in``) may end early.
            with trio.CancelScope(deadline=deadline) as scope:
                self._scope = scope
                debouncer.waits_in(scope)
                try:
                    if pump is not None:
                        await trio.lowlevel.wait_readable(pump.fd)
                    else:
                        await trio.sleep_forever()
                finally:
                    self._scope = None
                    debouncer.waits_in(None)
            now = trio.current_time()
            if pump is not None and pump is self.lend.pump:
                # Whether the descriptor woke this wait or not: the events are read without
                # blocking, and held paths may be due.
                for event in pump.events(now):
                    take_event(debouncer, event, now, self._counters)
            pending, self._pending = self._pending, []
            for sent in pending:
                take_event(debouncer, sent, now, self._counters)
            # ``flush``: every sender is closed, nothing more will come.
            release = debouncer.release_due(now) if self._open else debouncer.flush()
            if inbox.ready:  # closed meanwhile: the reloader is ending
                return inbox.take_nowait()
            if release is not None and (release.keys or release.rescan):
                # Straight to the updater: no batch waits in the inbox while it is idle here.
                return Batch(release.keys, release.rescan, release.tickets)
            if not self._open:
                raise trio.EndOfChannel
