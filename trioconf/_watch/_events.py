"""What a watcher sends downstream: completed changes, changes under way, or "rescan".

A watcher reports a configured path (absolute, as the user wrote it, not resolved) whose
content may have changed, as the ``Path`` itself, once the change looks complete: the writer
closed the file, a rename landed, a deletion was not followed by a replacement. While a change
is visibly under way (a file open for writing, a file deleted a moment ago and maybe about to
be replaced, a polled file whose fingerprint has not settled yet) it sends ``Hold(path)`` first:
the path is "held" until its report arrives. The debouncer keeps a batch open while any path is
held, so that one file still being written is not left out of a deploy that changed several,
and a rescan does not read it mid-write. Watchers never report contents: the updater reads.
"""

from __future__ import annotations

import enum
from pathlib import Path

import attrs


class Rescan(enum.Enum):
    """Sent when a watcher lost track (queue overflow, a backend switch): re-read everything."""

    RESCAN = "rescan"


RESCAN = Rescan.RESCAN

HOLD_LIMIT = 2.0
"""Seconds a change may stay under way before its path is reported anyway: a writer that keeps
its descriptor open never closes (inotify), a file rewritten without pause never settles (poll).
The debouncer forgets a hold this old too, so a lost report can never hold a batch forever."""


@attrs.frozen
class Hold:
    """A change to ``path`` is under way; its report (the path itself) follows within
    ``HOLD_LIMIT`` seconds of the latest hold sent for it."""

    path: Path


WatchEvent = Path | Hold | Rescan
