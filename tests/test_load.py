"""The loader: sources to a typed config, inline or in a worker process, and trioconf.load()."""

from __future__ import annotations

import functools
import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing
import trio_parallel

import trioconf
from trioconf._converter import make_converter
from trioconf._formats import INLINE_LIMITS
from trioconf._formats import _yaml as formats_yaml
from trioconf._inbox import Batch, Inbox
from trioconf._load import Loader, Options
from trioconf._updater import refresh


@attrs.frozen
class Config:
    name: str
    items: dict[str, int] = attrs.field(factory=dict)


def big_json(path: Path, name: str, entries: int) -> None:
    items = {f"key{i}": i for i in range(entries)}
    path.write_text(json.dumps({"name": name, "items": items}))


def loader(*sources: trioconf.File | trioconf.Env, **options: object) -> Loader[Config]:
    return Loader(Config, sources, make_converter(), Options(**options))  # type: ignore[arg-type]


async def test_large_file_is_parsed_in_a_worker_and_unchanged_bytes_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.json"
    big_json(path, "one", 20_000)
    assert path.stat().st_size > INLINE_LIMITS["json"]
    load = loader(trioconf.File(path))
    assert await load.refresh(None)
    config, _ = load.build()
    assert config.name == "one"
    assert len(config.items) == 20_000
    os.utime(path)  # same bytes: nothing changes
    assert not await load.refresh(frozenset({path}))
    big_json(path, "two", 20_000)
    assert await load.refresh(frozenset({path}))
    assert load.build()[0].name == "two"


async def test_worker_parse_over_the_timeout_is_stopped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    big_json(path, "one", 200_000)
    load = loader(trioconf.File(path), parse_timeout=0.001)
    with trio.fail_after(30):
        await load.refresh(None)
    with pytest.raises(trioconf.SourceError, match=r"took longer than 0\.001 s"):
        load.build()


async def test_parse_error_in_worker_crosses_back_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    big_json(path, "one", 20_000)
    path.write_text(path.read_text()[:-1] + "\n@}")  # garbage at the start of line 2
    load = loader(trioconf.File(path))
    await load.refresh(None)
    with pytest.raises(trioconf.ParseError) as info:
        load.build()
    assert info.value.source == str(path)
    assert (info.value.line, info.value.column) == (2, 1)


