"""What an inotify watcher holds back, and when it reports it anyway.

Both inotify watchers (configured files in ``_inotify``, the files of Directory folders in
``_folders``) hold a path back from the debouncer while a change to it is visibly under way:

* being written: modified (or created) and not closed yet. Its writer's ``IN_CLOSE_WRITE``
  reports it; one that keeps its descriptor open is reported after ``OPEN_WRITER_GRACE``;
* vanished: deleted or renamed away, maybe about to be replaced (``VANISH_SETTLE``).

Each hold is announced once, as ``Hold(path)``, so that the debouncer keeps its batch open
(and a rescan waits); the path's report ends it. One class keeps those tables for both
watchers, so that they hold, announce and expire the same way.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from ._events import HOLD_LIMIT, Hold, WatchEvent

logger = logging.getLogger("trioconf")

OPEN_WRITER_GRACE = HOLD_LIMIT
"""Seconds after an IN_MODIFY (or the creation of a file) without IN_CLOSE_WRITE after which the
path is reported anyway: a writer that keeps its descriptor open never closes."""

VANISH_SETTLE = 0.1
"""Seconds a deleted (or renamed-away) file is given to be replaced before it is reported.
``git checkout`` and vim's rename save unlink or rename the file, then create a new one that is
empty until its writer closes it: reported at once, the reader would find the file missing,
wait for it to come back, and read the new one half written. A replacement created within this
time is reported by its writer's close instead, a rename onto it at once."""


class Held:
    """The paths a watcher holds back, with the deadline by which each is reported anyway."""

    def __init__(self) -> None:
        self._writing: dict[Path, float] = {}
        self._vanished: dict[Path, float] = {}
        self._new: dict[Path, None] = {}  # held while applying the current events: announce
        self._warned: set[Path] = set()  # open writers warned about (once per path)

    def writing(self, path: Path, now: float) -> None:
        """``path`` was modified or created: hold it until its writer closes it."""
        _hold(self._writing, path, now + OPEN_WRITER_GRACE, self._new)

    def vanished(self, path: Path, now: float) -> None:
        """``path`` was deleted or renamed away: hold it in case it is replaced."""
        _hold(self._vanished, path, now + VANISH_SETTLE, self._new)

    def replaced(self, path: Path, now: float) -> None:
        """A new regular file took the vanished ``path``'s place: its close reports it."""
        self._vanished.pop(path, None)
        self.writing(path, now)

    def forget(self, path: Path) -> None:
        """``path`` left this watcher (handed to another backend)."""
        self._writing.pop(path, None)
        self._vanished.pop(path, None)

    def deadline(self) -> float:
        """When the next held path is due to be reported anyway (``inf``: none held)."""
        if not (self._writing or self._vanished):
            return math.inf
        return min([*self._writing.values(), *self._vanished.values()])

    def announce(self, reports: dict[Path, None]) -> list[WatchEvent]:
        """What to send for the events just applied: ``Hold`` for each path newly held and
        not reported already, then the reports (which end their paths' holds)."""
        for path in reports:
            self._writing.pop(path, None)
            self._vanished.pop(path, None)
        out: list[WatchEvent] = [Hold(p) for p in self._new if p not in reports]
        out.extend(reports)
        self._new.clear()
        return out

    def expire(self, now: float) -> list[WatchEvent]:
        """The held paths due now: vanished and not replaced (really gone), or written and
        not closed in time (reported anyway, with a warning once per path)."""
        if not (self._vanished or self._writing):
            return []
        gone = [p for p, deadline in self._vanished.items() if deadline <= now]
        for path in gone:
            del self._vanished[path]
            self._writing.pop(path, None)
        expired = [p for p, deadline in self._writing.items() if deadline <= now]
        for path in expired:
            del self._writing[path]
            # Once per path: a writer that keeps its file open would otherwise log every 2 s.
            log = logger.debug if path in self._warned else logger.warning
            self._warned.add(path)
            log(
                "%s was modified but not closed for %.0f s; reloading it anyway "
                "(a writer keeps it open?)",
                path,
                OPEN_WRITER_GRACE,
            )
        return [*gone, *expired]


def _hold(table: dict[Path, float], path: Path, deadline: float, new: dict[Path, None]) -> None:
    if path not in table:
        table[path] = deadline
        new[path] = None
