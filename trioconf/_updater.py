"""The updater: batches of dirty paths in, validated snapshots out, all or nothing.

Each batch is one reload attempt (``_attempt``), in four steps:

1. ``refresh``: re-read the sources the batch names, giving a file found gone or emptied its
   grace (the batches that arrive meanwhile join the attempt);
2. ``build``: a ``Candidate`` (the config, its origins, its changed paths) from every cached
   layer, inline or in a thread for large documents; None when it equals the current one.
   For a config with restart-only fields, the candidate is then corrected (``_hold``): each
   such field set back to its running value, what differs on disk kept as waiting;
3. ``check``: the user's ``validate(new, old)``, on the corrected candidate;
4. publish it through the ``Publisher``, in one step. Nothing is visible to ``Live`` or a
   ``View`` before this; the sources' own caches may have advanced (a rejected state is not
   parsed and logged again on every event).

Any failure leaves the current snapshot in place and becomes ``live.last_error``; nothing
raised by a reload attempt leaves this task, because a bad edit on disk is the normal case for
a reloader, not a crash. Only trioconf's own bugs (anything that is not a ConfigError)
propagate.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

import cattrs
import trio

from ._candidate import Candidate
from ._converter import unstructure
from ._debounce import Debouncer
from ._errors import ConfigError, RejectedError
from ._hold import Held, Hold
from ._inbox import Batch, Batches, settle_all
from ._incremental import Fallback
from ._keyed import _same
from ._keyed import candidate as keyed_candidate
from ._keyed import settle as keyed_settle
from ._load import Loader
from ._merge import changed_paths, same
from ._settings import Validate
from ._state import Publisher

T = TypeVar("T")
logger = logging.getLogger("trioconf")


def check(config: T, old: T | None, validate: Validate[T] | None) -> None:
    """Run the user's validator; any Exception it raises rejects the snapshot."""
    if validate is None:
        return
    try:
        result = validate(config, old)
    except Exception as exc:
        raise RejectedError(f"{type(exc).__name__}: {exc}") from exc
    if inspect.isawaitable(result):
        # A callable that returns a coroutine (a lambda around an async def, say) slipped
        # past the settings' check: nothing was validated, which must not pass for success.
        if inspect.iscoroutine(result):
            result.close()  # never awaited, on purpose: no "never awaited" warning
        msg = f"validate must be a plain (sync) function, but it returned {result!r}"
        raise TypeError(msg)


async def initial_load(
    loader: Loader[T], validate: Validate[T] | None, inbox: Batches, debouncer: Debouncer
) -> tuple[T, Mapping[str, str]]:
    """The first snapshot: every source read, built and validated, or a ConfigError.

    The watcher and the debouncer already run, so a required file that is missing right now
    (in the middle of a rename save) is waited for like any other: until its next report."""
    await refresh(Batch(frozenset(), rescan=True), loader, inbox, debouncer)
    config, origins = loader.build()
    check(config, None, validate)
    return config, origins


async def refresh(
    batch: Batch, loader: Loader[T], inbox: Batches, debouncer: Debouncer | None = None
) -> tuple[Batch, bool]:
    """Read what ``batch`` names; give files found gone or emptied their grace.

    A file that vanished or was emptied is waited for until its next report (the watcher's
    word that a writer is done with it), for at most ``missing_grace``; the batches that come
    meanwhile join this attempt, so one attempt applies them all. Only a report re-reads such a
    file: a timer would read a replacement that is still being written. Returns the batch
    that was read, with whatever joined it, and whether any source's outcome changed.
    """
    changed = await loader.refresh(None if batch.rescan else batch.keys)
    if not loader.waiting:
        return batch, changed
    grace = loader.options.missing_grace
    deadline = trio.current_time() + grace
    waiting = frozenset(loader.waiting)
    try:
        while waiting:
            if debouncer is not None:
                debouncer.awaiting(waiting)
            more = None
            with trio.move_on_at(deadline):
                # EndOfChannel: the reloader is closing; this attempt is about to be cancelled.
                with contextlib.suppress(trio.EndOfChannel):
                    more = await inbox.take()
            if more is None:
                break
            batch = batch.joined(more)
            changed |= await loader.refresh(None if more.rescan else more.keys)
            if loader.waiting - waiting:
                # A file of the joined batch vanished too: it gets its grace from now.
                deadline = max(deadline, trio.current_time() + grace)
            waiting = frozenset(loader.waiting)
    finally:
        if debouncer is not None:
            debouncer.awaiting(frozenset())
        loader.grace_over()
    return batch, changed