async def test_missing_optional_drops_and_missing_required_waits_out_the_grace(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n')
    extra = trioconf.File(tmp_path / "extra.toml", optional=True)
    load = loader(trioconf.File(base), extra, missing_grace=0.2)
    await load.refresh(None)
    assert load.build()[0].name == "base"
    base.unlink()
    start = trio.current_time()
    await refresh(Batch(frozenset({base})), load, Inbox())  # no report comes
    assert trio.current_time() - start == pytest.approx(0.2)
    with pytest.raises(trioconf.MissingSourceError):
        load.build()


async def test_the_grace_ends_with_the_files_next_report_not_a_timer(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A delete-then-write save whose new file's first half parses: only the watcher's report
    # (its writer closed it) may end the wait; a read on a timer would apply that half.
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n[items]\na = 1\nb = 2\n')
    load = loader(trioconf.File(base), missing_grace=1.0)
    await load.refresh(None)
    base.unlink()
    inbox = Inbox()
    async with trio.open_nursery() as nursery:

        async def writer() -> None:
            await trio.sleep(0.1)
            with base.open("w") as f:  # the replacement, written slowly
                f.write('name = "new"\n[items]\na = 1\n')
                f.flush()
                await trio.sleep(0.3)
                f.write("b = 2\n")
            inbox.put([base])  # its close is what the watcher reports

        nursery.start_soon(writer)
        start = trio.current_time()
        batch, changed = await refresh(Batch(frozenset({base})), load, inbox)
    assert trio.current_time() - start == pytest.approx(0.4)
    assert changed
    assert batch.keys == {base}
    assert load.build()[0] == Config("new", {"a": 1, "b": 2})


def test_load_is_a_one_shot_sync_load(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("name: base\nitems: {a: 1}\n")
    config = trioconf.load(Config, base, env_prefix="X_", environ={"X_ITEMS": '{"b": 2}'})
    assert config == Config(name="base", items={"a": 1, "b": 2})  # mappings merge
    base.write_text("name: base\nitems: {a: one}\n")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, base)
    (error,) = info.value.errors
    assert error.path == "items.a"
    assert error.line == 2


async def test_an_unknown_extension_is_the_same_plain_error_everywhere(tmp_path: Path) -> None:
    # One error for a path's extension, from every entry point, plain and before anything
    # starts: a ConfigError about the source (paths come from command lines), a ValueError.
    path = tmp_path / "app.conf"
    path.write_text("name = 1")
    errors: list[trioconf.UnknownFormatError] = []
    with pytest.raises(trioconf.UnknownFormatError) as info:
        trioconf.load(Config, path)
    errors.append(info.value)
    with pytest.raises(trioconf.UnknownFormatError) as info:
        async with trioconf.open_reloader(Config, path):
            pytest.fail("must not start")
    errors.append(info.value)
    async with trio.open_nursery() as nursery:
        with pytest.raises(trioconf.UnknownFormatError) as info:
            await nursery.start(functools.partial(trioconf.run_reloader, Config, path))
    errors.append(info.value)
    for error in errors:
        assert isinstance(error, trioconf.SourceError)
        assert isinstance(error, ValueError)
        assert error.path == str(path)
        assert str(error) == str(errors[0])
        assert "cannot tell the format from the extension" in str(error)
    path.write_text('name = "x"\n')
    assert trioconf.load(Config, trioconf.File(path, format="toml")).name == "x"


@pytest.mark.parametrize("make", [trioconf.File, trioconf.Directory])
def test_a_format_named_in_code_is_checked_where_the_source_is_made(
    tmp_path: Path, make: type[trioconf.File] | type[trioconf.Directory]
) -> None:
    with pytest.raises(ValueError, match="format must be 'json', 'toml' or 'yaml', not 'ini'"):
        make(tmp_path / "app.conf", format="ini")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="format must be"):
        make(tmp_path / "app.conf", format=3)  # type: ignore[arg-type]


def test_a_directory_pattern_is_a_string_or_a_tuple_of_them(tmp_path: Path) -> None:
    assert trioconf.Directory(tmp_path, ("*.toml", "*.yaml")).pattern == ("*.toml", "*.yaml")
    with pytest.raises(TypeError, match="an fnmatch pattern such as"):
        trioconf.Directory(tmp_path, ("*.toml", b"*.yaml"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty tuple"):
        trioconf.Directory(tmp_path, ())


@attrs.frozen
class Wide:
    items: dict[str, int]


async def test_a_large_valid_document_does_not_stall_the_loop(tmp_path: Path) -> None:
    """Parse (worker process) and build (thread) both leave the event loop answering."""
    from checkpoints import Checkpoints
    from support import PATIENCE

    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"items": {"a": 0}}))
    # Its own worker cache: no worker outlives the test to disturb later accounting.
    async with trio_parallel.cache_scope(), trioconf.open_reloader(Wide, path, debounce=0) as live:
        path.write_text(json.dumps({"items": {f"k{i}": i for i in range(300_000)}}))
        with Checkpoints() as gaps, trio.fail_after(PATIENCE * 2):
            config = await live.wait_value(lambda c: len(c.items) > 1)
        assert config.items["k299999"] == 299_999
    print(f"longest step while a 300,000-entry document applied: {gaps.longest * 1e3:.1f} ms", gaps)
    # Building this inline took ~0.5 s here; the bound is generous for a loaded machine.
    assert gaps.longest < 0.25, gaps


def _spawned_workers() -> list[int]:
    """This process's multiprocessing workers (not its resource tracker)."""
    me, found = os.getpid(), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:  # exited while we looked
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == me and b"spawn_main" in cmdline:
            found.append(int(entry))
    return found


async def test_a_worker_dying_mid_parse_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    from support import PATIENCE, open_fds, wait_until

    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"items": {"a": 0}}))
    # Workers cached by earlier tests belong to the default context: leave them alone.
    await trio_parallel.run_sync(int)  # the first spawn starts a resource tracker for good
    others = set(_spawned_workers())
    gc.collect()
    fds = open_fds()
    async with (
        trio_parallel.cache_scope(),
        # Over the default max_size (18 MB): refused before any worker starts, without this.
        trioconf.open_reloader(Wide, path, debounce=0, max_size=64 * 1024 * 1024) as live,
    ):
        path.write_text(json.dumps({"items": {f"k{i}": i for i in range(1_000_000)}}))
        with trio.move_on_after(PATIENCE):
            while live.last_error is None:
                for pid in set(_spawned_workers()) - others:  # as the OOM killer would
                    os.kill(pid, signal.SIGKILL)
                await trio.sleep(0.02)
        assert isinstance(live.last_error, trioconf.SourceError)
        assert "worker process parsing it died" in str(live.last_error)
        assert live.current.items == {"a": 0}
        path.write_text(json.dumps({"items": {"b": 1}}))  # the reloader lives on
        await wait_until(lambda: live.current.items == {"b": 1})
    # The dead worker's pipes were closed, not left to the next worker start.
    gc.collect()
    assert open_fds() == fds


# --- trioconf.load() and a cooperating writer's lock -------------------------------------------


@attrs.frozen
class Server:
    host: str = "localhost"
    port: int = 80  # the writer's first part (the host line) is a valid config on its own


