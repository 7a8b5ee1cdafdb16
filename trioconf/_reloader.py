"""``open_reloader`` / ``run_reloader``: the supervisor that wires the pipeline in one nursery.

    watcher task ──memory channel──▶ debouncer task ──inbox──▶ updater task ──▶ Live
                                          ▲                         │
                                          └── failed / applied ─────┘

(The updater reports each batch's outcome to the debouncer, whose ceiling counts from the
oldest change not applied yet; see ``_debounce``.) At ``debounce=0`` nothing waits between a
report and its read, so the updater, while idle, waits on the file watcher's inotify
descriptor itself and runs the watcher's wake-up and the debouncer in its own task
(``_fused``): a save costs one task step, as the floor's does. The other producers' events
reach it through a relay task.

Order matters at start-up. The watcher is started first and reports only once every watch is
installed, so a write that lands while the initial load reads is queued, not lost. Then the
initial load runs in the supervisor's own task: if it fails, the nursery is cancelled and the
ConfigError is raised *after* the nursery closed, so the caller gets it plain, never inside an
ExceptionGroup. Only then do the debouncer and updater start.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import attrs
import sniffio
import trio

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

from ._converter import Configure
from ._debounce import Debouncer, DebouncerInput, run_debouncer
from ._errors import ConfigError
from ._fused import FusedInbox
from ._inbox import Batches, Inbox
from ._live import Live
from ._load import Loader
from ._records import Counters
from ._settings import MAX_SIZE, Backend, Reading, Settings, SourceSpec, Validate
from ._state import LiveState, Publisher
from ._tickets import Ticket, Tickets
from ._updater import initial_load, run_updater
from ._watch import run_watcher
from ._watch._events import HOLD_LIMIT

T = TypeVar("T")

# Room for a burst of watcher events while the debouncer is between checkpoints. The
# debouncer drains it without a checkpoint per event; if it ever fills, the watcher waits and
# the kernel queue (and its overflow → rescan rule) takes over.
_EVENT_BUFFER = 1024


async def run_reloader(
    cls: type[T],
    *sources: SourceSpec,
    env_prefix: str | None = None,
    debounce: float = 0.05,
    max_debounce: float = 0.5,
    backend: Backend = "auto",
    poll_interval: float = 1.0,
    validate: Validate[T] | None = None,
    strict_env: bool = False,
    forbid_unknown: bool = True,
    allow_nan: bool = False,
    missing_grace: float = 1.0,
    max_size: int = MAX_SIZE,
    parse_timeout: float = 10.0,
    lock_timeout: float = 5.0,
    history_size: int = 64,
    environ: Mapping[str, str] | None = None,
    converter: Configure | None = None,
    commit_trigger: str | os.PathLike[str] | None = None,
    reload_signal: int | None = None,
    env_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    profile_var: str | None = None,
    task_status: trio.TaskStatus[Live[T]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a reloader in a nursery you own: ``live = await nursery.start(run_reloader, ...)``.

    Takes the same arguments as :func:`open_reloader`. ``start()`` returns the :class:`Live`
    value once the initial snapshot is loaded, or raises its ``ConfigError``. The reloader runs
    until the nursery is cancelled; the live value is then closed. A usage mistake (a wrong
    argument, a config class trioconf cannot load) is a ``TypeError`` or ``ValueError`` raised
    by ``start()`` before any task starts.
    """
    require_trio("run_reloader")
    settings = Settings(
        reading=Reading.of(
            cls,
            sources,
            env_prefix,
            strict_env=strict_env,
            forbid_unknown=forbid_unknown,
            allow_nan=allow_nan,
            max_size=max_size,
            lock_timeout=lock_timeout,
            environ=environ,
            converter=converter,
            profile_var=profile_var,
            env_file=env_file,
            overrides=overrides,
        ),
        debounce=debounce,
        max_debounce=max_debounce,
        backend=backend,
        poll_interval=poll_interval,
        validate=validate,
        missing_grace=missing_grace,
        parse_timeout=parse_timeout,
        history_size=history_size,
        commit_trigger=commit_trigger,
        reload_signal=reload_signal,
    )
    await _run(_prepare(settings), task_status=task_status)


@attrs.frozen
class _Prepared(Generic[T]):
    """Checked settings and the loader built from them: all that can fail before a task."""

    settings: Settings[T]
    loader: Loader[T]


