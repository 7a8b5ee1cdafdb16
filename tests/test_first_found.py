"""Search paths: ``trioconf.first_found``, its expansion, its choice, and its switches, with
real files and both watcher backends."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from support import PATIENCE, wait_until, write_atomic

import trioconf
from trioconf._cli import main
from trioconf._converter import make_converter
from trioconf._inbox import Batch, Inbox
from trioconf._load import Loader, load_with_origins
from trioconf._search import expand
from trioconf._settings import Options
from trioconf._updater import refresh

BACKENDS = ["inotify", "poll"]


@attrs.frozen
class Config:
    name: str
    port: int = 8080


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three locations, highest precedence first, in three folders (the last one missing)."""
    folders = [tmp_path / "here", tmp_path / "etc", tmp_path / "later"]
    for folder in folders[:2]:
        folder.mkdir()
    here, etc, later = (folder / "app.toml" for folder in folders)
    return here, etc, later


def switches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "configuration file is now" in r.message]


# -- the value and its expansion --------------------------------------------------------------


def test_first_found_keeps_the_locations_as_written() -> None:
    search = trioconf.first_found("./app.toml", Path("/etc/app/app.toml"), optional=True)
    assert search == trioconf.FirstFound(("./app.toml", "/etc/app/app.toml"), optional=True)
    assert search.name == "first_found(./app.toml, /etc/app/app.toml)"
    hash(search)  # frozen: usable as any source description


