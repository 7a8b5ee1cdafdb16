"""Jittered exponential backoff between reconnection attempts.

Each delay doubles up to a ceiling, and half of it is random: a fleet of services that lost
etcd together (a leader election, a restart) does not come back in one synchronized wave.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, first: float, ceiling: float) -> None:
        self._first = first
        self._ceiling = ceiling
        self._attempts = 0

    def next(self) -> float:
        """The delay before the next attempt: in [d/2, d], d doubling from ``first`` to the
        ceiling."""
        delay: float = min(self._ceiling, self._first * 2.0 ** min(self._attempts, 32))
        self._attempts += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        """After a success: the next failure starts over from the first delay."""
        self._attempts = 0