def _prepare(settings: Settings[T]) -> _Prepared[T]:
    reading = settings.reading
    converter = reading.make_converter()
    reading.check_structurable(converter)
    loader = Loader(reading.cls, reading.sources, converter, settings.options, reading.environ)
    return _Prepared(settings, loader)


async def _run(
    prepared: _Prepared[T], *, task_status: trio.TaskStatus[Live[T]] = trio.TASK_STATUS_IGNORED
) -> None:
    """The pipeline, wired in one nursery; each stage gets its slice of the settings."""
    settings, loader = prepared.settings, prepared.loader
    trigger, validate = settings.commit_trigger, settings.validate
    send, receive = trio.open_memory_channel[DebouncerInput](_EVENT_BUFFER)
    inbox = Inbox()
    tickets = Tickets()
    counters = Counters()
    # A poll holds a changed file for an interval before it reports it settled.
    hold_limit = max(HOLD_LIMIT, 2 * settings.poll_interval)
    debouncer = Debouncer(
        settings.debounce, settings.max_debounce, loader.priority, trigger, hold_limit
    )
    # A zero window: nothing to wait for between a report and its read (``_fused``).
    fused = FusedInbox(inbox, debouncer, counters) if settings.debounce == 0 else None
    failure: ConfigError | TypeError | None = None
    publisher: Publisher[T] | None = None
    try:
        async with _plain_source_errors(), trio.open_nursery() as nursery:
            watched = [*loader.paths, *([] if trigger is None else [trigger])]
            if watched or loader.directories:
                watcher = functools.partial(
                    run_watcher,
                    watched,
                    send,
                    directories=loader.directories,
                    backend=settings.backend,
                    poll_interval=settings.poll_interval,
                    max_size=settings.reading.max_size,
                    lend=None if fused is None else fused.lend,
                )
                await nursery.start(watcher)
            # Sources that report their own changes: started (watching) before the initial
            # read, like the file watcher, so a change made during that read is not lost.
            for source in loader.user_sources:
                await nursery.start(source.run, send)
            request = _request(tickets, send, nursery)
            if settings.reload_signal is not None:
                # Before the initial load: a SIGHUP's default action ends the process.
                await nursery.start(_reload_on_signal, settings.reload_signal, request)
            batches: Batches
            if fused is not None:
                batches = fused
                nursery.start_soon(fused.relay, receive)
            else:
                batches = inbox
                nursery.start_soon(run_debouncer, receive, inbox, debouncer, counters)
            try:
                config, origins = await initial_load(loader, validate, batches, debouncer)
            except (ConfigError, TypeError) as exc:
                # Raised after the nursery closed, plain: the initial load's ConfigError, or
                # a validator that returned an awaitable (it was never a sync function).
                failure = exc
                nursery.cancel_scope.cancel()
                return
            state = LiveState(
                config, origins=origins, history_size=settings.history_size, counters=counters
            )
            publisher = Publisher(state)
            nursery.start_soon(run_updater, batches, loader, publisher, validate, debouncer)
            task_status.started(Live(state, _reload(tickets, send), request))
            await trio.sleep_forever()
    finally:
        inbox.close()
        # Last: whichever task held a reload() caller's ticket (the debouncer's open batch,
        # the inbox, an attempt cancelled mid-parse), it is settled now.
        tickets.close()
        if publisher is not None:
            publisher.close()
        if failure is not None:
            raise failure


@contextlib.asynccontextmanager
async def _plain_source_errors() -> AsyncIterator[None]:
    """A user's source whose ``run`` failed (``_source``) ends the pipeline with its
    ``SourceError``, raised plain rather than in a group of this nursery's: before it started
    watching, ``start``/``open_reloader`` raise it like an initial load's error; later it
    leaves the caller's nursery as any task's exception does."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1 or not isinstance(group.exceptions[0], ConfigError):
            raise
        error = group.exceptions[0]
        context = error.__context__
        try:
            raise error
        finally:
            error.__context__ = context
            del error


def _reload(
    tickets: Tickets, send: trio.MemorySendChannel[DebouncerInput]
) -> Callable[[], Awaitable[None]]:
    async def reload() -> None:
        ticket = tickets.issue()
        # Through the debouncer, like a watcher's report: the request joins the batch that is
        # open, so it waits for a change under way instead of reading around it.
        try:
            send.send_nowait(ticket)
        except trio.WouldBlock:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await send.send(ticket)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # closing: the registry settles the ticket
        await ticket.wait()

    return reload


def _request(
    tickets: Tickets, send: trio.MemorySendChannel[DebouncerInput], nursery: trio.Nursery
) -> Callable[[], None]:
    """``Live.request_reload``: a ``reload()`` whose caller does not wait."""

    def request_reload() -> None:
        # A ticket nobody waits on: the attempt that carries it settles it, and its outcome
        # is in last_error and the history like any attempt's.
        ticket = tickets.issue()
        try:
            send.send_nowait(ticket)
        except trio.WouldBlock:
            # The channel is full (a flood of events): the request waits its turn in a task
            # of the reloader's nursery rather than being dropped or blocking a sync caller.
            with contextlib.suppress(RuntimeError):  # the nursery is closing: so are we
                nursery.start_soon(_send_later, send, ticket)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # closing: the registry settles the ticket

    return request_reload


async def _send_later(send: trio.MemorySendChannel[DebouncerInput], ticket: Ticket) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await send.send(ticket)


async def _reload_on_signal(
    signum: int,
    request: Callable[[], None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Request a reload on each delivery of ``signum`` (several at once count once: the
    receiver coalesces them, and one reload reads everything anyway)."""
    with trio.open_signal_receiver(signum) as signals:
        task_status.started()
        async for _ in signals:
            request()


