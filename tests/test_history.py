"""What the live value keeps while the config changes: whole ``Update`` records for the newest
versions only, ``PastUpdate`` records after them, failures without tracebacks.

The unit tests drive ``Live`` directly, as tests/test_live.py does; the end-to-end tests run a
reloader over a real keyed Directory, watched by inotify, and the example of
docs/concepts.rst as a program.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli
import trio
import trio.testing
from support import open_live, wait_until, write_atomic, writer

import trioconf
from trioconf._cli import describe
from trioconf._errors import ParseError, RejectedError
from trioconf._live import Live
from trioconf._records import PastUpdate, Update, past

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class DB:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Cfg:
    db: DB = DB()
    debug: bool = False


def port(n: int) -> Cfg:
    return Cfg(db=DB(port=n))


def make_live(initial: Any = None, **kw: Any) -> Live[Any]:
    return open_live(Cfg() if initial is None else initial, **kw)


def diff(old: Cfg, new: Cfg) -> frozenset[str]:
    """What the updater's lazy ``changed`` function does: compare the two configs it holds."""
    paths = set()
    if old.db.port != new.db.port:
        paths.add("db.port")
    if old.debug != new.debug:
        paths.add("debug")
    return frozenset(paths)


def publish(live: Live[Any], config: Cfg) -> Update[Any]:
    """Publish as the updater does: ``changed`` listed on demand by a function of both configs,
    and what the publish retired let go of once the woken tasks ran (``_updater._tidy``; the
    reloader test below checks that the updater does)."""
    update = writer(live).publish(config, functools.partial(diff, live.current, config), {})
    writer(live).release()
    return update


# --- which records stay whole ---------------------------------------------------------------


def test_only_the_updates_of_the_newest_versions_stay_whole() -> None:
    live = make_live()  # snapshots=4 by default
    configs = [live.current]
    published = []
    for n in range(1, 10):  # versions 2..10, with failures between them that hold no snapshot
        configs.append(port(n))
        published.append(publish(live, configs[-1]))
        if n % 3 == 0:
            writer(live).fail(RejectedError(f"attempt after version {n + 1}"))
    history = live.history
    updates = [r for r in history if not isinstance(r, trioconf.Failure)]
    assert [type(r).__name__ for r in updates] == ["PastUpdate"] * 6 + ["Update"] * 4
    assert [r.version for r in updates] == list(range(1, 11))
    # Whole: versions 7..10, each with its snapshot and the one before it.
    for record in updates[6:]:
        assert isinstance(record, Update)
        assert record.config is configs[record.version - 1]
        assert record.previous is configs[record.version - 2]
    # Past: version, changed paths and timestamp of the Update they replaced, no snapshots.
    for record, original in zip(updates[1:6], published, strict=False):
        assert isinstance(record, PastUpdate)
        assert (record.version, record.changed, record.timestamp) == (
            original.version,
            {"db.port"},
            original.timestamp,
        )
        assert not hasattr(record, "config")
        assert not hasattr(record, "previous")
    assert repr(updates[1]).startswith("PastUpdate(version=2, changed=frozenset({'db.port'}),")
    # Failures are never replaced and never count as versions.
    assert [r.version for r in history if isinstance(r, trioconf.Failure)] == [4, 7, 10]


def test_snapshots_sets_how_many_updates_stay_whole() -> None:
    live = make_live(snapshots=1)
    for n in range(1, 4):
        publish(live, port(n))
    assert [type(r).__name__ for r in live.history] == ["PastUpdate"] * 3 + ["Update"]
    live = make_live(snapshots=10, history_size=3)  # more than the history holds
    for n in range(1, 6):
        publish(live, port(n))
    assert [type(r).__name__ for r in live.history] == ["Update"] * 3