@pytest.mark.parametrize(
    ("locations", "kw", "error"),
    [
        ((), {}, ValueError),
        ((3,), {}, TypeError),
        (("",), {}, ValueError),
        (("a.toml",), {"format": "ini"}, ValueError),
        (("a.toml",), {"optional": "yes"}, TypeError),
    ],
)
def test_usage_mistakes_are_plain_errors(
    locations: tuple[object, ...], kw: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        trioconf.first_found(*locations, **kw)  # type: ignore[arg-type]


def test_a_list_of_locations_is_told_to_be_spread() -> None:
    with pytest.raises(TypeError, match=r"separate arguments: first_found\(\*locations\)"):
        trioconf.first_found(["./app.toml", "/etc/app/app.toml"])  # type: ignore[arg-type]


def test_variables_and_home_expand_from_the_given_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    search = trioconf.first_found(
        "./app.toml",
        "$XDG_CONFIG_HOME/app/app.toml",
        "${XDG_CONFIG_HOME}/app/app.toml",  # the same place again: looked at once
        "$EMPTY/app.toml",
        "~/.config/app/app.toml",
        "/etc/$APP/app.toml",
    )
    environ = {"XDG_CONFIG_HOME": "/xdg", "EMPTY": "", "HOME": "/home/u", "APP": "shop"}
    expanded = expand(search, environ)
    assert expanded.paths == (
        tmp_path / "app.toml",
        Path("/xdg/app/app.toml"),
        Path("/home/u/.config/app/app.toml"),
        Path("/etc/shop/app.toml"),
    )
    assert expanded.skipped == ("$EMPTY/app.toml (EMPTY is not set)",)
    # Unset: the location is skipped, never read as /app/app.toml.
    unset = expand(search, {"HOME": "/home/u", "APP": "shop"})
    assert Path("/app/app.toml") not in unset.paths
    assert unset.skipped[0] == "$XDG_CONFIG_HOME/app/app.toml (XDG_CONFIG_HOME is not set)"


# -- one load -----------------------------------------------------------------------------------


def test_the_first_location_holding_a_file_is_the_one_read(
    places: tuple[Path, Path, Path],
) -> None:
    here, etc, later = places
    etc.write_text('name = "etc"\nport = 1\n')
    search = trioconf.first_found(str(later), str(here), str(etc))
    config, origins = load_with_origins(Config, search)
    assert config == Config("etc", 1)
    assert origins["port"] == str(etc)
    here.write_text('name = "here"\n')
    config, origins = load_with_origins(Config, search)
    assert config == Config("here")  # one layer: nothing of etc's is merged in
    assert origins["name"] == str(here)


def test_a_broken_file_is_reported_not_read_past(places: tuple[Path, Path, Path]) -> None:
    here, etc, _ = places
    etc.write_text('name = "etc"\n')
    here.write_text('name = "here"\nport = "x"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, trioconf.first_found(str(here), str(etc)))
    (field,) = info.value.errors
    assert (field.source, field.line, field.path) == (str(here), 2, "port")


def test_nothing_found_names_every_location_tried(places: tuple[Path, Path, Path]) -> None:
    here, etc, later = places
    search = trioconf.first_found(str(here), "$NOT_SET_ANYWHERE/app.toml", str(etc), str(later))
    with pytest.raises(trioconf.MissingSourceError) as info:
        trioconf.load(Config, search, environ={})
    message = str(info.value)
    for path in (here, etc, later):
        assert str(path) in message
    assert "$NOT_SET_ANYWHERE/app.toml (NOT_SET_ANYWHERE is not set)" in message
    optional = trioconf.first_found(str(here), str(etc), optional=True)
    assert trioconf.load(Config, optional, env_prefix="APP_", environ={"APP_NAME": "env"}) == (
        Config("env")
    )


# -- the choice, driven by reports, in virtual time -----------------------------------------


def _loader(search: trioconf.FirstFound, grace: float) -> Loader[Config]:
    return Loader(Config, [search], make_converter(), Options(missing_grace=grace))


async def test_the_file_read_hands_over_only_after_the_grace(
    places: tuple[Path, Path, Path],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc, _ = places
    here.write_text('name = "here"\n')
    etc.write_text('name = "etc"\n')
    load = _loader(trioconf.first_found(str(here), str(etc)), grace=2.0)
    await load.refresh(None)
    assert load.build()[0].name == "here"
    assert load.paths == (here, etc)  # every location is watched
    here.unlink()
    start = trio.current_time()
    await refresh(Batch(frozenset({here})), load, Inbox())  # no report of it comes back
    assert trio.current_time() - start == pytest.approx(2.0)
    config, origins = load.build()
    assert config.name == "etc"
    assert origins["name"] == str(etc)
    assert switches(caplog) == [f"configuration file is now {etc} ({here} is gone)"]


async def test_a_rename_save_of_the_file_read_does_not_switch(
    places: tuple[Path, Path, Path],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc, _ = places
    here.write_text('name = "here"\n')
    etc.write_text('name = "etc"\n')
    load = _loader(trioconf.first_found(str(here), str(etc)), grace=2.0)
    await load.refresh(None)
    here.rename(here.with_name("app.toml~"))  # vim's rename save: the old file moves away
    inbox = Inbox()
    async with trio.open_nursery() as nursery:

        async def editor() -> None:
            await trio.sleep(0.5)
            here.write_text('name = "saved"\n')
            inbox.put([here])  # its close, as the watcher reports it
            await trio.sleep(0.1)
            inbox.put([etc])  # and something else meanwhile: still no switch

        nursery.start_soon(editor)
        _, changed = await refresh(Batch(frozenset({here})), load, inbox)
    assert changed
    assert load.build()[0].name == "saved"
    assert switches(caplog) == []


async def test_a_file_of_higher_precedence_takes_over_at_once(
    places: tuple[Path, Path, Path],
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc, later = places
    etc.write_text('name = "etc"\n')
    load = _loader(trioconf.first_found(str(later), str(here), str(etc)), grace=2.0)
    await load.refresh(None)
    assert load.build()[0].name == "etc"
    here.write_text('name = "here"\n')
    start = trio.current_time()
    assert await load.refresh(frozenset({here}))
    assert trio.current_time() == start
    assert load.build()[0].name == "here"
    # A file in a lower place changing is no change of what is read.
    etc.write_text('name = "etc2"\n')
    assert not await load.refresh(frozenset({etc}))
    assert switches(caplog) == [
        f"configuration file is now {here} (it takes precedence over {etc})"
    ]


# -- the whole pipeline, both backends --------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_both_directions_of_a_switch(
    places: tuple[Path, Path, Path], backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc, later = places
    etc.write_text('name = "etc"\n')
    search = trioconf.first_found(str(later), str(here), str(etc))
    async with trioconf.open_reloader(
        Config,
        search,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
        missing_grace=0.5,
    ) as live:
        assert live.origin("name") == f"{etc}:1"
        with trio.fail_after(PATIENCE):
            # A folder that did not exist at start, then its file: it takes over.
            later.parent.mkdir()
            write_atomic(later, 'name = "later"\nport = 2\n')
            await live.wait_value(lambda c: c.name == "later")
            assert live.origin("port") == f"{later}:2"
            # Gone: the next location that holds a file takes over, after the grace.
            here.write_text('name = "here"\n')
            await wait_until(lambda: live.statistics().noops >= 1)  # lower: nothing applies
            assert live.current.name == "later"
            later.unlink()
            start = trio.current_time()
            await live.wait_value(lambda c: c.name == "here")
            assert trio.current_time() - start >= 0.5
            assert live.origin("name") == f"{here}:1"
            here.unlink()
            await live.wait_value(lambda c: c.name == "etc")
    assert switches(caplog) == [
        f"configuration file is now {later} (it takes precedence over {etc})",
        f"configuration file is now {here} ({later} is gone)",
        f"configuration file is now {etc} ({here} is gone)",
    ]
    assert [c.name for c in (u.config for u in live.history)] == ["etc", "later", "here", "etc"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_editors_rename_save_does_not_switch(
    places: tuple[Path, Path, Path], backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc, _ = places
    here.write_text('name = "here"\n')
    etc.write_text('name = "etc"\n')
    search = trioconf.first_found(str(here), str(etc))
    async with trioconf.open_reloader(
        Config,
        search,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
        missing_grace=5.0,
    ) as live:
        backup = here.with_name("app.toml~")
        here.rename(backup)  # vim with backupcopy=no: the file moves away...
        await trio.sleep(0.3)  # ...long enough for any watcher to see it gone
        here.write_text('name = "saved"\n')  # ...the new one is written...
        backup.unlink()  # ...and the backup removed
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.name == "saved")
    assert [u.config.name for u in live.history] == ["here", "saved"]
    assert switches(caplog) == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_errors_name_the_file_read_and_its_line(
    places: tuple[Path, Path, Path], backend: str
) -> None:
    here, etc, _ = places
    etc.write_text('name = "etc"\n')
    search = trioconf.first_found(str(here), str(etc))
    async with trioconf.open_reloader(
        Config,
        search,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
    ) as live:
        etc.write_text('name = "etc"\nport = "many"\n')
        await wait_until(lambda: live.last_error is not None)
        assert isinstance(live.last_error, trioconf.ValidationError)
        (field,) = live.last_error.errors
        assert (field.source, field.line) == (str(etc), 2)
        assert live.current.name == "etc"


async def test_nothing_found_at_start_is_the_reloaders_plain_error(
    places: tuple[Path, Path, Path],
) -> None:
    here, etc, _ = places
    with pytest.raises(trioconf.MissingSourceError, match=str(here)):
        async with trioconf.open_reloader(Config, trioconf.first_found(str(here), str(etc))):
            pass  # pragma: no cover


async def test_run_reloader_takes_it_too(places: tuple[Path, Path, Path]) -> None:
    here, etc, _ = places
    etc.write_text('name = "etc"\n')
    async with trio.open_nursery() as nursery:
        live = await nursery.start(
            trioconf.run_reloader, Config, trioconf.first_found(str(here), str(etc))
        )
        assert live.origin("name") == f"{etc}:1"
        nursery.cancel_scope.cancel()


# -- the command line ---------------------------------------------------------------------------


def test_the_command_line_searches_too(
    places: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    here, etc, _ = places
    etc.write_text('name = "etc"\n')
    (tmp_path / "ffschema.py").write_text(
        "import attrs\n@attrs.frozen\nclass Config:\n    name: str\n    port: int = 8080\n"
    )
    monkeypatch.chdir(tmp_path)
    schema = ["--schema", "ffschema.py:Config"]
    argv = ["check", "--first-found", str(here), "--first-found", str(etc), "--print", *schema]
    assert main(argv) == 0
    assert f"# {etc}:1" in capsys.readouterr().out
    assert main(["check", *schema]) == 2  # neither FILE nor --first-found
    assert "--first-found" in capsys.readouterr().err
    os.unlink(etc)
    assert main(["check", "--first-found", str(here), "--first-found", str(etc), *schema]) == 1
    assert "no file in any location" in capsys.readouterr().err
