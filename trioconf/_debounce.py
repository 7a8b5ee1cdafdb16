"""The debouncer: turns a stream of "this path may have changed" into batches worth reading.

Editors and deploy tools touch a file several times per save (truncate, write, chmod, rename),
and some writers rewrite a file in a loop. Reading after every event would parse half-written
states and apply needless versions. So the debouncer holds each dirty path until it has been
quiet for the window, and hands the updater whole batches.

Rules, per path:

* quiet window: the path is released once no event has named it for ``window`` seconds
  (half of that for priority sources);
* adaptive: a path released again within ``max_window`` of its previous release is a file that
  changes often, so its window doubles (up to ``max_window``); a path that rests for
  ``max_window`` falls back to the base window. This is the design document's adaptive timeout,
  without its guesswork: the window only grows for paths that really churn;
* ceiling: no path is held longer than ``max_window`` after its first event, so a continuous
  storm of writes still applies at least that often. The first event is the oldest one not
  applied yet: when the reload of a released path fails (a read that caught an in-place writer
  between its truncate and its write, a bad save), the updater says so (``failed``), and the
  path's next event is released at once if that oldest change already waited ``max_window``,
  instead of waiting a second ceiling. Once: a retry that fails too waits the normal way, so a
  file that stays broken in a storm of writes is not re-read on every event;
* ``window == 0``: paths are released at once; the inbox merges whatever arrives while the
  updater is busy into the next batch.

It forwards paths, never contents: the updater reads the disk when it is ready, so the state it
applies is the newest one, not the one that triggered the event.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Container
from pathlib import Path

import attrs
import trio

from ._inbox import Inbox
from ._records import Counters
from ._watch._events import RESCAN, WatchEvent

# A key in the pending table that stands for "rescan everything" (queue overflow, backend
# switch): it is debounced like a path, since an overflow means a storm is under way.
_RESCAN_KEY = Path("/\0rescan")


@attrs.define
class _Pending:
    first: float
    last: float


@attrs.define
class _Heat:
    window: float
    released: float
    first: float  # the first event of that release's batch: its oldest change


@attrs.define
class Debouncer:
    window: float
    max_window: float
    priority: Container[Path] = frozenset()
    _pending: dict[Path, _Pending] = attrs.field(factory=dict, init=False)
    _heat: dict[Path, _Heat] = attrs.field(factory=dict, init=False)
    # Paths whose last reload failed → the time of their oldest change not applied yet.
    _unapplied: dict[Path, float] = attrs.field(factory=dict, init=False)
    _retrying: set[Path] = attrs.field(factory=set, init=False)  # released as a retry
    # The debouncer task's wait for its next deadline, which ``failed`` may bring forward.
    _wait: trio.CancelScope | None = attrs.field(default=None, init=False)

    def window_for(self, path: Path, now: float) -> float:
        """The quiet window this path must observe now."""
        base = self.window / 2 if path in self.priority else self.window
        heat = self._heat.get(path)
        if heat is None or now - heat.released >= self.max_window:
            return base
        return max(base, heat.window)

    def note(self, path: Path, now: float) -> None:
        pending = self._pending.get(path)
        if pending is None:
            first = self._unapplied.pop(path, None)
            if first is None:
                first = now
            else:
                self._retrying.add(path)
            self._pending[path] = _Pending(first=first, last=now)
        else:
            pending.last = now

    def failed(self, paths: frozenset[Path]) -> None:
        """The reload that read ``paths`` failed: their oldest change is not applied yet."""
        for path in paths:
            if path in self._retrying:
                self._retrying.discard(path)  # the retry failed too: no second one
                continue
            heat = self._heat.get(path)
            if heat is None:
                continue  # never held (debounce 0): nothing waited a ceiling
            pending = self._pending.get(path)
            if pending is None:
                self._unapplied[path] = heat.first
            else:  # written again during the attempt
                pending.first = min(pending.first, heat.first)
                self._retrying.add(path)
                if self._wait is not None:
                    # The task sleeps until the deadline it computed before: wake it sooner.
                    self._wait.deadline = min(self._wait.deadline, self.deadline(path))

    def applied(self, paths: frozenset[Path]) -> None:
        """The reload that read ``paths`` succeeded (or changed nothing)."""
        for path in paths:
            self._unapplied.pop(path, None)
            self._retrying.discard(path)

    def deadline(self, path: Path) -> float:
        pending = self._pending[path]
        quiet = pending.last + self.window_for(path, pending.last)
        return min(quiet, pending.first + self.max_window)

    def next_deadline(self) -> float:
        return min((self.deadline(p) for p in self._pending), default=math.inf)

    def release_due(self, now: float) -> set[Path]:
        if self.window == 0:
            # No quiet window, so no heat to track either: all that was noted is due. The
            # fast path matters: at debounce 0 this runs once per event, on the reload's path.
            due = set(self._pending)
            self._pending.clear()
            return due
        due = {p for p in self._pending if self.deadline(p) <= now}
        for path in due:
            self._warm(path, now, self._pending.pop(path).first)
        return due

    def _warm(self, path: Path, now: float, first: float) -> None:
        heat = self._heat.get(path)
        if heat is not None and now - heat.released < self.max_window:
            grown = max(heat.window, self.window) * 2 if self.window > 0 else 0.0
            heat.window = min(grown, self.max_window)
            heat.released = now
            heat.first = first
        else:
            self._heat[path] = _Heat(window=self.window, released=now, first=first)

    def pending(self) -> frozenset[Path]:
        return frozenset(self._pending)


async def run_debouncer(
    receive: trio.MemoryReceiveChannel[WatchEvent],
    inbox: Inbox,
    debouncer: Debouncer,
    counters: Counters,
) -> None:
    """Run until the watcher side closes or the task is cancelled."""
    async with receive:
        while True:
            deadline = debouncer.next_deadline()
            # Nothing pending (always so at debounce 0): no cancel scope to set up.
            wait = trio.move_on_at(deadline) if deadline < math.inf else None
            debouncer._wait = wait
            with wait if wait is not None else contextlib.nullcontext():
                try:
                    event = await receive.receive()
                except trio.EndOfChannel:
                    _hand_over(inbox, debouncer.release_due(math.inf))
                    return
                now = trio.current_time()
                _note(debouncer, event, now, counters)
                # Drain what is already queued without a checkpoint per event: a burst of
                # inotify events then costs one deadline computation, not one per event.
                while True:
                    try:
                        event = receive.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    _note(debouncer, event, now, counters)
            _hand_over(inbox, debouncer.release_due(trio.current_time()))


def _note(debouncer: Debouncer, event: WatchEvent, now: float, counters: Counters) -> None:
    counters.events += 1
    debouncer.note(_RESCAN_KEY if event is RESCAN else event, now)


def _hand_over(inbox: Inbox, due: set[Path]) -> None:
    if not due:
        return
    rescan = _RESCAN_KEY in due
    due.discard(_RESCAN_KEY)
    inbox.put(due, rescan=rescan)