def test_changed_of_a_past_update_is_listed_before_its_snapshots_go() -> None:
    live = make_live(snapshots=1)
    calls: list[tuple[int, int]] = []

    def listing(old: Cfg, new: Cfg) -> frozenset[str]:
        calls.append((old.db.port, new.db.port))
        return diff(old, new)

    writer(live).publish(port(1), functools.partial(listing, live.current, port(1)), {})
    assert calls == []  # lazy while whole: most updates are never asked
    publish(live, port(2))
    assert calls == [(5432, 1)]  # listed once, when the record was replaced
    past = live.history[1]
    assert isinstance(past, PastUpdate)
    assert past.changed == {"db.port"}
    assert past.changed == {"db.port"}
    assert calls == [(5432, 1)]


def test_the_initial_record_lists_every_leaf_even_when_past() -> None:
    live = make_live(snapshots=1)
    publish(live, port(1))
    first = live.history[0]
    assert isinstance(first, PastUpdate)
    assert first.changed == {"db.host", "db.port", "debug"}


# --- what stays in memory -----------------------------------------------------------------------


def test_a_snapshot_is_released_once_snapshots_plus_one_newer_versions_exist() -> None:
    live = make_live()  # snapshots=4
    publish(live, port(1))
    target = port(2)
    ref = weakref.ref(target)
    publish(live, target)
    del target
    for n in range(3, 7):  # four newer versions: the oldest whole Update still has it as previous
        publish(live, port(n))
        writer(live).fail(RejectedError("a failure between versions"))
        gc.collect()
        assert ref() is not None
    publish(live, port(7))  # the fifth: its Update is a PastUpdate now, its `changed` listed
    gc.collect()
    assert ref() is None
    (past,) = [r for r in live.history if isinstance(r, PastUpdate) and r.version == 3]
    assert past.changed == {"db.port"}


def test_the_initial_snapshot_is_released_when_its_record_leaves_the_history() -> None:
    # Listing every leaf of a 10,000-entry keyed Directory would take more memory than the
    # snapshot: version 1's PastUpdate keeps the snapshot to list them, until it is pushed out.
    initial = Cfg()
    ref = weakref.ref(initial)
    live = make_live(initial, snapshots=1, history_size=3)
    del initial
    for n in range(1, 3):
        publish(live, port(n))
        gc.collect()
        assert ref() is not None
    publish(live, port(3))
    gc.collect()
    assert ref() is None


def test_a_view_read_rarely_keeps_its_value_not_an_old_snapshot() -> None:
    live = make_live(snapshots=1)  # retains the current version and the one before
    with live.open_view(lambda c: c.db.port) as early, live.open_view(lambda c: 1 // 0) as bad:
        assert early.current == 5432
        target = port(1)
        ref = weakref.ref(target)
        publish(live, target)  # version 2
        del target
        with live.open_view(lambda c: c.db.port) as late:
            assert late.current == 1  # f's first value, for version 2
            assert early.version == 2  # judged version 2 on catching up
            assert bad.version == 1  # judged it too: f raised for both versions
            for n in (2, 3, 4):  # nobody reads the views; the live value drops versions 2, 3
                publish(live, port(n))
            gc.collect()
            assert ref() is not None  # the view whose f raised keeps it, to raise afresh
            assert bad.version == 1
            gc.collect()
            assert ref() is None  # the two others kept f's value only
            # Read late, each compares its last value with the retained versions 4 and 5.
            assert (early.version, late.version) == (4, 3)


# --- records() and views read late ----------------------------------------------------------------


async def test_records_read_late_are_past_updates_read_in_time_stay_whole() -> None:
    live = make_live()
    late = live.records()
    got: list[Any] = []

    async def keeps_up() -> None:
        async for record in live.records():
            got.append(record)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keeps_up)
            for n in range(1, 10):  # versions 2..10
                await trio.testing.wait_all_tasks_blocked()
                publish(live, port(n))
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        # A consumer that keeps up receives whole updates, and what it holds stays whole.
        assert [type(r).__name__ for r in got] == ["Update"] * 9
        assert [r.config for r in got] == [port(n) for n in range(1, 10)]
        # One that reads late receives each record as the history holds it then.
        read = [await late.__anext__() for _ in range(9)]
    assert [type(r).__name__ for r in read] == ["PastUpdate"] * 5 + ["Update"] * 4
    assert [r.version for r in read] == list(range(2, 11))
    assert [r.changed for r in read] == [{"db.port"}] * 9
    assert late.missed == 0  # type: ignore[attr-defined]