def require_trio(name: str) -> None:
    """Refuse to start outside Trio, with a sentence rather than an AttributeError from deep
    inside ``trio.open_nursery``."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "no async library"
        msg = (
            f"trioconf.{name} runs under Trio, and this is {library}: start it from a task "
            "of trio.run (anyio's trio backend, or trio-asyncio from asyncio)"
        )
        raise RuntimeError(msg) from None


@asynccontextmanager
async def open_reloader(
    cls: type[T],
    *sources: SourceSpec,
    env_prefix: str | None = None,
    debounce: float = 0.05,
    max_debounce: float = 0.5,
    backend: Backend = "auto",
    poll_interval: float = 1.0,
    validate: Validate[T] | None = None,
    strict_env: bool = False,
    forbid_unknown: bool = True,
    allow_nan: bool = False,
    missing_grace: float = 1.0,
    max_size: int = MAX_SIZE,
    parse_timeout: float = 10.0,
    lock_timeout: float = 5.0,
    history_size: int = 64,
    environ: Mapping[str, str] | None = None,
    converter: Configure | None = None,
    commit_trigger: str | os.PathLike[str] | None = None,
    reload_signal: int | None = None,
    env_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    profile_var: str | None = None,
) -> AsyncIterator[Live[T]]:
    """Load ``cls`` from ``sources`` and keep it current while the block runs.

    The initial snapshot is loaded before the block starts; if it cannot be, the
    :class:`ConfigError` is raised here, plain (never inside an ExceptionGroup). From then on
    each completed change on disk is read, merged, structured, validated and swapped in as one
    new snapshot; a change that fails any step is recorded in ``live.last_error`` and the last
    good snapshot stays. Leaving the block stops every task and closes every descriptor.
    Exceptions raised in the block propagate unwrapped. A usage mistake (a wrong argument, an
    instance or a class trioconf cannot load in place of ``cls``, an ``async def`` validator)
    is a plain ``TypeError`` or ``ValueError``, raised before anything starts.

    Args:
        cls: the config class: an attrs class (frozen recommended) or a dataclass.
        sources: paths (format from the extension), :class:`File`, :class:`Directory`,
            :class:`Env` or :func:`first_found`, lowest precedence first.
        env_prefix: shorthand for a final ``Env(env_prefix)`` source: ``APP_DB__PORT=5433``
            overrides ``db.port`` after every file.
        debounce: quiet window in seconds: changes are read once no watched file has changed
            for this long, all together, so that files saved together apply as one version
            (half of it when only ``File(..., priority=True)`` files changed; it grows for files
            that change often). ``0``: read each change as soon as the updater is idle, giving
            up that atomicity.
        max_debounce: ceiling: a batch of changes is read this long after its first change
            even in a storm of writes (at the first moment no file is being written).
        backend: ``"auto"`` (inotify on Linux, polling where inotify cannot serve; off
            Linux watchfiles if installed, else polling), ``"watchfiles"``,
            ``"inotify"`` or ``"poll"``.
        poll_interval: seconds between two stat passes of the poll backend.
        validate: ``validate(new, old)``, a plain function (an ``async def`` is refused,
            since it would never be awaited); any Exception it raises rejects the snapshot
            (a :class:`RejectedError` with the exception as its cause). Called for the initial
            snapshot too, with ``old=None``. It sees the candidate that would be published:
            the files' state with every ``restart_only`` field held at its running value.
        strict_env: reject prefixed environment variables that match no field (by default
            they are ignored with a warning).
        forbid_unknown: reject keys in files that match no field (the default).
        allow_nan: accept NaN and infinity in files.
        missing_grace: seconds a required file may be absent (a rename save, a delete and
            re-create) before it counts as missing; a file whose directory has not changed
            for that long already (it was never there) counts as missing at once.
        max_size: files larger than this many bytes are refused.
        parse_timeout: files too large to parse inline are parsed in a worker process, which
            is killed after this many seconds.
        lock_timeout: how long a read waits for a cooperating writer's lock (a
            :class:`FileGuard` editing the file in place); past it the read fails with
            :class:`LockTimeout`, the last good snapshot stays, and the next change retries.
        history_size: how many update and failure records ``live.history`` keeps.
        environ: the environment to read instead of ``os.environ`` (for tests and embedding).
        converter: ``configure(converter)``, a function that registers cattrs structure hooks
            for types of your own (``converter.register_structure_hook(Money, ...)``); a
            hook's ``ValueError`` is a field error like any other, with file and line. The
            built-in scalars keep their strict hooks (see :doc:`types`).
        commit_trigger: a path (a stamp file) whose change releases the changes made since the
            last one, together, however long they took: for deploy tools that write several
            files further apart than ``max_debounce``. The file is watched, never read.
        reload_signal: a signal (``signal.SIGHUP``) on which every source is re-read, as
            :meth:`Live.request_reload` does: a bad edit is recorded, never raised. Its
            receiver is installed before the initial load, so the signal never takes the
            process down meanwhile. Signals reach the main thread only, and one receiver per
            signal: an application that handles the signal itself calls
            ``live.request_reload()`` from its own receiver instead.
        env_file: a ``.env`` file read as variables ``env_prefix*`` (needs it): shorthand
            for a :class:`DotEnv` just before the ``Env(env_prefix)`` layer, so the
            environment's variables win. Optional, and watched like any file.
        overrides: ``{"db.port": 5433}``, the top layer (above the environment): dotted
            keys into the config, a segment with a dot quoted (``'tenants."acme.eu".port'``),
            values as a file would hold them. A key that is malformed or names no field is a
            ``ValueError``. See :doc:`overrides`.
        profile_var: an environment variable (``"APP_PROFILE"``) naming profiles,
            ``prod`` or ``prod,eu``: each file source ``config.toml`` (a :class:`File`, or
            the file a :func:`first_found` chose) is followed by the optional layers
            ``config.prod.toml``, then ``config.eu.toml``, next to it. Read from ``environ``
            (else ``os.environ``) at start and on every full re-read (``live.reload()``);
            a variable that an ``Env`` source would also read as a field is a
            ``ValueError``. See :doc:`search-paths`.
    """
    require_trio("open_reloader")
    settings = Settings(
        reading=Reading.of(
            cls,
            sources,
            env_prefix,
            strict_env=strict_env,
            forbid_unknown=forbid_unknown,
            allow_nan=allow_nan,
            max_size=max_size,
            lock_timeout=lock_timeout,
            environ=environ,
            converter=converter,
            profile_var=profile_var,
            env_file=env_file,
            overrides=overrides,
        ),
        debounce=debounce,
        max_debounce=max_debounce,
        backend=backend,
        poll_interval=poll_interval,
        validate=validate,
        missing_grace=missing_grace,
        parse_timeout=parse_timeout,
        history_size=history_size,
        commit_trigger=commit_trigger,
        reload_signal=reload_signal,
    )
    # Every usage mistake is raised here, plain, before any nursery opens.
    prepared = _prepare(settings)
    body_error: BaseException | None = None
    start_error: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                live: Live[T] = await nursery.start(_run, prepared)
            except (ConfigError, TypeError) as exc:
                # Raised below, outside the nursery, so that it arrives plain: the initial
                # load's error, or a validator found to return an awaitable.
                start_error = exc
            else:
                try:
                    yield live
                except BaseException as exc:
                    body_error = exc
                    raise
                finally:
                    nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The block's own exception arrives wrapped by the nursery it ran in. Hand it back
        # as it was raised; a group with anything else in it is a trioconf bug: keep it whole.
        if body_error is None or group.exceptions != (body_error,):
            raise
        context = body_error.__context__
        try:
            raise body_error
        finally:
            body_error.__context__ = context
            del body_error
    if start_error is not None:
        raise start_error
