"""Watchers: turn filesystem events into "this configured path may have changed" messages."""

from ._events import RESCAN as RESCAN
from ._events import Rescan as Rescan
from ._events import WatchEvent as WatchEvent
from ._select import run_watcher as run_watcher

__all__ = ["RESCAN", "Rescan", "WatchEvent", "run_watcher"]