async def test_a_view_read_late_judges_only_the_retained_versions() -> None:
    def changes_seen(snapshots: int) -> int:
        live = make_live(snapshots=snapshots)
        with live.open_view(lambda c: c.db.port) as view:
            assert view.current == 5432
            # 5432 → 1 → 5432 (versions 2, 3), then 7 → 5432 (versions 4, 5).
            for n in (1, 5432, 7, 5432):
                publish(live, port(n))
            return view.version - 1

    assert changes_seen(snapshots=4) == 4  # all five versions retained: every change counted
    # Versions 3..5 retained: 5432 (as last judged) → 7 → 5432; the first round trip is gone.
    assert changes_seen(snapshots=2) == 2


# --- failures: stored without tracebacks ----------------------------------------------------------


class Document:
    """Stands for a merged document held by the frames of a failed attempt."""


class PortError(Exception):
    """A user's exception whose __init__ does not take its own args (so copy.copy fails)."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"port {port}: {reason}")
        self.port = port


def failed_attempt(document: Document) -> ParseError:
    """A ParseError raised from a chain as a reload attempt meets them, every link raised (so
    every one has a traceback), with ``document`` in the frames' locals."""
    try:
        {}["host"]
    except KeyError as exc:
        missing_key = exc
    try:
        try:
            try:
                raise FileNotFoundError(2, "No such file or directory", "/etc/app/x.toml")
            except OSError:
                raise PortError(70000, "out of range") from None  # __suppress_context__
        except PortError as exc:
            try:
                raise ExceptionGroup("validators", [exc, missing_key])
            except ExceptionGroup as group:
                raise RejectedError("PortError: port 70000: out of range") from group
    except RejectedError:
        error = ParseError("/etc/app/a.toml", "Invalid value", line=2, column=8)
        error.__notes__ = ["while reloading"]  # add_note() is Python 3.11+
        try:
            raise error  # __context__: the RejectedError and its chain
        except ParseError as raised:
            assert document is not None
            return raised


def chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``exc``: causes, contexts, group members."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
        if isinstance(e, BaseExceptionGroup):
            todo += e.exceptions


def test_a_stored_failure_has_no_traceback_anywhere_in_its_chain() -> None:
    live = make_live()
    original = failed_attempt(Document())
    tracebacks = [e.__traceback__ for e in chain(original)]
    assert len(tracebacks) == 6
    assert all(tb is not None for tb in tracebacks)
    failure = writer(live).fail(original)
    stored = failure.error
    assert live.last_error is stored
    assert stored is not original
    assert [e.__traceback__ for e in chain(stored)] == [None] * len(tracebacks)
    # The original, which reload() callers receive, is left as it was.
    assert [e.__traceback__ for e in chain(original)] == tracebacks
    # The copy says the same thing, link by link.
    assert [type(e) for e in chain(stored)] == [type(e) for e in chain(original)]
    assert [str(e) for e in chain(stored)] == [str(e) for e in chain(original)]
    assert isinstance(stored, ParseError)
    assert (stored.source, stored.line, stored.column, stored.reason) == (
        "/etc/app/a.toml",
        2,
        8,
        "Invalid value",
    )
    assert stored.__notes__ == ["while reloading"]
    rejected = stored.__context__
    assert isinstance(rejected, RejectedError)
    assert rejected.reason == "PortError: port 70000: out of range"
    group = rejected.__cause__
    assert isinstance(group, ExceptionGroup)
    assert rejected.__suppress_context__
    port_error = group.exceptions[0]
    assert isinstance(port_error, PortError)
    assert port_error.port == 70000
    assert port_error.__suppress_context__
    missing = port_error.__context__
    assert isinstance(missing, FileNotFoundError)
    assert (missing.errno, missing.filename) == (2, "/etc/app/x.toml")


