"""Restart-only fields (``trioconf.field(restart_only=True)``): a running reloader keeps the value
it started with, the value on disk waits in ``live.restart_pending``, and every other change
applies. Real files, read by a real reloader; ``live.reload()`` says when an edit has been read.

The scenario of the issue: a ``validate`` that refuses port changes used to block every later
change (a rate limit in another file) until the port was reverted on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest
import trio

import trioconf
from trioconf import RestartPending
from trioconf._marks import MASK
from trioconf.testing import ConfigFiles, expect_outcome

pytest_plugins = ["trioconf.pytest_plugin"]


@attrs.frozen
class Server:
    host: str = "0.0.0.0"
    port: int = trioconf.field(default=8080, restart_only=True)


@attrs.frozen
class Limits:
    rate: int = 100


@attrs.frozen
class Config:
    server: Server = Server()
    limits: Limits = Limits()


def refuse_port_changes(new: Config, old: Config | None) -> None:
    if old is not None and new.server.port != old.server.port:
        msg = (
            f"server.port cannot change without a restart ({old.server.port} -> {new.server.port})"
        )
        raise ValueError(msg)


def warnings_about(caplog: pytest.LogCaptureFixture, path: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "trioconf" and r.levelno == logging.WARNING and path in r.getMessage()
    ]


def write_files(files: ConfigFiles, *, port: int, rate: int) -> tuple[Path, Path]:
    server = files.write("server.toml", f"[server]\nport = {port}\n")
    limits = files.write("limits.toml", f"[limits]\nrate = {rate}\n")
    return server, limits


async def test_a_held_port_lets_a_change_in_another_file_apply(
    config_files: ConfigFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioconf")
    server, limits = write_files(config_files, port=8080, rate=100)
    async with trioconf.open_reloader(Config, server, limits, validate=refuse_port_changes) as live:
        with trio.fail_after(15):
            # One edit, two files: the port (restart-only) and the rate limit.
            write_files(config_files, port=9090, rate=200)
            await live.reload()
            assert live.last_error is None  # validate saw the port held: nothing to refuse
            assert live.current == Config(Server(port=8080), Limits(rate=200))
            assert live.restart_pending == (RestartPending("server.port", f"{server}:2", 9090),)
            update = live.history[-1]
            assert isinstance(update, trioconf.Update)
            assert update.changed == {"limits.rate"}  # the held port is no change
            # The one documented case where the snapshot differs from what the files say.
            assert trioconf.load(Config, server, limits).server.port == 9090

            # A later unrelated change applies too; the port still waits, said once only.
            config_files.write("limits.toml", "[limits]\nrate = 300\n")
            await live.reload()
            assert live.current == Config(Server(port=8080), Limits(rate=300))
            assert live.restart_pending == (RestartPending("server.port", f"{server}:2", 9090),)
        (warning,) = warnings_about(caplog, "server.port")
        assert warning == (
            f"restart-only field server.port changed in {server}:2 to 9090: the running value"
            " 8080 stays until the service restarts"
        )


async def test_a_new_waiting_value_is_logged_again_and_a_revert_clears_it(
    config_files: ConfigFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioconf")
    server, limits = write_files(config_files, port=8080, rate=100)
    async with trioconf.open_reloader(Config, server, limits) as live:
        with trio.fail_after(15):
            for port in (9090, 9091):
                config_files.write("server.toml", f"[server]\nport = {port}\n")
                await live.reload()
                waiting = RestartPending("server.port", f"{server}:2", port)
                assert live.restart_pending == (waiting,)
            assert len(warnings_about(caplog, "server.port")) == 2  # one per waiting value

            config_files.write("server.toml", "[server]\nport = 8080\n")  # reverted on disk
            await live.reload()
            assert live.restart_pending == ()
            assert live.version == 1  # nothing else ever changed: nothing was published
    assert "restart-only field server.port no longer waits for a restart" in caplog.messages


async def test_a_change_to_held_fields_only_publishes_nothing(config_files: ConfigFiles) -> None:
    server, limits = write_files(config_files, port=8080, rate=100)
    async with trioconf.open_reloader(Config, server, limits, debounce=0) as live:
        with trio.fail_after(15):
            # Like an unchanged file: the reloader found nothing to apply, and says what waits.
            with pytest.raises(AssertionError, match=r"changed nothing.*waits for a restart"):
                async with expect_outcome(live):
                    config_files.write("server.toml", '[server]\nport = 9090\nhost = "0.0.0.0"\n')
            assert live.version == 1
            assert len(live.history) == 1
            assert live.current == Config()
            assert live.restart_pending == (RestartPending("server.port", f"{server}:2", 9090),)


async def test_the_origin_of_a_held_value_is_the_running_one(config_files: ConfigFiles) -> None:
    server, limits = write_files(config_files, port=8080, rate=100)
    config_files.write("server.toml", '[server]\nhost = "::"\n')  # the port: the default
    async with trioconf.open_reloader(Config, server, limits) as live:
        with trio.fail_after(15):
            config_files.write("server.toml", '[server]\nhost = "::1"\nport = 9090\n')
            await live.reload()
        assert live.current.server == Server(host="::1", port=8080)
        assert live.restart_pending == (RestartPending("server.port", f"{server}:3", 9090),)
        # What runs came from the class's default; only the waiting value is in the file.
        assert live.origin("server.port") == "default"
        assert live.origin("server.host") == f"{server}:2"


@attrs.frozen
class Db:
    user: str = "app"
    password: str = trioconf.field(default="", secret=True, restart_only=True)


@attrs.frozen
class WithSecret:
    db: Db = Db()
    debug: bool = False


async def test_a_secret_waiting_value_is_masked(
    config_files: ConfigFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioconf")
    path = config_files.write("app.toml", '[db]\npassword = "hunter2-running"\n')
    async with trioconf.open_reloader(WithSecret, path) as live:
        with trio.fail_after(15):
            config_files.write("app.toml", 'debug = true\n[db]\npassword = "rotated-waiting"\n')
            await live.reload()
        assert live.current == WithSecret(Db(password="hunter2-running"), debug=True)
        assert live.restart_pending == (RestartPending("db.password", f"{path}:3", MASK),)
        assert "rotated-waiting" not in repr(live.restart_pending)
    assert "hunter2" not in caplog.text
    assert "rotated-waiting" not in caplog.text
    (warning,) = warnings_about(caplog, "db.password")
    assert f"to {MASK}: the running value {MASK} stays" in warning


@attrs.frozen
class Tenant:
    port: int = trioconf.field(default=1, restart_only=True)
    quota: int = 1


@attrs.frozen
class Tenants:
    tenants: dict[str, Tenant] = attrs.field(factory=dict)


async def test_restart_only_fields_inside_the_entries_of_a_keyed_directory(
    config_files: ConfigFiles,
) -> None:
    folder = config_files.path("tenants")
    folder.mkdir()
    acme = folder / "acme.toml"
    acme.write_text("port = 1000\nquota = 1\n")
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Tenants, source) as live:
        with trio.fail_after(15):
            config_files.write("tenants/acme.toml", "port = 2000\nquota = 2\n")
            config_files.write("tenants/beta.toml", "port = 3000\n")
            await live.reload()
            # acme runs: its port is held, its quota applies; beta is new: nothing of it runs.
            assert live.current.tenants == {
                "acme": Tenant(port=1000, quota=2),
                "beta": Tenant(port=3000, quota=1),
            }
            assert live.restart_pending == (RestartPending("tenants.acme.port", str(acme), 2000),)
            update = live.history[-1]
            assert isinstance(update, trioconf.Update)
            assert update.changed == {
                "tenants.acme.quota",
                "tenants.beta.port",
                "tenants.beta.quota",
            }

            config_files.remove("tenants/acme.toml")  # a removed entry is removed
            await live.reload()
            assert live.current.tenants == {"beta": Tenant(port=3000, quota=1)}
            assert live.restart_pending == ()


async def test_the_initial_load_takes_restart_only_values_from_disk(
    config_files: ConfigFiles,
) -> None:
    server, limits = write_files(config_files, port=9999, rate=100)
    assert trioconf.load(Config, server, limits).server.port == 9999
    async with trioconf.open_reloader(Config, server, limits) as live:
        assert live.current.server.port == 9999  # nothing ran before: nothing to hold
        assert live.restart_pending == ()


@attrs.frozen
class Fleet:
    servers: list[Server] = attrs.field(factory=list)
    limits: Limits = Limits()


async def test_restart_only_fields_in_list_items_are_held_by_index(
    config_files: ConfigFiles,
) -> None:
    path = config_files.write("fleet.toml", "[[servers]]\nport = 1\n[[servers]]\nport = 2\n")
    async with trioconf.open_reloader(Fleet, path) as live:
        with trio.fail_after(15):
            # Only the held port of item 0 differs: the list is the running one, no version.
            config_files.write("fleet.toml", "[[servers]]\nport = 10\n[[servers]]\nport = 2\n")
            await live.reload()
            assert live.version == 1
            assert live.restart_pending == (RestartPending("servers[0].port", f"{path}:2", 10),)

            # A host changes too, and a third server appears (nothing of it runs).
            config_files.write(
                "fleet.toml",
                '[[servers]]\nport = 10\nhost = "a"\n[[servers]]\nport = 2\n'
                "[[servers]]\nport = 3\n",
            )
            await live.reload()
            assert live.current.servers == [Server("a", 1), Server(port=2), Server(port=3)]
            update = live.history[-1]
            assert isinstance(update, trioconf.Update)
            assert update.changed == {"servers"}  # a list is reported whole


async def test_a_failed_attempt_leaves_what_waits(config_files: ConfigFiles) -> None:
    server, limits = write_files(config_files, port=8080, rate=100)
    async with trioconf.open_reloader(Config, server, limits) as live:
        with trio.fail_after(15):
            config_files.write("server.toml", "[server]\nport = 9090\n")
            await live.reload()
            waiting = live.restart_pending
            assert waiting == (RestartPending("server.port", f"{server}:2", 9090),)
            config_files.write("server.toml", "[server]\nport = 8080\n")  # a revert...
            config_files.write("limits.toml", "[limits]\nrate = 'many'\n")  # ...in a bad edit
            with pytest.raises(trioconf.ValidationError):
                await live.reload()
            assert live.restart_pending == waiting  # all or nothing: the attempt changed nothing


def _distinct_ports(instance: Pair, attribute: object, value: int) -> None:
    if value == instance.main:
        raise ValueError(f"admin port {value} is the main port")


@attrs.frozen
class Pair:
    main: int = trioconf.field(default=80, restart_only=True)
    admin: int = attrs.field(default=81, validator=_distinct_ports)


async def test_a_class_that_refuses_the_running_value_beside_the_new_ones(
    config_files: ConfigFiles,
) -> None:
    path = config_files.write("pair.toml", "main = 80\nadmin = 81\n")
    async with trioconf.open_reloader(Pair, path) as live:
        with trio.fail_after(15):
            # On disk, main moves to 90 and admin to 80: fine on disk, but main stays 80.
            config_files.write("pair.toml", "main = 90\nadmin = 80\n")
            with pytest.raises(trioconf.ValidationError, match="admin port 80 is the main port"):
                await live.reload()
            assert live.current == Pair()
            assert live.restart_pending == ()
            config_files.write("pair.toml", "main = 90\nadmin = 82\n")  # the reloader goes on
            await live.reload()
            assert live.current == Pair(main=80, admin=82)


async def test_restart_only_fields_in_a_layered_directory(config_files: ConfigFiles) -> None:
    folder = config_files.path("conf.d")
    folder.mkdir()
    (folder / "acme.toml").write_text("[tenants.acme]\nport = 1000\n")
    async with trioconf.open_reloader(Tenants, trioconf.Directory(folder)) as live:
        with trio.fail_after(15):
            config_files.write("conf.d/acme.toml", "[tenants.acme]\nport = 2000\nquota = 5\n")
            await live.reload()
            assert live.current.tenants == {"acme": Tenant(port=1000, quota=5)}
            (waiting,) = live.restart_pending
            assert (waiting.path, waiting.value) == ("tenants.acme.port", 2000)
            assert waiting.source.startswith(str(folder / "acme.toml"))
