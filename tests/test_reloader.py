"""End to end: real files, real watchers, the whole pipeline behind open_reloader."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from support import PATIENCE, open_fds, wait_until, write_atomic

import trioconf

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Http:
    port: int = 8080
    debug: bool = False


@attrs.frozen
class AppConfig:
    name: str
    db: Db = Db()
    http: Http = Http()
    tags: list[str] = attrs.field(factory=list)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n[db]\nport = 1\n')
    return path


async def test_initial_snapshot_version_and_origin(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0) as live:
        assert live.current == AppConfig(name="one", db=Db(port=1))
        assert live.version == 1
        assert live.last_error is None
        assert live.origin("db.port") == f"{cfg}:3"


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_in_place_write_and_rename_save_reload(cfg: Path, backend: str) -> None:
    async with trioconf.open_reloader(
        AppConfig,
        cfg,
        debounce=0,
        backend=backend,
        poll_interval=0.05,  # type: ignore[arg-type]
    ) as live:
        with trio.fail_after(PATIENCE):
            cfg.write_text('name = "two"\n')
            assert (await live.wait_value(lambda c: c.name == "two")).db.port == 5432
            write_atomic(cfg, 'name = "three"\n')
            await live.wait_value(lambda c: c.name == "three")
        assert live.version == 3
        update = live.history[-1]
        assert isinstance(update, trioconf.Update)
        assert update.changed == {"name"}
        assert update.previous is not None
        assert update.previous.name == "two"


async def test_touch_and_identical_rewrite_apply_nothing(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0) as live:
        os.utime(cfg)
        cfg.write_text(cfg.read_text())
        await wait_until(lambda: live.statistics().noops >= 1)
        write_atomic(cfg, 'name = "two"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")
        assert live.version == 2
        stats = live.statistics()
        assert stats.applied == 1
        assert stats.rejected == 0


async def test_bad_edit_keeps_last_good_then_recovers(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0) as live:
        cfg.write_text('name = "two"\n[db]\nport = "not a number"\n')
        await wait_until(lambda: live.last_error is not None)
        error = live.last_error
        assert isinstance(error, trioconf.ValidationError)
        (field,) = error.errors
        assert field.path == "db.port"
        assert field.source == str(cfg)
        assert field.line == 3
        assert live.current.name == "one"
        assert live.version == 1

        cfg.write_text('name = "two"\n[db\n')
        await wait_until(lambda: isinstance(live.last_error, trioconf.ParseError))
        assert isinstance(live.last_error, trioconf.ParseError)
        assert live.last_error.source == str(cfg)
        assert live.last_error.line == 2

        write_atomic(cfg, 'name = "fixed"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "fixed")
        assert live.last_error is None
        assert live.version == 2
        assert [type(r).__name__ for r in live.history] == [
            "Update",
            "Failure",
            "Failure",
            "Update",
        ]


async def test_validate_sees_old_and_can_reject(cfg: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def validate(new: AppConfig, old: AppConfig | None) -> None:
        seen.append((new.name, None if old is None else old.name))
        if new.db.port == 0:
            msg = "port 0 is not allowed"
            raise ValueError(msg)

    async with trioconf.open_reloader(AppConfig, cfg, debounce=0, validate=validate) as live:
        cfg.write_text('name = "x"\n[db]\nport = 0\n')
        await wait_until(lambda: live.last_error is not None)
        assert isinstance(live.last_error, trioconf.RejectedError)
        assert isinstance(live.last_error.__cause__, ValueError)
        assert live.current.name == "one"
    assert seen == [("one", None), ("x", "one")]


async def test_delete_and_recreate_within_grace_is_not_an_error(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0, missing_grace=5.0) as live:
        cfg.unlink()
        await trio.sleep(0.05)  # the file really is gone for a while
        cfg.write_text('name = "back"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "back")
        assert live.last_error is None
        assert live.statistics().rejected == 0


async def test_deleted_for_good_is_reported_and_last_good_kept(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0, missing_grace=0.1) as live:
        cfg.unlink()
        await wait_until(lambda: live.last_error is not None)
        assert isinstance(live.last_error, trioconf.MissingSourceError)
        assert live.current.name == "one"
        cfg.write_text('name = "again"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "again")
        assert live.last_error is None


async def test_directory_deleted_and_recreated(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    cfg = folder / "app.toml"
    cfg.write_text('name = "one"\n')
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0, missing_grace=0.1) as live:
        shutil.rmtree(folder)
        await wait_until(lambda: live.last_error is not None)
        folder.mkdir()
        cfg.write_text('name = "two"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")


async def test_kubernetes_configmap_data_swap(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    mount.mkdir()
    first = mount / "..2026_11_25_01"
    first.mkdir()
    (first / "app.yaml").write_text("name: one\n")
    os.symlink(first.name, mount / "..data")
    os.symlink("..data/app.yaml", mount / "app.yaml")
    async with trioconf.open_reloader(AppConfig, mount / "app.yaml", debounce=0) as live:
        assert live.current.name == "one"
        second = mount / "..2026_11_25_02"
        second.mkdir()
        (second / "app.yaml").write_text("name: two\n")
        os.symlink(second.name, mount / "..data_tmp")
        os.replace(mount / "..data_tmp", mount / "..data")
        shutil.rmtree(first)
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")
        assert live.origin("name") == f"{mount / 'app.yaml'}:1"


async def test_symlink_to_a_file_in_another_directory(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "app.json"
    target.write_text('{"name": "one"}')
    link_dir = tmp_path / "etc"
    link_dir.mkdir()
    os.symlink(target, link_dir / "app.json")
    async with trioconf.open_reloader(AppConfig, link_dir / "app.json", debounce=0) as live:
        write_atomic(target, '{"name": "two"}')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "two")


async def test_layers_override_and_removed_keys_disappear(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n[db]\nhost = "db1"\nport = 1\n')
    local = tmp_path / "local.yaml"
    local.write_text("db:\n  port: 2\n")
    async with trioconf.open_reloader(AppConfig, base, local, debounce=0) as live:
        assert live.current.db == Db(host="db1", port=2)
        assert live.origin("db.port") == f"{local}:2"
        assert live.origin("db.host") == f"{base}:3"
        write_atomic(local, "http:\n  debug: true\n")  # db.port removed from the top layer
        with trio.fail_after(PATIENCE):
            cfg = await live.wait_value(lambda c: c.http.debug)
        assert cfg.db == Db(host="db1", port=1)
        assert live.origin("db.port") == f"{base}:4"


async def test_optional_layer_may_come_and_go(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n')
    local = tmp_path / "local.toml"
    async with trioconf.open_reloader(
        AppConfig, base, trioconf.File(local, optional=True), debounce=0
    ) as live:
        local.write_text('name = "local"\n')
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "local")
        local.unlink()
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "base")
        assert live.last_error is None


async def test_env_overrides_files_with_typed_values(cfg: Path) -> None:
    environ = {"APP_DB__PORT": "5433", "APP_HTTP__DEBUG": "yes", "APP_TAGS": '["a", "b"]'}
    async with trioconf.open_reloader(AppConfig, cfg, env_prefix="APP_", environ=environ) as live:
        assert live.current.db.port == 5433
        assert live.current.http.debug is True
        assert live.current.tags == ["a", "b"]
        assert live.origin("db.port").startswith("env APP_")
        environ["APP_DB__PORT"] = "6000"
        await live.reload()
        assert live.current.db.port == 6000


async def test_bad_env_value_fails_the_start_plainly(cfg: Path) -> None:
    with pytest.raises(trioconf.ValidationError) as info:
        async with trioconf.open_reloader(
            AppConfig, cfg, env_prefix="APP_", environ={"APP_DB__PORT": "eighty"}
        ):
            pytest.fail("must not start")
    assert info.value.errors[0].path == "db.port"


async def test_bad_start_raises_plain_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": 1}')
    with pytest.raises(trioconf.ValidationError):
        async with trioconf.open_reloader(AppConfig, bad):
            pytest.fail("must not start")
    with pytest.raises(trioconf.MissingSourceError):
        async with trioconf.open_reloader(AppConfig, tmp_path / "none.toml", missing_grace=0):
            pytest.fail("must not start")
    async with trio.open_nursery() as nursery:
        with pytest.raises(trioconf.ValidationError):
            await nursery.start(trioconf.run_reloader, AppConfig, bad)


async def test_exceptions_from_the_block_arrive_unwrapped(cfg: Path) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom) as info:
        async with trioconf.open_reloader(AppConfig, cfg):
            raise Boom
    assert not isinstance(info.value, BaseExceptionGroup)


async def test_reload_surfaces_the_attempts_error(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=10.0, max_debounce=10.0) as live:
        cfg.write_text("name = \n")
        with pytest.raises(trioconf.ParseError):
            await live.reload()  # does not wait for the 10 s debounce
        assert live.current.name == "one"
        cfg.write_text('name = "two"\n')
        await live.reload()
        assert live.current.name == "two"


async def test_burst_of_writes_converges_on_the_last(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0.02, max_debounce=0.2) as live:
        for i in range(200):
            cfg.write_text(f'name = "n{i}"\n')
            if i % 20 == 0:
                await trio.sleep(0.001)
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "n199")
        stats = live.statistics()
        assert stats.applied < 200  # coalesced
        assert live.last_error is None or live.current.name == "n199"


async def test_view_wakes_only_when_its_part_changes(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0) as live:
        with live.open_view(lambda c: c.db) as db:
            seen: list[Db] = []
            async with trio.open_nursery() as nursery:

                async def consume() -> None:
                    async for value in db.updates():
                        seen.append(value)

                nursery.start_soon(consume)
                write_atomic(cfg, 'name = "two"\n[db]\nport = 1\n')
                with trio.fail_after(PATIENCE):
                    await live.wait_value(lambda c: c.name == "two")
                write_atomic(cfg, 'name = "two"\n[db]\nport = 2\n')
                with trio.fail_after(PATIENCE):
                    await db.wait_value(lambda d: d.port == 2)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
            assert seen == [Db(port=1), Db(port=2)]
            assert db.version == 2


async def test_updates_end_and_waits_fail_when_closed(cfg: Path) -> None:
    async with trioconf.open_reloader(AppConfig, cfg) as live:
        pass
    assert [c async for c in live.updates()] == []
    with pytest.raises(trio.ClosedResourceError):
        await live.wait_value(lambda c: False)


async def test_close_leaves_no_file_descriptor(cfg: Path) -> None:
    before = open_fds()
    for backend in ("inotify", "poll"):
        async with trioconf.open_reloader(AppConfig, cfg, backend=backend) as live:  # type: ignore[arg-type]
            assert live.version == 1
    assert open_fds() == before


async def test_run_reloader_in_callers_nursery(cfg: Path) -> None:
    async with trio.open_nursery() as nursery:
        live = await nursery.start(trioconf.run_reloader, AppConfig, cfg)
        assert live.current.name == "one"
        nursery.cancel_scope.cancel()
    assert live.closed


async def test_slow_replacement_after_a_delete_is_waited_for_not_reported(cfg: Path) -> None:
    """Delete, pause, then write the new file slowly: within the grace, nothing half is used."""
    async with trioconf.open_reloader(AppConfig, cfg, debounce=0, missing_grace=3.0) as live:
        cfg.unlink()
        await trio.sleep(0.3)  # the writer really does pause between the delete and the write
        text = 'name = "replaced"\n[db]\nport = 7\n'
        with open(cfg, "x") as f:
            f.write(text[:9])  # 'name = "r': not a document yet
            f.flush()
            await trio.sleep(0.5)  # the writer is slow: the reader sees the half file meanwhile
            f.write(text[9:])
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "replaced")
        assert live.statistics().rejected == 0
        assert live.last_error is None


def _task_names() -> set[str]:
    names: set[str] = set()

    def walk(task: trio.lowlevel.Task) -> None:
        names.add(task.name.rpartition(".")[2])
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(trio.lowlevel.current_root_task())
    return names


@attrs.frozen
class _Port:
    port: int = 0


class _Stepping(trio.abc.Instrument):
    """The names of the tasks that take a step while ``armed``."""

    def __init__(self) -> None:
        self.armed = False
        self.names: set[str] = set()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.armed:
            self.names.add(task.name.rpartition(".")[2])


@pytest.mark.parametrize("debounce", [0, 0.05])
async def test_at_debounce_0_a_save_is_read_in_the_updaters_task_alone(
    tmp_path: Path, debounce: float
) -> None:
    """With a zero window a watcher task and a debouncer task between a report and its read
    are task steps for nothing: the updater waits on the watcher's descriptor and runs both
    (``_fused``), so no other trioconf task takes a step for a save; changes still arrive,
    and ``reload()`` (which travels on the channel, through the relay) still wakes it."""
    path = tmp_path / "app.toml"
    path.write_text("port = 0\n")
    stepping = _Stepping()
    async with trioconf.open_reloader(_Port, path, debounce=debounce) as live:
        names = _task_names()
        assert "run_updater" in names
        assert ("run_debouncer" in names) == (debounce > 0)
        trio.lowlevel.add_instrument(stepping)
        try:
            for n in range(1, 4):
                stepping.armed = True
                write_atomic(path, f"port = {n}\n")
                with trio.fail_after(PATIENCE):
                    await live.wait_value(lambda c, n=n: c.port == n)
                stepping.armed = False
        finally:
            trio.lowlevel.remove_instrument(stepping)
        # The watcher's task: run_watcher itself, or InotifyWatcher.run in its nursery.
        assert bool({"run_watcher", "run"} & stepping.names) == (debounce > 0), stepping.names
        assert "run_updater" in stepping.names
        path.write_text("port = 9\n")  # no report waited for: the request reads it
        with trio.fail_after(PATIENCE):
            await live.reload()
        assert live.current.port == 9
