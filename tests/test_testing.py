"""``trioconf.testing`` and its pytest plugin (issue 10, "Testing helpers"): a static live value
for unit tests, an outcome armed before the change, files written as tools write them."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.lowlevel

import trioconf
from trioconf.testing import ConfigFiles, expect_outcome, static

pytest_plugins = ["trioconf.pytest_plugin"]


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Config:
    name: str = "svc"
    db: Db = Db()


async def test_a_static_live_value_is_driven_by_the_test() -> None:
    live = static(Config())
    assert (live.version, live.current) == (1, Config())
    seen: list[Db] = []

    async def follow_db() -> None:  # a task under test: it takes a View
        with live.open_view(lambda c: c.db) as db:
            async for value in db.updates():
                seen.append(value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow_db)
        await trio.testing.wait_all_tasks_blocked()
        live.set(Config(name="other"))  # no db change: the view does not wake
        update = live.set(Config(name="other", db=Db(port=6000)))
        with trio.fail_after(10):
            assert await live.wait_value(lambda c: c.db.port == 6000) == update.config
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [Db(), Db(port=6000)]
        assert update.changed == frozenset({"db.port"})
        failure = live.fail(trioconf.RejectedError("ValueError: no"))
        assert live.last_error is failure.error
        assert live.current.db.port == 6000
        await live.reload()  # nothing to read: returns
        live.request_reload()
        live.close()
    with pytest.raises(trio.ClosedResourceError):
        await live.wait_value(lambda c: False)
    with pytest.raises(trio.ClosedResourceError):
        live.set(Config())


async def test_expect_outcome_sees_an_applied_change_at_debounce_0(
    config_files: ConfigFiles,
) -> None:
    path = config_files.write("app.toml", 'name = "a"\n')
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        for mode in ("rename", "inplace"):
            with trio.fail_after(10):
                async with expect_outcome(live) as outcome:
                    config_files.write("app.toml", f'name = "{mode}"\n', mode=mode)  # type: ignore[arg-type]
                    # The fastest reload: over before the block ends. Armed at its start, the
                    # wait still sees it.
                    await live.wait_value(lambda c, mode=mode: c.name == mode)
            assert outcome.applied
            assert outcome.error is None
            assert live.current.name == mode


async def test_expect_outcome_says_what_was_rejected(config_files: ConfigFiles) -> None:
    path = config_files.write("app.toml", 'name = "a"\n')
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        with trio.fail_after(10):
            async with expect_outcome(live) as outcome:
                config_files.write("app.toml", "name = 5\n")
        assert not outcome.applied
        assert isinstance(outcome.error, trioconf.ValidationError)
        assert "name" in str(outcome.error)


async def test_expect_outcome_fails_clearly_when_the_edit_changed_nothing(
    config_files: ConfigFiles,
) -> None:
    path = config_files.write("app.toml", 'name = "a"\n')
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        with trio.fail_after(10), pytest.raises(AssertionError, match="changed nothing"):
            async with expect_outcome(live):
                config_files.write("app.toml", 'name = "a"\n')  # the same bytes
        with trio.fail_after(10), pytest.raises(AssertionError, match="changed nothing"):
            async with expect_outcome(live):
                config_files.write("app.toml", 'name = "a"  # a comment\n')  # the same config


def test_config_files_write_as_tools_do(config_files: ConfigFiles) -> None:
    path = config_files.write("app.toml", "a = 1\n")
    inode = path.stat().st_ino
    config_files.write("app.toml", "a = 2\n", mode="inplace")
    assert (path.read_text(), path.stat().st_ino) == ("a = 2\n", inode)  # same file
    config_files.write("app.toml", "a = 3\n")
    assert path.read_text() == "a = 3\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["app.toml"]  # no temp left
    with pytest.raises(ValueError, match="mode must be"):
        config_files.write("app.toml", "", mode="append")  # type: ignore[arg-type]
    config_files.remove("app.toml")
    assert not path.exists()
