"""The debouncer: turns a stream of "this path may have changed" into batches worth reading.

Editors and deploy tools touch a file several times per save (truncate, write, chmod, rename),
deploys and ``git checkout`` rewrite several files a few milliseconds apart, and some writers
rewrite a file in a loop. Reading after every event would parse half-written states, apply
combinations of old and new files that nobody wrote, and publish needless versions. So the
debouncer collects changes into one open **batch** and hands the updater the whole batch once
every watched path has been quiet for the batch's window.

Rules:

* one quiet window for the batch: an event naming any watched path (a report, or a hold: see
  below) while the batch is open extends it; the batch is released once no watched path has had
  an event for the batch's window. The window is the largest among its dirty paths: the base
  window, half of it for priority sources, more for paths that churn (next rule);
* adaptive, per path: a path released again within ``max_window`` of its previous release is a
  file that changes often, so its window doubles (up to ``max_window``); a path that rests for
  ``max_window`` falls back to the base window. This is the design document's adaptive timeout,
  without its guesswork: the window only grows for paths that really churn;
* held paths: a watcher sends ``Hold(path)`` while a change to that path is visibly under way (a
  writer has it open, it was deleted a moment ago and may be replaced, a polled file has not
  settled) and the path's report ends the hold. A held path keeps the batch open, up to the
  ceiling: ``git checkout`` unlinks and re-creates each file, and releasing the files it
  finished while it still writes another would publish a mix. A hold lasts ``hold_limit`` at
  most (watchers report a held path by then anyway);
* ceiling: a batch's files are released ``max_window`` after its first event even while writes
  keep arriving or a file is held, so a continuous storm still applies at least that often.
  Released that way, a batch may mix writes of two deploys: logged at warning as possibly
  torn (unless it is one file rewritten in a storm). The first event is the oldest change not
  applied yet:
  when a reload fails (a read that caught a writer mid-save, a bad save), the updater says so
  (``failed``), and the next batch holding that path counts its ceiling from that older change,
  so it is not made to wait a second ceiling. Once: a retry that fails too waits the normal
  way, so a file that stays broken in a storm of writes is not re-read on every event;
* commit trigger (opt-in): with ``commit`` set, a batch waits for that path's change (a stamp
  file a deploy tool touches last) and then for quiet; the ceiling counts from the trigger.
  This is the promise for writers further apart than any window;
* ``reload()`` requests and rescans (queue overflow, a backend switch) join the open batch and
  are released with it; they wait for held paths (past the ceiling too, until the holds end or
  lapse: the batch's files go at the ceiling without them), so a rescan never reads a file
  mid-write. A request with no batch open and nothing held is released at once;
* ``window == 0``: reported paths are released at once, holds or not (``debounce=0`` means
  "apply as soon as the updater is idle", and gives up multi-file atomicity); the inbox merges
  whatever arrives while the updater is busy into the next batch.

It forwards paths, never contents: the updater reads the disk when it is ready, so the state it
applies is the newest one, not the one that triggered the event.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Container
from pathlib import Path

import attrs
import trio

from ._inbox import Inbox
from ._records import Counters
from ._source_state import Key, Notified
from ._tickets import Ticket
from ._watch._events import HOLD_LIMIT, RESCAN, Hold, WatchEvent

logger = logging.getLogger("trioconf")

# A key among a batch's paths that stands for "rescan everything" (queue overflow, backend
# switch): it is debounced like a path, since an overflow means a storm is under way.
_RESCAN_KEY = Path("/\0rescan")

DebouncerInput = WatchEvent | Notified | Ticket


@attrs.define
class _Batch:
    first: float  # its oldest change not applied yet: the ceiling counts from here
    last: float  # its latest event naming a watched path: the quiet window counts from here
    keys: dict[Key, None] = attrs.field(factory=dict)
    tickets: list[Ticket] = attrs.field(factory=list)
    committed: float | None = None  # when the commit trigger changed, in trigger mode


@attrs.frozen
class Release:
    """What a batch gives the updater: the paths to read, whether to re-read everything, and
    the ``reload()`` callers waiting for that attempt."""

    keys: frozenset[Key]
    rescan: bool = False
    tickets: tuple[Ticket, ...] = ()


@attrs.frozen
class _Unapplied:
    """A path whose last reload failed: its oldest change not applied yet, and when it failed."""

    first: float
    failed: float


@attrs.define
class _Grown:
    """A path's adaptive window, grown because it was released again within the ceiling."""

    window: float
    released: float


