"""How readers wait for the live value: what they check before parking, and the closed error.

Waking uses ``trio.lowlevel.ParkingLot``, not trio-util's ``AsyncValue``. AsyncValue runs every
waiter's predicate inside the ``.value`` setter, i.e. in the updater task; here the publisher
runs no callable at all (not even an internal predicate): it swaps two attributes and unparks
the lot. Each woken task re-checks its own condition (a version number compared, then the
user's predicate or view function) in its own task, so user code can only ever raise where it
was called. Checking then parking has no checkpoint in between, so no wake-up can be lost.
Nothing else in trioconf needs trio-util either (``periodic`` would poll at once on start and
is an async generator; ``reload()`` requests are tickets through the debouncer's channel, not
a ``RepeatedEvent``), so it is not a dependency; a remote source's connection state
(``AsyncBool``) may bring it back.

The state they read, and the ``Publisher`` that changes it, are in ``_state``.
"""

from __future__ import annotations

import trio


def closed_error() -> trio.ClosedResourceError:
    """What waiting on a closed live value (or a closed view) raises."""
    return trio.ClosedResourceError("the live config value is closed")
