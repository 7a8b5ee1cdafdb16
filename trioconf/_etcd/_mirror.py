"""The keys of one prefix (or one key) as the etcd source knows them: what ``read`` folded in,
and the batches the watch received that wait for the next ``read``.

Two tasks meet here, both in Trio's one thread: the source's ``run`` adds batches (a full read,
a watch response) and reports each one's revision; the updater's ``read`` folds the batches up
to the revisions reported. Folding only what was reported keeps a snapshot's revision that of a
whole watch response (one etcd transaction is one response, at one revision), and strictly
increasing: batches are folded in the order they came, and a batch at or below the revision
already received is dropped, so no event is applied twice.

A whole read replaces everything, the revision and the cluster included: it is what etcd holds
now, even at a lower revision than the keys it replaces (which came from the last-good cache,
written by another cluster or before etcd was restored from a backup). Within one cluster the
revision still only grows: a whole read there is newer than anything received before it.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import attrs

from ._wire import KeyValue


@attrs.frozen
class Batch:
    """A watch response's events, or (``whole``) every key as a range read them, and the
    cluster they were read from."""

    revision: int
    entries: tuple[KeyValue, ...]
    whole: bool = False
    cluster: str = ""


class Mirror:
    def __init__(self) -> None:
        self.keys: dict[bytes, KeyValue] = {}  # as of ``revision``, what ``read`` gives
        self.revision = 0
        self.cluster = ""  # the id of the cluster ``keys`` were read from
        self.received = 0  # every event up to here has been received: the watch resumes after it
        self._queue: collections.deque[Batch] = collections.deque()

    def replace(self, revision: int, entries: Iterable[KeyValue], cluster: str) -> None:
        """A whole read at ``revision``: what the store held, every key of it. It supersedes
        every batch still queued (they came before it)."""
        self._queue.clear()
        self._queue.append(Batch(revision, tuple(entries), whole=True, cluster=cluster))
        self.received = revision

    def add(self, entries: Iterable[KeyValue]) -> int | None:
        """A watch response's events; their newest revision, or None if all were seen."""
        fresh = tuple(e for e in entries if e.mod_revision > self.received)
        if not fresh:
            return None
        revision = max(e.mod_revision for e in fresh)
        self._queue.append(Batch(revision, fresh))
        self.received = revision
        return revision

    def progress(self, revision: int) -> None:
        """A progress notification: etcd has sent every event of the watch up to ``revision``."""
        self.received = max(self.received, revision)

    def fold(self, upto: int | None) -> bool:
        """Apply the batches up to revision ``upto`` (None: all); True if any was applied."""
        applied = False
        while self._queue and (upto is None or self._queue[0].revision <= upto):
            batch = self._queue.popleft()
            if batch.whole:
                self.keys = {e.key: e for e in batch.entries}
                self.revision = batch.revision
                self.cluster = batch.cluster
            else:
                for entry in batch.entries:
                    if entry.value is None:
                        self.keys.pop(entry.key, None)
                    else:
                        self.keys[entry.key] = entry
                self.revision = max(self.revision, batch.revision)
            applied = True
        return applied