@attrs.define
class Debouncer:
    window: float
    max_window: float
    priority: Container[Key] = frozenset()
    commit: Path | None = None
    hold_limit: float = HOLD_LIMIT
    _batch: _Batch | None = attrs.field(default=None, init=False)
    _held: dict[Key, float] = attrs.field(factory=dict, init=False)  # → when the hold lapses
    _grown: dict[Key, _Grown] = attrs.field(factory=dict, init=False)
    # Released paths → their batch's first change, until the updater says how the read went.
    _released: dict[Key, float] = attrs.field(factory=dict, init=False)
    # Paths whose last reload failed → (their oldest change not applied yet, when it failed).
    _unapplied: dict[Key, _Unapplied] = attrs.field(factory=dict, init=False)
    _retrying: set[Key] = attrs.field(factory=set, init=False)  # released as a retry
    # The debouncer task's wait for its next deadline, which ``failed`` may bring forward.
    _wait: trio.CancelScope | None = attrs.field(default=None, init=False)
    # Files an attempt found gone or emptied, whose next report it waits for (``awaiting``).
    _awaited: frozenset[Key] = attrs.field(default=frozenset(), init=False)

    # -- what the watchers, reload() and the updater tell it ------------------------------

    def completed(self, path: Key, now: float) -> None:
        """A completed change to ``path`` (it also ends the path's hold)."""
        self._held.pop(path, None)
        batch = self._open(now)
        batch.last = now
        if path == self.commit:
            batch.committed = now
            return
        batch.keys[path] = None
        unapplied = self._unapplied.pop(path, None)
        if unapplied is not None:
            batch.first = min(batch.first, unapplied.first)
            self._retrying.add(path)

    def hold(self, path: Key, now: float) -> None:
        """A change to ``path`` is under way; its report follows."""
        self._held[path] = now + self.hold_limit
        if self._batch is not None:
            self._batch.last = now

    def request(self, ticket: Ticket, now: float) -> None:
        """A ``reload()`` caller: it joins the open batch (or opens one), which re-reads all."""
        self._open(now).tickets.append(ticket)

    def failed(self, paths: frozenset[Key], now: float) -> None:
        """The reload that read ``paths`` failed: their oldest change is not applied yet."""
        for path in paths:
            first = self._released.pop(path, None)
            if path in self._retrying:
                self._retrying.discard(path)  # the retry failed too: no second one
                continue
            if first is None:
                continue  # never held (debounce 0): nothing waited a ceiling
            batch = self._batch
            if batch is not None and path in batch.keys:  # written again during the attempt
                batch.first = min(batch.first, first)
                self._retrying.add(path)
                if self._wait is not None:
                    # The task sleeps until the deadline it computed before: wake it sooner.
                    self._wait.deadline = min(self._wait.deadline, first + self.max_window)
            else:
                self._unapplied[path] = _Unapplied(first, now)

    def awaiting(self, paths: frozenset[Key]) -> None:
        """The updater waits for the next report of ``paths`` (files it found gone or emptied:
        their missing-file grace): a batch holding one is due at once, unless another file is
        held. In a storm of in-place saves the reader may catch the file between a truncate
        and a write, and then waits for its next close: making it wait a whole ceiling as
        well would double the staleness. ``frozenset()``: the wait is over."""
        self._awaited = paths
        if paths and self._batch is not None and self._wait is not None:
            # The report may be in the open batch already: the task sleeps until the
            # deadline it computed before; let it look again.
            self._wait.deadline = -math.inf

    def waits_in(self, scope: trio.CancelScope | None) -> None:
        """The cancel scope its driver waits in now (``None``: not waiting), which ``failed``
        and ``awaiting`` may bring forward: ``step`` sets its own; the updater's inbox at
        debounce 0 (``_fused``) sets the one it waits in."""
        self._wait = scope

    def applied(self, paths: frozenset[Key]) -> None:
        """The reload that read ``paths`` succeeded (or changed nothing)."""
        for path in paths:
            self._released.pop(path, None)
            self._unapplied.pop(path, None)
            self._retrying.discard(path)

    # -- its task ----------------------------------------------------------------------------

    async def run(
        self,
        receive: trio.MemoryReceiveChannel[DebouncerInput],
        inbox: Inbox,
        counters: Counters,
    ) -> None:
        """The debouncer's task: take events, hand due batches to ``inbox``, until every
        sender is closed (``step``)."""
        async with receive:
            while await self.step(receive, inbox, counters):
                pass

    async def step(
        self,
        receive: trio.MemoryReceiveChannel[DebouncerInput],
        inbox: Inbox,
        counters: Counters,
    ) -> bool:
        """Wait for the next event or deadline, take every event queued by then, and hand
        what is due to ``inbox``; False once every sender is closed (what was open is handed
        over then). The wait is this object's own cancel scope (``_wait``), which ``failed``
        and ``awaiting``, the updater's feedback, may bring forward."""
        deadline = self.next_deadline(trio.current_time())
        # Nothing pending (always so at debounce 0): no cancel scope to set up.
        wait = trio.move_on_at(deadline) if deadline < math.inf else None
        self._wait = wait
        with wait if wait is not None else contextlib.nullcontext():
            try:
                event = await receive.receive()
            except trio.EndOfChannel:
                _hand_over(inbox, self.flush())
                return False
            now = trio.current_time()
            take_event(self, event, now, counters)
            # Drain what is already queued without a checkpoint per event: a burst of
            # inotify events then costs one deadline computation, not one per event.
            while True:
                try:
                    event = receive.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                take_event(self, event, now, counters)
        self._wait = None
        _hand_over(inbox, self.release_due(trio.current_time()))
        return True

    # -- deciding --------------------------------------------------------------------------

    def window_for(self, path: Key, now: float) -> float:
        """The quiet window this path asks of its batch now (a rescan: the base window)."""
        base = self.window / 2 if path in self.priority else self.window
        grown = self._grown.get(path)
        if grown is None or now - grown.released >= self.max_window:
            return base
        return max(base, grown.window)

    def next_deadline(self, now: float) -> float:
        """When the open batch may be due (it is checked again then), or ``inf``."""
        batch = self._batch
        if batch is None:
            return math.inf
        holds = self._live_holds(now)
        files = self._files_due(batch, holds, now)
        return min(files, self._forced_due(batch, holds, files, now)) if _forced(batch) else files

    def release_due(self, now: float) -> Release | None:
        """What of the batch is due at ``now``: all of it, or its reported files alone (a
        request or a rescan still waiting for held files)."""
        batch = self._batch
        if batch is None:
            return None
        if self.window == 0 and not _forced(batch):
            # debounce=0: what was reported goes now, held files or not. The fast path
            # matters: at debounce 0 this runs once per event, on the reload's path.
            self._batch = None
            return Release(frozenset(batch.keys))
        holds = self._live_holds(now)
        files_due = self._files_due(batch, holds, now)
        if _forced(batch) and self._forced_due(batch, holds, files_due, now) <= now:
            self._batch = None
            self._released_files(batch, now, holds)
            return _release(batch)
        if files_due > now:
            if not (batch.keys or batch.tickets):
                self._batch = None  # a trigger with nothing to commit
            return None
        # The files go; a request or a rescan waits for the held files (``_forced_due``).
        files = self._released_files(batch, now, holds)
        if _forced(batch):
            for path in files:
                del batch.keys[path]
            batch.first = now  # what stays has no change waiting: the next one counts anew
        else:
            self._batch = None
        return Release(files)

    def flush(self) -> Release | None:
        """Whatever is open, released now (the watchers are gone: nothing more will come)."""
        batch, self._batch = self._batch, None
        return None if batch is None else _release(batch)

    def pending(self) -> frozenset[Key]:
        """The paths of the open batch."""
        return frozenset() if self._batch is None else frozenset(self._batch.keys)

    # -- internals ---------------------------------------------------------------------------

    def _open(self, now: float) -> _Batch:
        if self._batch is None:
            self._batch = _Batch(first=now, last=now)
        return self._batch

    def _files_due(self, batch: _Batch, holds: list[float], now: float) -> float:
        """When the batch's reported files are due: after the quiet window with nothing held,
        or at the ceiling whatever is held (``inf``: no files, or no trigger yet)."""
        if not _has_files(batch):
            return math.inf
        if self.window == 0:
            return now
        awaited = self._awaited
        if awaited and not awaited.isdisjoint(batch.keys) and self._held.keys() <= awaited:
            return now
        if self.commit is not None and batch.committed is None and not _forced(batch):
            return math.inf  # trigger mode: the batch waits for the trigger
        start = batch.first if batch.committed is None else batch.committed
        ceiling = start + self.max_window
        if holds:
            return ceiling
        quiet = batch.last + max(self.window_for(p, batch.last) for p in batch.keys)
        return min(quiet, ceiling)

    def _forced_due(self, batch: _Batch, holds: list[float], files: float, now: float) -> float:
        """When a request or a rescan is due: never while a file is held (it would read it
        mid-write; holds lapse), then with the batch's files, or after a rescan's quiet
        window, or at once."""
        if holds:
            return min(holds)
        if _has_files(batch):
            return files
        if _RESCAN_KEY in batch.keys and self.window > 0:
            # An overflow means a storm is under way: its rescan is debounced like a file.
            return min(batch.last + self.window, batch.first + self.max_window)
        return now

    def _released_files(self, batch: _Batch, now: float, holds: list[float]) -> frozenset[Key]:
        """The batch's reported files, released now: grow their windows, note their first
        change for ``failed``, and warn when the ceiling cut a multi-file change."""
        files = frozenset(batch.keys) - {_RESCAN_KEY}
        cut = holds or (len(files) > 1 and now < batch.last + self.window)
        if files and cut and files.isdisjoint(self._awaited):  # (awaited: released on purpose)
            # The ceiling cut the batch while writes were arriving or a file was being
            # written: a deploy slower than the window may be half applied (its other files
            # follow in the next batch). One file alone rewritten in a storm is no mix.
            log = logger.warning if len(files) > 1 or self._held.keys() - files else logger.debug
            log(
                "released %d changed file(s) while writes were still arriving (%.0f ms after "
                "the first): the snapshot may mix two deploys; a commit trigger makes slow "
                "deploys atomic",
                len(files),
                (now - batch.first) * 1000,
            )
        if self.window > 0:
            self._forget_rested(now)
            for path in files:
                self._grow(path, now)
                self._released[path] = batch.first
        return files

    def _live_holds(self, now: float) -> list[float]:
        if not self._held:
            return []
        for path in [p for p, lapse in self._held.items() if lapse <= now]:
            del self._held[path]
        return list(self._held.values())

    def _grow(self, path: Key, now: float) -> None:
        grown = self._grown.get(path)
        if grown is not None and now - grown.released < self.max_window:
            grown.window = min(max(grown.window, self.window) * 2, self.max_window)
            grown.released = now
        else:
            self._grown[path] = _Grown(window=self.window, released=now)

    def _forget_rested(self, now: float) -> None:
        """Forget what no longer matters: the grown windows of paths that rested
        ``max_window`` (they are back at the base window) and failures older than that (the
        storm they were part of is over). Paths that left the configuration (a file removed
        from a folder) leave these tables this way too."""
        rest = self.max_window
        for path in [p for p, g in self._grown.items() if now - g.released >= rest]:
            del self._grown[path]
        for path in [p for p, u in self._unapplied.items() if now - u.failed >= rest]:
            del self._unapplied[path]
            self._retrying.discard(path)