async def run_updater(
    inbox: Batches,
    loader: Loader[T],
    live: Publisher[T],
    validate: Validate[T] | None,
    debouncer: Debouncer | None = None,
) -> None:
    """Apply batches until the inbox closes or the task is cancelled.

    Each attempt's outcome goes back to the ``debouncer`` (the pipeline's one backward edge):
    the ceiling on how long a change waits counts from its oldest change not applied yet.
    """
    # Found once per reloader; None (no step at all) for a config without restart-only fields.
    hold = Hold.of(loader.cls, functools.partial(_same, loader.converter, loader.options.allow_nan))
    while True:
        try:
            batch = await inbox.take()
        except trio.EndOfChannel:
            return
        live.taken()
        version = live.version
        batch, error = await _attempt(batch, inbox, loader, live, validate, debouncer, hold)
        if debouncer is not None:
            if error is None:
                debouncer.applied(batch.keys)
            else:
                debouncer.failed(batch.keys, trio.current_time())
        settle_all(batch, error)
        if live.version != version:
            await _tidy(loader, live)


async def _tidy(loader: Loader[T], live: Publisher[T]) -> None:
    """After a publish, once the tasks it woke have run: free what it retired and copy what
    the next change would copy first (``Loader.prepare``). With ten thousand entries each
    costs about as much as the change itself; done here, neither delays a waiting task.

    Two checkpoints, because the scheduler runs a batch of tasks in either order: after the
    first, a task woken by the publish may still be queued behind this one; by the second it
    has run. Nothing depends on that order for correctness, only the latency does."""
    await trio.lowlevel.checkpoint()
    await trio.lowlevel.checkpoint()
    live.release()
    loader.prepare()


async def _attempt(
    batch: Batch,
    inbox: Batches,
    loader: Loader[T],
    live: Publisher[T],
    validate: Validate[T] | None,
    debouncer: Debouncer | None,
    hold: Hold[T] | None = None,
) -> tuple[Batch, ConfigError | None]:
    live.attempting()
    batch, touched = await refresh(batch, loader, inbox, debouncer)  # 1. refresh
    if not touched and not batch.rescan:
        # The bytes on disk are what they were (a touch, an identical rewrite, an editor's
        # extra event). If that state was bad it was reported already; if good, it stays.
        if loader.error is None:
            live.unchanged()
        return batch, loader.error
    old = live.current
    held: Held[T] | None = None
    try:
        candidate = await build(loader, old)  # 2. build
        if hold is not None:
            # Restart-only fields back to their running values: ``validate`` sees, and the
            # live value publishes, the candidate the running service can take (``_hold``).
            held = hold.apply(candidate, old, live.origins)
            candidate = held.candidate
        if candidate is None:
            if held is not None:  # the sources differ at restart-only fields only, or not at all
                held.settle(live.waiting)
            if live.confirmed() is not None:
                logger.info(
                    "configuration back to version %d; the last error is cleared", live.version
                )
            return batch, None
        check(candidate.config, old, validate)  # 3. check
    except ConfigError as exc:
        live.fail(exc)
        logger.warning(
            "configuration change not applied, keeping version %d: %s",
            live.version,
            exc,
            extra={"trioconf_rejected": True},  # what prints it already may filter it out
        )
        return batch, exc
    if held is not None:
        held.settle(live.waiting)
    update = live.publish(candidate.config, candidate.changed, candidate.origins)  # 4. publish
    if logger.isEnabledFor(logging.INFO):
        # Only when someone listens: sorting the paths of a large change costs real time.
        logger.info(
            "configuration version %d applied%s: %s",
            update.version,
            " (the last error is cleared)" if update.cleared else "",
            _summary(update.changed),
        )
    return batch, None


