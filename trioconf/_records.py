"""What the live value records: applied updates, failed attempts, and the pipeline's counters.

``Update``, ``PastUpdate``, ``Failure`` and ``Cleared`` are the entries of ``Live.history`` and of
``Live.records()``; ``Statistics`` is the frozen answer of ``Live.statistics()``; ``Counters`` is
the mutable tally that the debouncer and the updater increment as they work (plain attribute
increments: sync, no checkpoint, no lock needed in a single Trio thread).

Records are kept for a while, so they must not keep more than they say: an ``Update`` becomes a
``PastUpdate`` (no snapshots) once newer versions push it out of the retained window, and a
failure's error is stored without tracebacks (``detached``), whose frames would keep the
updater's locals alive: whole merged documents and candidate configs.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from ._errors import ConfigError

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

T = TypeVar("T")

# What ``changed`` holds until someone asks: the set, or the function that lists it.
_Changed = frozenset[str] | Callable[[], frozenset[str]]


@attrs.frozen(repr=False)
class Update(Generic[T]):
    """A snapshot that was published, with the snapshot before it.

    ``changed`` holds the dotted paths (``"db.port"``) whose values differ from ``previous``. The
    initial snapshot (version 1) has ``previous=None`` and lists every leaf path of the config
    in ``changed`` (nested classes and non-empty mappings walked, lists whole): against
    "nothing", everything is new. It is computed on first access (the updater passes a
    function): diffing two configs costs as much as structuring one, and most updates are
    never asked what changed.

    Only the newest updates stay whole in ``Live.history`` (4 by default); older ones are kept
    as a :class:`PastUpdate`, without ``config`` and ``previous``.
    """

    version: int
    config: T
    previous: T | None
    _changed: _Changed = attrs.field(alias="changed", eq=False)
    timestamp: float  # time.time() when the snapshot was published
    #: True when this update ended a run of failed attempts: ``last_error`` was set before it
    #: and is cleared by it (the recovery that a log line also says).
    cleared: bool = False

    @property
    def changed(self) -> frozenset[str]:
        """The dotted paths whose values differ from ``previous`` (every leaf for version 1)."""
        return _listed(self)

    def __repr__(self) -> str:
        return (
            f"Update(version={self.version!r}, config={self.config!r}, "
            f"previous={self.previous!r}, changed={self.changed!r}, timestamp={self.timestamp!r}"
            f"{', cleared=True' if self.cleared else ''})"
        )


@attrs.frozen(repr=False)
class PastUpdate:
    """A snapshot that was published and is no longer kept: an older :class:`Update` without
    ``config`` and ``previous``.

    ``version``, ``changed`` and ``timestamp`` are those of the ``Update`` it replaces. Only the
    newest updates keep their snapshots; see "History, records and statistics" in the docs.
    """

    version: int
    _changed: _Changed = attrs.field(alias="changed", eq=False)
    timestamp: float  # time.time() when the snapshot was published
    cleared: bool = False  # as the Update's

    @property
    def changed(self) -> frozenset[str]:
        """The dotted paths whose values differ from the version before (every leaf for
        version 1)."""
        return _listed(self)

    def __repr__(self) -> str:
        return (
            f"PastUpdate(version={self.version!r}, changed={self.changed!r}, "
            f"timestamp={self.timestamp!r}{', cleared=True' if self.cleared else ''})"
        )


def past(update: Update[Any]) -> PastUpdate:
    """``update`` without its snapshots, for the history to keep once they are dropped.

    ``changed`` is listed now, while both snapshots exist: the function that lists it holds
    them (for a keyed Directory only the changed entries, so it costs what the change did).
    Version 1 is the exception: its ``changed`` is every leaf path, a set of strings that
    takes more memory than the snapshot itself, so its function (holding the initial
    snapshot) is kept until the record leaves the history.
    """
    changed = update._changed if update.previous is None else update.changed
    return PastUpdate(update.version, changed, update.timestamp, update.cleared)


def _listed(record: Update[Any] | PastUpdate) -> frozenset[str]:
    changed = record._changed
    if callable(changed):
        changed = changed()
        object.__setattr__(record, "_changed", changed)  # computed once, then kept
    return changed


@attrs.frozen
class Failure:
    """A reload attempt that failed; ``version`` is the snapshot that stayed current.

    ``error`` is a copy of the error the attempt raised, without tracebacks: the same class,
    fields, message and notes, and its ``__cause__`` / ``__context__`` chain copied the same way
    (``detached``). It is also what ``Live.last_error`` returns.
    """

    error: ConfigError
    version: int
    timestamp: float  # time.time() when the failure was recorded


@attrs.frozen
class Cleared:
    """A reload attempt succeeded after failed ones without publishing a version: the sources
    say again what the current snapshot ``version`` says (a bad edit reverted, a file that
    came back unchanged). ``last_error`` is None from here on. A recovery that does publish a
    version is an :class:`Update` with ``cleared=True`` instead."""

    version: int
    timestamp: float  # time.time() when the error was cleared


def detached(error: ConfigError) -> ConfigError:
    """A copy of ``error`` and of every exception in its chain, none with a traceback.

    A traceback's frames keep their locals alive: for a reload attempt, the merged documents,
    the candidate config and the previous one, for as long as the error is stored. The error
    itself is not changed: the updater hands that very object to ``reload()`` callers, whose
    tracebacks are theirs. A ConfigError is copied by ``ConfigError.clone``; a built-in
    exception, or one whose class defines ``__reduce__``, is rebuilt as ``copy.copy`` does;
    any other is made from its ``args`` without running its ``__init__``; exception groups
    through ``derive``, as ``split`` does.
    Every attribute of the original (notes too) is then set on the copy. Where that fails (a
    ``__new__`` that refuses the ``args``), a plain ``Exception`` (a ``ConfigError`` at the
    top) naming the class and message stands in.
    """
    clone = _detach(error, {}, ConfigError)
    assert isinstance(clone, ConfigError)  # a copy of a ConfigError, or a ConfigError stand-in
    return clone


def _detach(
    exc: BaseException, memo: dict[int, BaseException], fallback: type[Exception] = Exception
) -> BaseException:
    done = memo.get(id(exc))
    if done is not None:
        return done  # a chain that loops back (Python allows building one by hand)
    clone = _copy(exc, memo, fallback)
    memo[id(exc)] = clone
    clone.__traceback__ = None
    # Setting __cause__ also sets __suppress_context__; the original's flag is restored after.
    clone.__cause__ = None if exc.__cause__ is None else _detach(exc.__cause__, memo)
    clone.__context__ = None if exc.__context__ is None else _detach(exc.__context__, memo)
    clone.__suppress_context__ = exc.__suppress_context__
    return clone


def _copy(
    exc: BaseException, memo: dict[int, BaseException], fallback: type[Exception]
) -> BaseException:
    cls = type(exc)
    args: tuple[object, ...] = exc.args
    try:
        if isinstance(exc, BaseExceptionGroup):
            inner = [_detach(e, memo) for e in exc.exceptions]
            args = (exc.message, inner)
            clone: BaseException = exc.derive(inner)
        elif isinstance(exc, ConfigError):
            return exc.clone()  # its state, whatever its __init__ takes (see ``clone``)
        elif cls.__module__ == "builtins" or cls.__reduce__ is not BaseException.__reduce__:
            # The class says how to rebuild itself (OSError and its filename, a class with a
            # __reduce__ of its own): through its constructor, as pickle does.
            clone = copy.copy(exc)
        else:
            # Anyone else's class: its __init__ may not take its own args (``__init__(self,
            # port, reason)`` passing one message up) or may warn about them (tomli's), so
            # none runs: the instance from its args, its attributes set as they were.
            clone = cls.__new__(cls, *args)
        _set_attributes(clone, exc)
    except Exception:
        try:
            clone = cls.__new__(cls, *args)
            _set_attributes(clone, exc)
        except Exception:
            return _stand_in(exc, fallback)
    return clone


def _set_attributes(clone: BaseException, exc: BaseException) -> None:
    # Also the notes, and whatever a __reduce__ leaves out. Set one by one: a class compiled
    # by mypyc (tomli's) keeps them in native attributes that a fresh instance has, not in a
    # __dict__, and lists them only in its __getstate__ (pickle's way to ask an object).
    getstate = getattr(exc, "__getstate__", None)  # Python 3.11+ has a default one
    state = getstate() if getstate is not None else getattr(exc, "__dict__", None)
    if isinstance(state, tuple):  # (__dict__, slots): the default for a class with slots
        state = {k: v for part in state if isinstance(part, dict) for k, v in part.items()}
    own = getattr(clone, "__dict__", {})
    for name, value in (state if isinstance(state, dict) else {}).items():
        # What the copy set itself stays: the exceptiongroup backport (Python 3.10) keeps a
        # group's members in its __dict__, and ``derive`` gave the copy its copied members.
        if name not in own:
            setattr(clone, name, value)


def _stand_in(exc: BaseException, kind: type[Exception]) -> Exception:
    try:
        text = str(exc)
    except Exception:
        text = "<str() raised>"
    return kind(f"{type(exc).__module__}.{type(exc).__qualname__}: {text}")


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