def _has_files(batch: _Batch) -> bool:
    """Whether the batch holds a reported file (not only a rescan or requests)."""
    return len(batch.keys) > (_RESCAN_KEY in batch.keys)


def _forced(batch: _Batch) -> bool:
    """A ``reload()`` request or a rescan: everything is re-read, trigger or not."""
    return bool(batch.tickets) or _RESCAN_KEY in batch.keys


def _release(batch: _Batch) -> Release:
    paths = frozenset(batch.keys)
    if not _forced(batch):
        return Release(paths)
    return Release(paths - {_RESCAN_KEY}, True, tuple(batch.tickets))


async def run_debouncer(
    receive: trio.MemoryReceiveChannel[DebouncerInput],
    inbox: Inbox,
    debouncer: Debouncer,
    counters: Counters,
) -> None:
    """Run until every sender is closed or the task is cancelled (``Debouncer.run``)."""
    await debouncer.run(receive, inbox, counters)


def take_event(debouncer: Debouncer, event: DebouncerInput, now: float, counters: Counters) -> None:
    """Count ``event`` and apply it to the open batch (a report, a hold, a rescan, a request)."""
    if isinstance(event, Path | Notified):
        counters.events += 1
        debouncer.completed(event, now)
    elif isinstance(event, Hold):
        counters.events += 1
        debouncer.hold(event.path, now)
    elif event is RESCAN:
        counters.events += 1
        debouncer.completed(_RESCAN_KEY, now)
    else:
        debouncer.request(event, now)


def _hand_over(inbox: Inbox, release: Release | None) -> None:
    """Put what ``release_due`` (or ``flush``) released into the updater's inbox."""
    if release is not None and (release.keys or release.rescan):
        inbox.put(release.keys, rescan=release.rescan, tickets=release.tickets)
