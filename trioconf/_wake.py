"""How readers wait for the live value: what they check before parking, and the closed error.

Waking uses ``trio.lowlevel.ParkingLot``, not trio-util's ``AsyncValue``. AsyncValue runs every
waiter's predicate inside the ``.value`` setter, i.e. in the updater task; here the publisher
runs no callable at all (not even an internal predicate): it swaps two attributes and unparks
the lot. Each woken task re-checks its own condition (a version number compared, then the
user's predicate or view function) in its own task, so user code can only ever raise where it
was called. Checking then parking has no checkpoint in between, so no wake-up can be lost.

``Live`` (in ``_live``) implements ``LiveState``; ``View`` (in ``_view``) reads a live value
only through it. This module is separate so that the view depends on that small interface
rather than on the ``Live`` class, which itself opens views: data flows one way,
``_live`` → ``_view`` → ``_wake``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import trio


class LiveState(Protocol):
    """What a reader of a live value (a ``View``) may look at. Read-only for readers: only the
    updater task, through ``Live``'s own methods, changes any of it.

    ``_state_lot`` is unparked whenever ``_version`` moves or ``_closed`` turns true; a reader
    checks ``_closed`` and ``_version`` and parks on it, with no checkpoint in between.
    """

    @property
    def _closed(self) -> bool:
        """True once the reloader has closed the value; never false again."""
        ...

    @property
    def _version(self) -> int:
        """The version of ``_config``: 1, then +1 per published snapshot."""
        ...

    @property
    def _config(self) -> Any:
        """The current snapshot."""
        ...

    @property
    def _snapshots(self) -> Iterable[tuple[int, Any]]:
        """The last retained ``(version, snapshot)`` pairs, oldest first, ending with the
        current one."""
        ...

    @property
    def _state_lot(self) -> trio.lowlevel.ParkingLot:
        """Where readers park until the snapshot changes or the value closes."""
        ...


def closed_error() -> trio.ClosedResourceError:
    """What waiting on a closed live value (or a closed view) raises."""
    return trio.ClosedResourceError("the live config value is closed")
