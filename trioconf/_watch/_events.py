"""What a watcher sends downstream: dirty paths, or a request to rescan everything."""

from __future__ import annotations

import enum
from pathlib import Path


class Rescan(enum.Enum):
    """Sent when a watcher lost track (queue overflow, a backend switch): re-read everything."""

    RESCAN = "rescan"


RESCAN = Rescan.RESCAN

# A watcher reports a configured path (absolute, as the user wrote it, not resolved) whose
# content may have changed, or RESCAN. It never reports contents: the updater reads.
WatchEvent = Path | Rescan