def _summary(paths: frozenset[str], most: int = 10) -> str:
    shown = ", ".join(sorted(paths)[:most])
    return shown if len(paths) <= most else f"{shown} and {len(paths) - most} more"


async def build(loader: Loader[T], old: T) -> Candidate[T] | None:
    """The candidate the sources make now, or None when it equals ``old``.

    Merging, structuring and diffing a document too large to parse inline takes long enough
    to stall every task: a thread keeps the loop answering (the GIL switches every few ms).
    The thread only reads: the bookkeeping a build needs changed is done here first. Abandoning
    it on cancel is safe, since nothing changes that state once this task is cancelled, and
    its result is dropped."""
    make = _maker(loader, old)
    if loader.heavy:
        return await trio.to_thread.run_sync(make, True, abandon_on_cancel=True)
    return make(False)


def candidate(loader: Loader[T], old: T, *, eager: bool = False) -> Candidate[T] | None:
    """``build``, inline."""
    return _maker(loader, old)(eager)


def _maker(loader: Loader[T], old: T) -> Callable[[bool], Candidate[T] | None]:
    """Settle what a build needs settled, in this task; return the build itself, which takes
    ``eager``: list the changed paths now (in a thread, for large documents: listing them
    later, in a task that asks, would stall the event loop) rather than on demand."""
    if loader.incremental is not None:
        return functools.partial(_incremental, loader, old)
    if not loader.keyed:
        return functools.partial(_layered, loader, old)
    error = loader.error
    if error is not None:
        raise error
    # Keyed Directories: only the changed entries are structured, compared and (on demand)
    # diffed; the rest of the config alone is built again (``_keyed``).
    allow_nan = loader.options.allow_nan
    changes = keyed_settle(loader.converter, loader.keyed, old, allow_nan=allow_nan)
    return lambda eager: keyed_candidate(
        loader.build_keyed,
        loader.converter,
        loader.keyed,
        changes,
        old,
        allow_nan=allow_nan,
        eager=eager,
    )


def _incremental(loader: Loader[T], old: T, eager: bool) -> Candidate[T] | None:
    """A layered Directory's change at its own cost (``_incremental``), or in full where that
    cannot say it (a bad field: the full build locates every one)."""
    incremental = loader.incremental
    assert incremental is not None
    error = loader.error
    if error is not None:
        raise error
    if not loader.heavy:
        try:
            return incremental.candidate(loader, old, eager=eager)
        except Fallback:
            pass
    built = _layered(loader, old, eager)
    if built is not None:
        incremental.share(old, built.config)
    return built


def _layered(loader: Loader[T], old: T, eager: bool) -> Candidate[T] | None:
    config, origins = loader.build_full()
    if config == old:
        return None
    converter = loader.converter
    # NaN != NaN, so a config holding one never equals itself; the typed comparison holds NaN
    # equal. Without it every rewrite of such a file published a version. Without allow_nan
    # no NaN gets in, and configs that are unequal always differ under it too.
    nan_only = loader.options.allow_nan and same(
        unstructure(converter, old), unstructure(converter, config)
    )
    if nan_only:
        return None
    diff = functools.partial(_changed, converter, old, config)
    return Candidate(config, origins, diff() if eager else diff)


def _changed(converter: cattrs.Converter, old: object, new: object) -> frozenset[str]:
    return changed_paths(unstructure(converter, old), unstructure(converter, new))
