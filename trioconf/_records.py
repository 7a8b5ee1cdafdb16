"""What the live value records: applied updates, failed attempts, and the pipeline's counters.

``Update`` and ``Failure`` are the entries of ``Live.history`` and of ``Live.records()``;
``Statistics`` is the frozen answer of ``Live.statistics()``; ``Counters`` is the mutable tally
that the debouncer and the updater increment as they work (plain attribute increments: sync, no
checkpoint, no lock needed in a single Trio thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from ._errors import ConfigError

T = TypeVar("T")


@attrs.frozen(repr=False)
class Update(Generic[T]):
    """A snapshot that was published.

    ``changed`` holds the dotted paths (``"db.port"``) whose values differ from ``previous``. The
    initial snapshot (version 1) has ``previous=None`` and lists every leaf path of the config
    in ``changed`` (nested classes and non-empty mappings walked, lists whole): against
    "nothing", everything is new. It is computed on first access (the updater passes a
    function): diffing two configs costs as much as structuring one, and most updates are
    never asked what changed.
    """

    version: int
    config: T
    previous: T | None
    _changed: frozenset[str] | Callable[[], frozenset[str]] = attrs.field(alias="changed", eq=False)
    timestamp: float  # time.time() when the snapshot was published

    @property
    def changed(self) -> frozenset[str]:
        changed = self._changed
        if callable(changed):
            changed = changed()
            object.__setattr__(self, "_changed", changed)  # computed once, then kept
        return changed

    def __repr__(self) -> str:
        return (
            f"Update(version={self.version!r}, config={self.config!r}, "
            f"previous={self.previous!r}, changed={self.changed!r}, timestamp={self.timestamp!r})"
        )


@attrs.frozen
class Failure:
    """A reload attempt that failed; ``version`` is the snapshot that stayed current."""

    error: ConfigError
    version: int
    timestamp: float  # time.time() when the failure was recorded


@attrs.frozen
class Statistics:
    """Counts since the reloader started (``Live.statistics()``).

    - ``version``: the current snapshot's version (1 for the initial one);
    - ``events``: watcher events received by the debouncer;
    - ``batches``: batches the debouncer handed to the updater;
    - ``reloads``: reload attempts (batches and explicit ``reload()`` calls);
    - ``applied``: new snapshots published, not counting the initial one;
    - ``rejected``: attempts that failed and kept the previous snapshot;
    - ``noops``: successful attempts whose result equalled the current snapshot.
    """

    version: int
    events: int
    batches: int
    reloads: int
    applied: int
    rejected: int
    noops: int


@attrs.define
class Counters:
    """The mutable tally behind ``Statistics``, shared by the debouncer and the updater."""

    events: int = 0
    batches: int = 0
    reloads: int = 0
    applied: int = 0
    rejected: int = 0
    noops: int = 0
