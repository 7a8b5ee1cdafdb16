"""Path chains: every directory entry consulted to resolve a path, as the kernel does.

The inotify file watcher (``_inotify``) watches the directory of each symlink hop and of the
final entry of a chain, and resolves again when an event names one of its entries: the chain is
what tells it which events matter and whether a path now leads elsewhere.
"""

from __future__ import annotations

import enum
import os
import stat

import attrs

_MAX_SYMLINKS = 40  # as the kernel's ELOOP limit


class Kind(enum.Enum):
    """What resolution found at an entry."""

    DIR = "dir"
    LINK = "link"  # a symlink; its target is in ``Entry.target``
    FILE = "file"
    OTHER = "other"  # an existing final entry that is neither a file nor a directory
    MISSING = "missing"
    NOTDIR = "notdir"  # a file where a directory was needed
    ERROR = "error"  # lstat or readlink failed otherwise


@attrs.frozen
class Entry:
    """A directory entry consulted while resolving a path, and what was found there.

    ``target`` is a symlink's target, as read (``None`` for every other kind): a link swapped
    to another target is another entry, so the chain through it leads elsewhere.
    """

    dir: str
    name: str
    kind: Kind
    target: str | None = None


_EXISTING = frozenset({Kind.FILE, Kind.DIR, Kind.OTHER})


@attrs.frozen
class Chain:
    """The entries consulted to resolve one path, in order; the last one is where it ended."""

    entries: tuple[Entry, ...]

    @property
    def final(self) -> Entry:
        return self.entries[-1]

    @property
    def exists(self) -> bool:
        """Whether resolution reached an existing final entry."""
        return self.final.kind in _EXISTING

    @property
    def watch_dirs(self) -> frozenset[str]:
        """The directory of every symlink hop, and the one where resolution ended."""
        hops = {e.dir for e in self.entries if e.kind is Kind.LINK}
        return frozenset({*hops, self.final.dir})

    def leads_elsewhere_than(self, old: Chain) -> bool:
        """Whether this chain names a different final entry than ``old`` (or a different route
        to it), ignoring only the final entry's own state: its creation, deletion and writes
        are reported by the events that name it, at the right moment (after the writer's
        close, not on its create)."""
        if not (self.exists or old.exists):
            return False  # still nothing there, just missing at another level
        return self.entries[:-1] != old.entries[:-1] or (
            (self.final.dir, self.final.name) != (old.final.dir, old.final.name)
        )


def resolve(path: str) -> Chain:
    """Resolve an absolute path one component at a time, as the kernel does, recording each
    entry consulted; relative symlink targets resolve against the link's directory."""
    entries: list[Entry] = []
    pending = list(reversed(path.split("/")))
    cur = "/"
    links = 0
    reached_final = False
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            cur = os.path.dirname(cur)
            continue
        full = os.path.join(cur, name)
        try:
            st = os.lstat(full)
            target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
        except FileNotFoundError:
            entries.append(Entry(cur, name, Kind.MISSING))
            break
        except OSError:
            entries.append(Entry(cur, name, Kind.ERROR))
            break
        if target is not None:
            entries.append(Entry(cur, name, Kind.LINK, target))
            links += 1
            if links > _MAX_SYMLINKS:
                break  # ELOOP: ends on a link, so the chain does not "exist"
            if target.startswith("/"):
                cur = "/"
            pending.extend(reversed(target.split("/")))
        elif not pending:
            entries.append(Entry(cur, name, _final_kind(st.st_mode)))
            reached_final = True
        elif stat.S_ISDIR(st.st_mode):
            entries.append(Entry(cur, name, Kind.DIR))
            cur = full
        else:
            entries.append(Entry(cur, name, Kind.NOTDIR))
            break
    else:
        if not reached_final:
            # The path (or a link target) ended on "..", "." or "/": it names `cur` itself.
            entries.append(Entry(os.path.dirname(cur), os.path.basename(cur), Kind.DIR))
    return Chain(tuple(entries))


def _final_kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return Kind.FILE
    return Kind.DIR if stat.S_ISDIR(mode) else Kind.OTHER
