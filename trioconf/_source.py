"""``trioconf.Source``: a source of configuration written by the user, and its adapter.

A ``Source`` runs as a task of the reloader's nursery (``run``), reports each completed change
with ``await notify(token)``, and gives its layer on demand (``read``). Everything else is the
pipeline's: the tokens are batched with file changes by the debouncer, so changes from a
user's source and from files that arrive in one quiet window apply as one snapshot; the
updater reads the source when a batch names it, and the layer is merged at the source's place
among the others. ``UserSourceState`` is what the loader sees of it
(``_source_state.SourceState``): the last layer or error, the tokens not read yet.
"""

from __future__ import annotations

import abc
import math
import sys
from collections.abc import Awaitable, Hashable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import trio

from ._errors import ConfigError, SourceError
from ._layer import Layer
from ._source_state import Key, Notified, OneLayer

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


class Notify(Protocol):
    """The ``notify`` a :meth:`Source.run` gets: ``await notify(token)`` reports a change."""

    def __call__(self, token: Hashable, /) -> Awaitable[None]: ...


class Source(abc.ABC):
    """A source of configuration you write: a database, a service, anything not a file.

    **Provisional**: this interface may still change until trioconf's own remote source (etcd)
    is built on it.

    Subclass it, set ``name``, and implement ``read``; implement ``run`` too if the source can
    tell when it changed. Pass an instance among the sources of :func:`open_reloader`,
    :func:`run_reloader` or :func:`load`: its layer takes its place in the order like a file's.

    ``name`` names the source in errors, in :meth:`Live.origin` and in the history: a URL, a
    table name. ``read`` must return a mapping of the config's field names to plain values
    (what a JSON document holds: dicts, lists, strings, numbers, booleans, None); trioconf
    structures and validates the merged result exactly as for files. A ``ConfigError`` raised
    by ``read`` is the source's error, as it is; any other exception becomes a
    :class:`SourceError` naming the source, with the exception as its ``__cause__``. Either way
    the last good snapshot stays, and the next change or ``reload()`` reads the source again.
    """

    name: str

    async def run(self, notify: Notify, *, task_status: trio.TaskStatus[None]) -> None:
        """Watch the source until cancelled, as a task in the reloader's nursery.

        Call ``task_status.started()`` once watching: trioconf reads the source for the first
        time after that, so a change made afterwards is never missed. Then call
        ``await notify(token)`` for each completed change; ``token`` is any hashable value
        that means something to this source (a row id, a revision), and the tokens reported
        since the last read are passed to the next ``read``. ``notify`` waits when the
        reloader is behind, which paces a source that changes faster than it can be read.

        An exception escaping ``run`` ends the reloader (a source that cannot watch cannot
        keep the config current): raised from ``start``/``open_reloader`` if ``run`` had not
        called ``started()`` yet, else out of the reloader's nursery. A ``run`` that returns
        just stops reporting. The default has nothing to watch: ``reload()`` reads the source
        again.
        """
        task_status.started()

    @abc.abstractmethod
    async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
        """The layer this source gives now: a mapping of field names to plain values.

        ``changes`` holds the tokens ``run`` reported since the last read; ``None`` means
        "read everything": the first read, a ``reload()``, and the read after one that failed.
        It runs in the reloader's updater task, under ``parse_timeout`` (then it is cancelled
        and the read is the source's error): keep blocking work off the event loop, as with
        ``trio.to_thread.run_sync``.
        """

    def bind(self, config_class: type) -> None:  # noqa: B027 (optional, like run: not abstract)
        """Called once by :func:`open_reloader`, :func:`run_reloader` and :func:`load`, before
        ``run``, with the config class the layers are structured into; by default nothing.

        A source whose values are text (a key-value store's, as environment variables are)
        uses it to give each value its field's type: ``"5432"`` for an ``int`` field is the
        number ``5432``, which the strict structuring then accepts, while a ``str`` field keeps
        the text. A source that gives typed data (JSON, a database's columns) ignores it.
        """

    def origin(self, path: tuple[str, ...]) -> str:
        """Where the value at ``path`` (field names from the top, a list's index as a
        string: ``("servers", "0", "host")``) came from, for :meth:`Live.origin`,
        :meth:`Live.explain` and error messages; by default the source's name."""
        return self.name