@attrs.frozen
class Servers:
    servers: dict[str, Server] = attrs.field(factory=dict)


@pytest.mark.parametrize("kind", ["file", "directory"])
async def test_load_reads_a_file_being_written_under_the_lock_only_when_it_is_done(
    tmp_path: Path, kind: str
) -> None:
    from locked_writer import locked_writer, opens_of
    from support import wait_until

    folder = tmp_path / "servers.d"
    folder.mkdir()
    path = folder / "web.toml"
    path.write_text('host = "old"\nport = 1\n')
    if kind == "file":
        load = functools.partial(trioconf.load, Server, path)
        done, torn = Server("new", 2), Server("new")
    else:
        load = functools.partial(trioconf.load, Servers, trioconf.Directory(folder, key="servers"))
        done, torn = Servers({"web": Server("new", 2)}), Servers({"web": Server("new")})
    async with (
        trio.open_nursery() as nursery,
        locked_writer(path, ['host = "new"\n', "port = 2\n"]) as writer,
    ):
        await writer.wrote(0)
        results: list[object] = []

        async def load_in_a_thread() -> None:  # load() blocks: it is sync
            results.append(await trio.to_thread.run_sync(load))

        nursery.start_soon(load_in_a_thread)
        # load() either returned the first part (the bug) or waits, holding the sidecar open.
        await wait_until(lambda: bool(results) or opens_of(folder / ".web.toml.lock") > 0)
        await writer.finish()
    assert results != [torn]
    assert results == [done]


async def test_load_lock_timeout_is_a_config_error_naming_file_and_holder(tmp_path: Path) -> None:
    from locked_writer import locked_writer

    path = tmp_path / "web.toml"
    path.write_text('host = "old"\n')
    async with locked_writer(path, ['host = "new"\n']) as writer:
        await writer.wrote(0)
        start = trio.current_time()
        with pytest.raises(trioconf.LockTimeout) as info:
            await trio.to_thread.run_sync(
                functools.partial(trioconf.load, Server, path, lock_timeout=0.3)
            )
        waited = trio.current_time() - start
        assert info.value.path == str(path)
        assert f"held by pid {writer.pid} " in str(info.value)
    assert 0.3 <= waited < 0.3 + 5  # the bound, with room for a noisy machine
    assert trioconf.load(Server, path) == Server("new")  # the holder is gone: read at once


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
def test_load_lock_timeout_must_be_positive(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(ValueError, match="lock_timeout must be positive"):
        trioconf.load(Server, tmp_path / "never-read.toml", lock_timeout=timeout)


# --- what a worker can fail with: the file's error, never the reloader's end -------------------
# (trio_parallel.run_sync, tried: the job's own errors cross back pickled; a MemoryError from
# the worker, raised reading or pickling, or in the parent unpickling; BrokenWorkerError when
# the worker dies; OSError when no worker can start. See trioconf/_job.py.)


async def test_a_worker_out_of_memory_is_the_files_error_not_a_crash(tmp_path: Path) -> None:
    from support import PATIENCE, wait_until
    from worker_limits import limit_memory

    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"items": {"a": 0}}))
    # Workers of this scope get 30 MB more address space than they start with: a 29 MB
    # document cannot be read into it (checked: MemoryError, from the worker's read).
    workers = trio_parallel.cache_scope(init=functools.partial(limit_memory, 30 << 20))
    reloader = trioconf.open_reloader(Wide, path, debounce=0, max_size=64 << 20)
    async with workers, reloader as live:
        path.write_text(json.dumps({"items": {f"k{i}": i for i in range(1_500_000)}}))
        await wait_until(lambda: live.last_error is not None)
        error = live.last_error
        assert isinstance(error, trioconf.SourceError)
        assert str(error) == f"{path}: too large for the memory the worker process parsing it has"
        assert live.current.items == {"a": 0}
        # The next good save applies. (Small enough to parse inline: under RLIMIT_AS, the
        # worker that ran out may keep its address space on Python 3.12+, and fail again.)
        path.write_text(json.dumps({"items": {f"k{i}": i for i in range(2_000)}}))
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: len(c.items) == 2_000)


async def test_no_worker_able_to_start_is_the_files_error(tmp_path: Path) -> None:
    from worker_limits import descriptors_left

    path = tmp_path / "big.json"
    big_json(path, "one", 20_000)
    load = loader(trioconf.File(path))
    async with trio_parallel.cache_scope():  # no worker yet: the parse must start one
        # One descriptor left: the file can be opened (its size read), no worker's pipes.
        with descriptors_left(1):
            assert await load.refresh(None)
        with pytest.raises(trioconf.SourceError) as info:
            load.build()
        assert str(info.value).startswith(f"{path}: no worker process could start to parse it (")
        assert "Too many open files" in str(info.value)
        assert await load.refresh(None)  # descriptors again: a worker starts, the file parses
        assert load.build()[0].name == "one"