def test_a_stored_failure_keeps_nothing_of_the_attempt_alive() -> None:
    live = make_live()
    document = Document()
    ref = weakref.ref(document)
    error = failed_attempt(document)
    del document
    writer(live).fail(error)
    gc.collect()
    assert ref() is not None  # the raised error's frames hold it...
    del error
    gc.collect()
    assert ref() is None  # ...the stored copy does not
    assert isinstance(live.last_error, ParseError)


def test_a_real_parse_error_is_stored_whole_without_running_the_parsers_constructor(
    tmp_path: Path,
) -> None:
    # tomli's TOMLDecodeError (compiled by mypyc) warns when built from its message alone, and
    # keeps its fields in slots: the copy is made without its __init__, fields set one by one.
    # trioconf's own parse errors no longer carry it (it keeps the document, secrets and all:
    # tests/test_secrets.py), so this is a user's error raised while handling one, as a
    # Source's read() may.
    path = tmp_path / "app.toml"

    def read() -> None:
        try:
            tomli.loads('name = "a"\nport = = 1\n')
        except tomli.TOMLDecodeError:
            raise ParseError(str(path), "Invalid value", line=2, column=8) from None

    with pytest.raises(ParseError) as info:
        read()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = writer(make_live()).fail(info.value).error
    assert caught == []
    assert str(stored) == f"{path}:2:8: Invalid value"
    assert type(info.value.__context__).__name__ == "TOMLDecodeError"
    context = stored.__context__
    assert type(context) is type(info.value.__context__)
    assert context is not None
    assert context.__traceback__ is None
    assert context.args == info.value.__context__.args
    if "lineno" in dir(info.value.__context__):
        # Its fields, where the class lets them be listed (tomli compiled for Python 3.12+
        # keeps them in native attributes that neither dir() nor __getstate__ names).
        assert (context.lineno, context.colno, context.msg) == (2, 8, "Invalid value")  # type: ignore[attr-defined]


def test_an_exception_that_cannot_be_copied_is_named_by_a_stand_in() -> None:
    class Stubborn(Exception):
        def __new__(cls, port: int, reason: str) -> Stubborn:
            return super().__new__(cls, port, reason)

        def __init__(self, port: int, reason: str) -> None:
            super().__init__(f"port {port}: {reason}")

    live = make_live()
    try:
        try:
            raise Stubborn(70000, "out of range")
        except Stubborn as exc:
            raise RejectedError("Stubborn: port 70000: out of range") from exc
    except RejectedError as error:
        stored = writer(live).fail(error).error
    cause = stored.__cause__
    assert type(cause) is Exception
    assert str(cause) == f"{__name__}.{Stubborn.__qualname__}: port 70000: out of range"
    assert cause.__traceback__ is None


def test_a_chain_that_loops_back_is_copied_once() -> None:
    first, second = ParseError("a.toml", "bad"), ValueError("loop")
    first.__context__ = second
    second.__context__ = first
    stored = writer(make_live()).fail(first).error
    assert isinstance(stored.__context__, ValueError)
    assert stored.__context__.__context__ is stored


def test_watch_prints_the_paths_of_a_past_update() -> None:
    update = Update(3, port(2), port(1), frozenset({"db.port", "debug"}), 0.0)
    assert describe(past(update)) == ["v3: db.port: changed", "v3: debug: changed"]


# --- a real reloader over a keyed Directory ---------------------------------------------------


@attrs.frozen
class Tenant:
    name: str
    port: int


@attrs.frozen
class Tenants:
    tenants: dict[str, Tenant] = attrs.field(factory=dict)


def tenant(stem: str, port: int) -> str:
    return f'name = "{stem}"\nport = {port}\n'


