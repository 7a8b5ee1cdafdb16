"""Sources users write (``trioconf.Source``): read, run, notify, errors, and files alongside.

The main user here is the documented example (examples/sqlite_source.py) against a real SQLite
database changed by another connection, as another process would; the rest are small sources
written the way the docs say, each showing one rule of the interface.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
import sys
from collections.abc import Hashable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from support import PATIENCE, write_atomic

import trioconf

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


def _example() -> ModuleType:
    path = Path(__file__).parent.parent / "examples" / "sqlite_source.py"
    spec = importlib.util.spec_from_file_location("sqlite_source", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sqlite_source = _example()


@attrs.frozen
class Limits:
    rate: int = 10
    burst: int = 20


@attrs.frozen
class Config:
    name: str = "app"
    release: str = "r0"
    limits: Limits = Limits()


def _create(db_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)")


def _set(db_path: Path, **rows: str) -> None:
    """Commit rows from a connection of its own: what another process would do."""
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        for key, value in rows.items():
            db.execute(
                "INSERT INTO settings VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                (key.replace("__", "."), value, value),
            )


async def _failure(records: Any) -> trioconf.ConfigError:
    """The error of the next failed attempt among ``live.records()``."""
    with trio.fail_after(PATIENCE):
        async for record in records:
            if isinstance(record, trioconf.Failure):
                return record.error
    raise AssertionError("the live value closed")  # pragma: no cover


async def _until(live: trioconf.Live[Any], predicate: Any) -> Any:
    with trio.fail_after(PATIENCE):
        return await live.wait_value(predicate)


async def test_the_sqlite_example_layers_over_a_file_and_reloads_a_committed_change(
    tmp_path: Path,
) -> None:
    db = tmp_path / "settings.db"
    _create(db)
    _set(db, limits__rate="10", release='"r1"')
    base = tmp_path / "base.toml"
    base.write_text('name = "shop"\nrelease = "r0"\n\n[limits]\nrate = 1\nburst = 50\n')
    source = sqlite_source.SqliteSettings(str(db), poll=0.02)
    async with trioconf.open_reloader(Config, base, source) as live:
        # The table is the later source: it overrides the file where both set a value.
        assert live.current == Config("shop", "r1", Limits(10, 50))
        assert live.origin("limits.rate") == f"sqlite {db} (key limits.rate)"
        assert live.origin("limits.burst") == f"{base}:6"
        _set(db, limits__rate="25")
        config = await _until(live, lambda c: c.limits.rate == 25)
        assert config == Config("shop", "r1", Limits(25, 50))
        assert live.history[-1].changed == {"limits.rate"}
        # A bad value: said like a file's field error, naming the source and the key; the
        # last good snapshot stays and the reloader keeps going.
        version = live.version
        records = live.records()
        _set(db, limits__rate='"fast"')
        assert isinstance(await _failure(records), trioconf.ValidationError)
        assert f"sqlite {db} (key limits.rate): limits.rate" in str(live.last_error)
        assert (live.version, live.current.limits.rate) == (version, 25)
        _set(db, limits__rate="30")
        await _until(live, lambda c: c.limits.rate == 30)
        assert live.last_error is None


def test_load_reads_a_source_once_running_its_task_as_the_reloader_does(tmp_path: Path) -> None:
    db = tmp_path / "settings.db"
    _create(db)
    _set(db, name='"from-sqlite"')
    config = trioconf.load(Config, sqlite_source.SqliteSettings(str(db)))
    assert config == Config(name="from-sqlite")


class Store(trioconf.Source):
    """An in-process store: ``await store.put(...)`` changes it and notifies."""

    name = "store"

    def __init__(self, **data: Any) -> None:
        self.data = dict(data)
        self.reads: list[frozenset[Hashable] | None] = []
        self._notify: trioconf.Notify | None = None
        self.failure: BaseException | None = None

    async def run(self, notify: trioconf.Notify, *, task_status: trio.TaskStatus[None]) -> None:
        self._notify = notify
        task_status.started()
        await trio.sleep_forever()

    async def put(self, token: Hashable, **data: Any) -> None:
        self.data.update(data)
        assert self._notify is not None
        await self._notify(token)

    async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
        self.reads.append(changes)
        if self.failure is not None:
            raise self.failure
        return self.data


async def test_read_gets_the_tokens_notified_since_the_last_read() -> None:
    store = Store(release="r1")
    async with trioconf.open_reloader(Config, store, debounce=0.05) as live:
        assert store.reads == [None]  # the first read is a whole one
        await store.put("rev-2", release="r2")
        await store.put("rev-3", release="r3")  # within the window: one batch, one read
        await _until(live, lambda c: c.release == "r3")
        assert store.reads == [None, frozenset({"rev-2", "rev-3"})]
        assert live.version == 2
        await live.reload()  # reload() reads everything again
        assert store.reads[-1] is None


async def test_a_source_change_and_a_file_change_in_one_window_apply_as_one_version(
    tmp_path: Path,
) -> None:
    """A deploy that bumps the release in a file and in the store 20 ms apart, with the loop
    running between: no snapshot pairs the new file with the old store, or the reverse."""
    base = tmp_path / "base.toml"
    base.write_text('release = "r0"\n')
    store = Store(name="r0")
    seen: list[Config] = []
    async with trioconf.open_reloader(Config, base, store, debounce=0.25) as live:

        async def record() -> None:
            async for config in live.updates():
                seen.append(config)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(record)
            for release in ("r1", "r2", "r3"):
                write_atomic(base, f'release = "{release}"\n')
                await trio.sleep(0.02)
                await store.put(release, name=release)
                await _until(live, lambda c, r=release: (c.name, c.release) == (r, r))
            nursery.cancel_scope.cancel()
    assert [(c.name, c.release) for c in seen] == [
        ("r0", "r0"),
        *((r, r) for r in ("r1", "r2", "r3")),
    ]


async def test_an_exception_from_read_is_a_source_error_naming_the_source() -> None:
    store = Store(name="first")
    async with trioconf.open_reloader(Config, store, debounce=0) as live:
        store.failure = ConnectionResetError("peer went away")
        records = live.records()
        await store.put(1, name="second")
        await _failure(records)
        error = live.last_error
        assert isinstance(error, trioconf.SourceError)
        assert str(error) == "store: read() failed: ConnectionResetError: peer went away"
        assert isinstance(error.__cause__, ConnectionResetError)
        assert live.current.name == "first"  # the last good snapshot stays
        # The read after a failed one is a whole one: what the failed read missed is not lost.
        store.failure = None
        await store.put(2, name="third")
        await _until(live, lambda c: c.name == "third")
        assert store.reads[-1] is None


async def test_a_config_error_from_read_is_kept_as_it_is() -> None:
    store = Store()
    async with trioconf.open_reloader(Config, store, debounce=0) as live:
        store.failure = trioconf.SourceError("store", "table settings is locked")
        records = live.records()
        await store.put(1)
        error = await _failure(records)
        assert (type(error), str(error)) == (
            trioconf.SourceError,
            "store: table settings is locked",
        )


async def test_a_read_that_is_not_a_mapping_is_the_sources_error() -> None:
    class Listing(Store):
        async def read(self, changes: frozenset[Hashable] | None) -> Any:
            return [("name", "x")]

    with pytest.raises(trioconf.SourceError, match=r"must return a mapping .* not a list"):
        async with trioconf.open_reloader(Config, Listing()):
            pass  # pragma: no cover


async def test_a_read_that_hangs_is_cut_at_parse_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Hanging(Store):
        async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
            if changes is not None:
                await trio.sleep_forever()
            return {}

    store = Hanging()
    async with trioconf.open_reloader(Config, store, debounce=0, parse_timeout=3) as live:
        start = trio.current_time()
        records = live.records()
        await store.put(1)
        await _failure(records)
        assert trio.current_time() - start == pytest.approx(3, abs=0.2)
        assert "read() took longer than 3 s (parse_timeout)" in str(live.last_error)


async def test_the_returned_mapping_is_copied() -> None:
    """A source that keeps (and later mutates) the dict it returned changes nothing behind
    the reloader's back: the next read compares with what was read, not with the same dict."""
    store = Store(name="one")
    async with trioconf.open_reloader(Config, store, debounce=0) as live:
        store.data["name"] = "two"  # mutated in place, no notify yet
        await trio.sleep(0.05)
        assert live.current.name == "one"
        await store.put(1)
        await _until(live, lambda c: c.name == "two")