@attrs.frozen(eq=False)
class _SourceLayer(Layer):
    """A layer from a user's source: its origins are the source's to say."""

    source: Source = attrs.field(kw_only=True)

    def describe(self, path: Sequence[Any]) -> str:
        return self.source.origin(tuple(str(part) for part in path))


class UserSourceState(OneLayer["Source"]):
    """A user's ``Source`` as the loader sees it (``_source_state.SourceState``)."""

    def __init__(
        self, source: Source, index: int, parse_timeout: float, config_class: type | None = None
    ) -> None:
        super().__init__()
        self.source = source
        if config_class is not None:
            source.bind(config_class)
        self.key = Notified(index)
        self.parse_timeout = parse_timeout
        self._pending: set[Hashable] = set()
        self._stale = True  # the next read is a whole one: the first, or after a failure

    async def run(
        self,
        send: trio.MemorySendChannel[Any],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The source's ``run``, with its tokens kept here and its key sent to the debouncer."""

        async def notify(token: Hashable) -> None:
            hash(token)  # an unhashable token is the caller's bug: a TypeError, right here
            self._pending.add(token)
            await send.send(self.key)

        started = _Started(task_status)
        try:
            await self.source.run(notify, task_status=started)
        except ConfigError:
            raise
        except Exception as exc:
            raise SourceError(self.name, f"run() failed: {_said(exc)}") from exc
        if not started.done:
            task_status.started()  # nothing to watch after all: fine

    async def refresh(self, keys: frozenset[Key] | None) -> bool:
        if keys is not None and not self._pending:
            return False  # its tokens were read by an earlier attempt already
        changes = None if keys is None or self._stale else frozenset(self._pending)
        self._pending = set()
        before = self.given()
        data: Mapping[str, Any] | None = None
        with trio.move_on_after(self.parse_timeout) as scope:
            try:
                data = await self.source.read(changes)
            except ConfigError as exc:
                self._set_error(exc)
            except Exception as exc:
                self._set_error(SourceError(self.name, f"read() failed: {_said(exc)}"), exc)
        if scope.cancelled_caught:
            reason = f"read() took longer than {self.parse_timeout} s (parse_timeout)"
            self._set_error(SourceError(self.name, reason))
        elif data is not None:
            self._take(data)
        return self.given() != before

    def refresh_sync(self) -> None:
        """A whole read, in a Trio run of its own (``trioconf.load``), with ``run`` started
        first as the reloader would: a source may need its task to read at all."""

        async def once() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.run, _discard())
                await self.refresh(None)
                nursery.cancel_scope.cancel()

        try:
            trio.run(once)
        except BaseExceptionGroup as group:
            # ``run`` failed before it started watching (its source unreachable, say): that is
            # this source's error, which ``load()`` raises plain, as a file's, not in the group
            # this nursery wraps it in.
            if len(group.exceptions) != 1 or not isinstance(group.exceptions[0], ConfigError):
                raise
            self.layer = None
            self._set_error(group.exceptions[0])

    def _take(self, data: object) -> None:
        if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
            what = type(data).__name__
            reason = f"read() must return a mapping of field names to values, not a {what}"
            self._set_error(SourceError(self.name, reason))
            return
        # A copy: the source may change what it returned (a cache it keeps) after the read,
        # and the layer must stay what was read, for the next build and for comparing.
        self.layer = _SourceLayer(self.name, _plain_copy(data), source=self.source)
        self._error = None
        self._stale = False

    def _set_error(self, error: ConfigError, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        self._error = error
        self._stale = True


class _Started:
    """The ``task_status`` a source's ``run`` gets: remembers whether it was called."""

    def __init__(self, status: trio.TaskStatus[None]) -> None:
        self._status = status
        self.done = False

    def started(self, value: None = None) -> None:
        self.done = True
        self._status.started()


def _discard() -> trio.MemorySendChannel[Any]:
    # ``load()`` reads once: what the source's run reports afterwards goes nowhere.
    send, _ = trio.open_memory_channel[Any](math.inf)
    return send


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _plain_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    return value