async def test_a_keyed_directory_keeps_whole_records_for_the_newest_versions(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    for stem in "abc":
        (folder / f"{stem}.toml").write_text(tenant(stem, 8000))
    source = trioconf.Directory(folder, pattern="*.toml", key="tenants")
    async with trioconf.open_reloader(Tenants, source, debounce=0, backend="inotify") as live:
        refs = [weakref.ref(live.current)]
        for i, stem in enumerate("abcabc", start=1):
            write_atomic(folder / f"{stem}.toml", tenant(stem, 8000 + i))
            await live.wait_value(lambda c, s=stem, p=8000 + i: c.tenants[s].port == p)
            refs.append(weakref.ref(live.current))
        write_atomic(folder / "b.toml", 'name = "b"\nport = "8007"\n')
        await wait_until(lambda: live.last_error is not None)
        error = live.last_error
        assert isinstance(error, trioconf.ValidationError)
        assert f"{folder / 'b.toml'}:2:1: tenants.b.port: expected an int" in str(error)
        assert all(e.__traceback__ is None for e in chain(error))
        assert live.current.tenants["b"].port == 8005  # the last good snapshot stays
        history = live.history
        gc.collect()
        alive = [ref() is not None for ref in refs]
    updates = [r for r in history if not isinstance(r, trioconf.Failure)]
    assert [type(r).__name__ for r in updates] == ["PastUpdate"] * 3 + ["Update"] * 4
    # The keyed diff per changed entry, listed before the snapshots went.
    assert [r.changed for r in updates[1:]] == [{f"tenants.{s}.port"} for s in "abcabc"]
    assert isinstance(history[-1], trioconf.Failure)
    # Versions 1..7: the initial one is kept by its own record's leaf listing; 2 is released.
    assert alive == [True, False, True, True, True, True, True]


@pytest.mark.measures_memory
def _traced() -> int:
    """The memory traced now, without what pathlib allocates: it interns every path part in
    the interpreter's table of interned strings, whose resize (one block of a few MB, once the
    whole test session has interned enough names) is no memory of the reloader's. Seen in the
    full suite only: 44 "copies" of the mapping, all of them that one block."""
    ignore = [tracemalloc.Filter(False, pathlib.__file__)]
    snapshot = tracemalloc.take_snapshot().filter_traces(ignore)
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def test_memory_kept_after_many_changes_is_a_few_copies_of_the_mapping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A real keyed folder changed one file at a time, failures mixed in, more records than the
    # history holds. Each version kept costs a copy of the mapping (a dict field shares no
    # structure between versions), so the growth since start-up is counted in such copies:
    # the 4 previous snapshots kept, plus the records and caches (about two more at this
    # size), stay under 8. Keeping a snapshot per record of the history (64), or the frames
    # of failed attempts (which hold the configs current when they failed), takes more.
    count, changes = 2000, 90
    # pytest keeps every log record it captures, and the updater's warning carries the raised
    # error (its traceback and frames): not what a running program keeps.
    caplog.set_level(logging.ERROR, logger="trioconf")
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    for i in range(count):
        (folder / f"t{i:04}.toml").write_text(tenant(f"t{i:04}", 8000))
    source = trioconf.Directory(folder, pattern="*.toml", key="tenants")
    gc.collect()
    tracemalloc.start()
    try:
        async with trioconf.open_reloader(Tenants, source, debounce=0, backend="inotify") as live:
            gc.collect()
            start = _traced()
            for k in range(1, changes + 1):
                stem = f"t{k * 7 % count:04}"
                if k % 10 == 0:  # a half-written save (a valid TOML prefix), then the whole file
                    (folder / f"{stem}.toml").write_text(f'name = "{stem}"\n')
                    await wait_until(lambda: live.last_error is not None)
                write_atomic(folder / f"{stem}.toml", tenant(stem, 9000 + k))
                await live.wait_value(lambda c, s=stem, p=9000 + k: c.tenants[s].port == p)
            gc.collect()
            growth = _traced() - start
            assert live.statistics().rejected == changes // 10
            copy_size = sys.getsizeof(live.current.tenants)  # what each version's mapping takes
    finally:
        tracemalloc.stop()
    assert growth <= 8 * copy_size, f"{growth / copy_size:.1f} copies of the mapping kept"


# --- the example of docs/concepts.rst -------------------------------------------------------------


def test_the_history_example_of_the_docs_prints_what_the_docs_show() -> None:
    text = (ROOT / "docs" / "concepts.rst").read_text()
    found = re.search(
        r"\.\. code-block:: python\n   :name: history-example\n\n(.*?)\nIt prints::\n\n(.*?)\n\n",
        text,
        re.DOTALL,
    )
    assert found is not None, "the example is gone from docs/concepts.rst"
    program, shown = (textwrap.dedent(part) for part in found.groups())
    out = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout == shown.rstrip("\n") + "\n"


async def test_the_updater_frees_a_retired_snapshot_once_the_woken_tasks_ran(
    tmp_path: Path,
) -> None:
    """A publish retires the snapshot that left the retained ones; the updater lets it go
    when idle (freeing ten thousand entries should not delay the tasks the publish woke),
    not never."""
    path = tmp_path / "app.toml"
    path.write_text("[db]\nport = 1\n")
    async with trioconf.open_reloader(Cfg, path, debounce=0) as live:
        path.write_text("[db]\nport = 2\n")
        ref = weakref.ref(await live.wait_value(lambda c: c.db.port == 2))
        for n in range(3, 9):  # version 2 leaves the snapshots and its Update turns past
            path.write_text(f"[db]\nport = {n}\n")
            await live.wait_value(lambda c, n=n: c.db.port == n)

        def freed() -> bool:
            gc.collect()
            return ref() is None

        await wait_until(freed)
        await wait_until(lambda: not live._state.retired)  # the last publish's, too


@attrs.frozen
class _Port:
    port: int = 0


async def test_recovery_is_visible_in_the_history_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # After failures, a good change is an Update with cleared=True (and says so in its log
    # line); a change back to what is running is a Cleared record; an update with no failure
    # before it clears nothing.
    path = tmp_path / "app.toml"
    path.write_text("port = 1\n")
    caplog.set_level(logging.INFO, logger="trioconf")
    async with trioconf.open_reloader(_Port, path, debounce=0) as live:
        records = live.records()

        async def next_record() -> object:
            with trio.fail_after(10):
                return await records.__anext__()

        write_atomic(path, "port = 2\n")
        first = await next_record()
        assert isinstance(first, trioconf.Update)
        assert not first.cleared
        write_atomic(path, "port = 'two'\n")
        assert isinstance(await next_record(), trioconf.Failure)
        write_atomic(path, "port = 'zwei'\n")
        assert isinstance(await next_record(), trioconf.Failure)
        write_atomic(path, "port = 3\n")
        recovered = await next_record()
        assert isinstance(recovered, trioconf.Update)
        assert recovered.cleared
        assert "cleared=True" in repr(recovered)
        assert live.last_error is None
        write_atomic(path, "port = 'drei'\n")
        assert isinstance(await next_record(), trioconf.Failure)
        write_atomic(path, "port = 3  # the bad edit reverted\n")
        back = await next_record()
        assert back == trioconf.Cleared(3, back.timestamp)  # type: ignore[union-attr]
        assert live.last_error is None
        assert live.version == 3
        assert live.history[-1] is back
    messages = [r.getMessage() for r in caplog.records]
    assert "configuration version 3 applied (the last error is cleared): port" in messages
    assert "configuration version 2 applied: port" in messages
    assert "configuration back to version 3; the last error is cleared" in messages
    assert describe(back) == ["v3: back on disk; the last error is cleared"]  # type: ignore[arg-type]


def test_a_past_update_keeps_whether_it_cleared_an_error() -> None:
    update = Update(2, _Port(2), _Port(1), frozenset({"port"}), 0.0, cleared=True)
    assert past(update).cleared
    assert "cleared=True" in repr(past(update))
    assert not past(Update(3, _Port(3), _Port(2), frozenset({"port"}), 0.0)).cleared