async def test_run_failing_before_started_is_raised_plain_by_open_reloader() -> None:
    class Unreachable(Store):
        async def run(self, notify: trioconf.Notify, *, task_status: trio.TaskStatus[None]) -> None:
            raise OSError("connection refused")

    with pytest.raises(trioconf.SourceError, match=r"store: run\(\) failed: OSError") as info:
        async with trioconf.open_reloader(Config, Unreachable()):
            pass  # pragma: no cover
    assert isinstance(info.value.__cause__, OSError)


async def test_run_failing_later_ends_the_reloader_with_a_source_error() -> None:
    """A source that can no longer watch cannot keep the config current: the reloader does
    not go on silently stale. The error leaves the reloader's nursery like any task's."""

    class Dropping(Store):
        async def run(self, notify: trioconf.Notify, *, task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            await trio.sleep(0.05)
            raise RuntimeError("stream ended")

    with pytest.raises(BaseExceptionGroup) as info:
        async with trioconf.open_reloader(Config, Dropping()):
            await trio.sleep_forever()
    (error,) = info.value.exceptions
    assert isinstance(error, trioconf.SourceError)
    assert str(error) == "store: run() failed: RuntimeError: stream ended"


async def test_a_source_without_run_is_read_at_start_and_on_reload() -> None:
    class Static(trioconf.Source):
        name = "static"

        def __init__(self) -> None:
            self.value = "a"

        async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
            return {"name": self.value}

    static = Static()
    async with trioconf.open_reloader(Config, static) as live:
        assert live.current.name == "a"
        static.value = "b"
        await live.reload()
        assert live.current.name == "b"


async def test_usage_mistakes_are_plain_errors_before_anything_starts() -> None:
    class Nameless(trioconf.Source):
        async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
            raise AssertionError("never read")  # pragma: no cover

    with pytest.raises(TypeError, match="pass an instance of Store as a source, not the class"):
        async with trioconf.open_reloader(Config, Store):  # type: ignore[arg-type]
            pass  # pragma: no cover
    with pytest.raises(TypeError, match="Nameless must set name"):
        async with trioconf.open_reloader(Config, Nameless()):
            pass  # pragma: no cover
    store = Store()
    with pytest.raises(ValueError, match="the same Source instance is passed twice"):
        async with trioconf.open_reloader(Config, store, store):
            pass  # pragma: no cover
    with pytest.raises(TypeError, match="Can't instantiate abstract class"):
        trioconf.Source()  # type: ignore[abstract]
    assert store.reads == []


class Typed(Store):
    """Records ``bind`` and ``run`` in the order they come."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def bind(self, config_class: type) -> None:
        self.calls.append(f"bind {config_class.__name__}")

    async def run(self, notify: trioconf.Notify, *, task_status: trio.TaskStatus[None]) -> None:
        self.calls.append("run")
        task_status.started()


async def test_bind_gets_the_config_class_before_run() -> None:
    """A source of text values needs the class to type them (``trioconf.Etcd`` does): the
    reloader calls ``bind(cls)`` once, before ``run`` starts."""
    typed = Typed()
    async with trioconf.open_reloader(Config, typed):
        assert typed.calls == ["bind Config", "run"]


def test_load_binds_the_config_class_too() -> None:
    typed = Typed()
    trioconf.load(Config, typed)
    assert typed.calls == ["bind Config", "run"]
