"""What happens where inotify cannot serve: raise, or poll instead, loudly.

One rule for every place inotify may fail (no instance at all, a directory it cannot watch, at
start or later): with ``backend="inotify"`` the caller asked for inotify by name, so the failure
is theirs to see, as an ``OSError``; with ``"auto"`` the path is polled instead, with a warning
on the ``trioconf`` logger, since a silently slower watcher would look like a broken one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import attrs

from ._descriptor import Unwatchable

logger = logging.getLogger("trioconf")

Backend = Literal["auto", "inotify", "poll", "watchfiles"]


@attrs.frozen
class Fallback:
    """Decides, for the ``backend`` requested, whether an inotify failure raises or polls.

    Each method returns only if the caller is to poll what failed (``poll_interval`` is only
    said in the warning: the caller hands the path to its poller).
    """

    backend: Backend
    poll_interval: float

    @property
    def check_remote(self) -> bool:
        """Whether to refuse remote filesystems: only a backend chosen for the user may."""
        return self.backend == "auto"

    def unavailable(self, exc: OSError, paths: Iterable[Path] | None = None) -> None:
        """No inotify instance (``exc``, from ``inotify_init``): re-raise it, or warn that
        everything is polled, or, given ``paths``, that each of them is."""
        if self.backend == "inotify":
            raise exc
        if paths is None:
            interval = self.poll_interval
            logger.warning("inotify unavailable (%s): polling every %g s instead", exc, interval)
            return
        for path in paths:
            self._warn(path, f"inotify unavailable ({exc})")

    def unwatchable(self, path: Path, exc: Unwatchable) -> None:
        """inotify cannot serve ``path``: raise ``OSError`` (with ``exc``'s errno) naming it,
        or warn that it is polled from now on."""
        if self.backend == "inotify":
            raise OSError(exc.errno, f"{path}: {exc.reason}") from exc
        self._warn(path, exc.reason)

    def _warn(self, path: Path, reason: str) -> None:
        logger.warning("%s: %s; polling it every %g s instead", path, reason, self.poll_interval)