def makefile_yaml(name: str) -> str:
    """A YAML config of about 13 KiB that libyaml refuses (a tab inside a block scalar) and the
    pure loader reads, in about 0.1 s here: too slow to parse inline."""
    items = "".join(f"  key{i}: {i}\n" for i in range(1000))
    return f"name: {name}\nrecipe: |\n  \tcc -o app main.c\nitems:\n{items}"


def test_a_yaml_file_libyaml_refuses_is_not_parsed_inline_when_large(tmp_path: Path) -> None:
    from trioconf._job import Deferred, read_and_parse

    path = tmp_path / "app.yaml"
    path.write_text(makefile_yaml("one"))
    size = path.stat().st_size
    assert formats_yaml.PURE_INLINE_LIMIT < size <= INLINE_LIMITS["yaml"]
    args = (path, "yaml", str(path), False, 1 << 20, None)
    assert read_and_parse(*args, size) is Deferred.LARGE  # inline: hand it to a worker
    _, data, _ = read_and_parse(*args)  # type: ignore[misc]  # in the worker: the pure answer
    assert data["recipe"] == "\tcc -o app main.c\n"  # type: ignore[index]


@attrs.frozen
class Recipe:
    name: str
    recipe: str
    items: dict[str, int]


@pytest.mark.parametrize("kind", ["file", "directory"])
async def test_a_large_yaml_file_libyaml_refuses_is_applied_from_a_worker(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import PATIENCE

    calls: list[bool] = []
    real_parse = formats_yaml._checked_load

    def spy(text: str, source: str, pure: bool, compose: bool = False) -> Any:
        calls.append(pure)
        return real_parse(text, source, pure, compose)

    # Seen in this process only: a worker process runs the module unpatched.
    monkeypatch.setattr(formats_yaml, "_checked_load", spy)
    folder = tmp_path / "conf.d"
    folder.mkdir()
    path = folder / "app.yaml"
    path.write_text(makefile_yaml("one"))
    source = path if kind == "file" else trioconf.Directory(folder)
    async with trio_parallel.cache_scope(), trioconf.open_reloader(Recipe, source) as live:
        assert live.current.name == "one"
        path.write_text(makefile_yaml("two"))
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")
    assert True not in calls  # the pure loader never ran in the event loop's process


def _age(directory: Path, seconds: float) -> None:
    """Stamp ``directory`` as last changed ``seconds`` ago (what its entries' history says)."""
    then = time.time() - seconds
    os.utime(directory, (then, then))


@pytest.mark.parametrize("nested", [False, True])
async def test_a_file_that_was_never_there_is_reported_at_once(
    tmp_path: Path, nested: bool
) -> None:
    # Its directory (or, where that is gone too, the nearest one that exists) has not changed
    # for longer than the grace: no save is under way, waiting a minute would only repeat it.
    path = tmp_path / "conf.d" / "app.toml" if nested else tmp_path / "app.toml"
    _age(tmp_path, 120)
    with trio.fail_after(10), pytest.raises(trioconf.MissingSourceError, match="does not exist"):
        async with trioconf.open_reloader(Config, path, missing_grace=60):
            pytest.fail("must not start")


async def test_a_file_missing_from_a_directory_that_just_changed_gets_its_grace(
    tmp_path: Path,
) -> None:
    # The realistic twin: a save under way (the directory changed a moment ago) is waited for,
    # and the file that lands within the grace loads.
    path = tmp_path / "app.toml"
    _age(tmp_path, 0)

    async def save_late() -> None:
        await trio.sleep(0.2)  # the rest of a rename save, after the reloader looked
        path.write_text('name = "late"\n')

    async with trio.open_nursery() as nursery:
        nursery.start_soon(save_late)
        with trio.fail_after(30):
            async with trioconf.open_reloader(Config, path, missing_grace=20) as live:
                assert live.current.name == "late"


@pytest.mark.parametrize("name", ["conf.d", "app.toml", "settings"])
async def test_a_directory_given_as_a_file_is_said_to_be_one_whatever_its_name(
    tmp_path: Path, name: str
) -> None:
    # "conf.d" and "settings" have no known extension: the name must not be blamed.
    folder = tmp_path / name
    folder.mkdir()
    message = f"{folder}: is a directory, not a file"
    with pytest.raises(trioconf.SourceError) as info:
        trioconf.load(Config, folder)
    assert str(info.value) == message
    assert not isinstance(info.value, trioconf.UnknownFormatError)
    with pytest.raises(trioconf.SourceError) as info:
        async with trioconf.open_reloader(Config, folder):
            pass
    assert str(info.value) == message
