"""``.env`` files: ``trioconf.DotEnv`` and ``env_file=``, parsed by python-dotenv, typed like
environment variables, watched like any file."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import attrs
import pytest
import trio
from support import wait_until

import trioconf
from trioconf._load import load_with_origins
from trioconf._origins import origin_of
from trioconf.testing import expect_outcome

SECRET = "pa$$w0rd-never-shown"


@attrs.frozen
class DB:
    host: str = "localhost"
    port: int = 5432
    password: trioconf.SecretStr = trioconf.SecretStr("")


@attrs.frozen
class Config:
    db: DB = DB()
    debug: bool = False
    greeting: str = ""


def test_values_are_typed_per_field_and_origins_name_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# database\n"
        "\n"
        "APP_DB__PORT=5433\n"
        "export APP_DEBUG=yes\n"
        "APP_GREETING='hello  world' # a comment\n"
        'APP_DB__HOST="db\n'
        'example"\n'
        "OTHER=ignored\n"
    )
    config, origins = load_with_origins(Config, trioconf.DotEnv(env, "APP_"), environ={})
    assert config == Config(DB(host="db\nexample", port=5433), debug=True, greeting="hello  world")
    assert origin_of(config, origins, "db.port") == f"{env}:3"
    assert origin_of(config, origins, "debug") == f"{env}:4"
    assert origin_of(config, origins, "db.host") == f"{env}:6"


def test_the_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DB__PORT=5433\nAPP_DB__HOST=from-file\n")
    config, origins = load_with_origins(
        Config, env_prefix="APP_", env_file=env, environ={"APP_DB__PORT": "6000"}
    )
    assert (config.db.port, config.db.host) == (6000, "from-file")
    assert origin_of(config, origins, "db.port") == "env APP_DB__PORT"
    assert origin_of(config, origins, "db.host") == f"{env}:2"


def test_env_file_comes_after_the_files_and_needs_env_prefix(tmp_path: Path) -> None:
    toml = tmp_path / "app.toml"
    toml.write_text("[db]\nport = 1\nhost = 'toml'\n")
    env = tmp_path / ".env"
    env.write_text("APP_DB__PORT=2\n")
    config = trioconf.load(Config, toml, env_prefix="APP_", env_file=env, environ={})
    assert (config.db.port, config.db.host) == (2, "toml")
    with pytest.raises(ValueError, match="env_file needs env_prefix"):
        trioconf.load(Config, toml, env_file=env)
    with pytest.raises(TypeError, match="env_file must be a path"):
        trioconf.load(Config, env_prefix="APP_", env_file=3)  # type: ignore[arg-type]


def test_a_missing_env_file_is_optional_by_default(tmp_path: Path) -> None:
    absent = tmp_path / ".env"
    assert trioconf.load(Config, env_prefix="APP_", env_file=absent, environ={}) == Config()
    with pytest.raises(trioconf.MissingSourceError, match="does not exist"):
        trioconf.load(Config, trioconf.DotEnv(absent, "APP_", optional=False), environ={})


def test_a_line_dotenv_cannot_parse_is_a_parse_error_with_its_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"APP_DEBUG=1\n\nAPP_DB__PASSWORD='{SECRET}\nAPP_DB__PORT=3\n")
    with pytest.raises(trioconf.ParseError) as info:
        trioconf.load(Config, env_prefix="APP_", env_file=env, environ={})
    assert str(info.value).startswith(f"{env}:3: ")
    assert (info.value.source, info.value.line) == (str(env), 3)
    assert SECRET not in str(info.value)


def test_bad_values_name_file_line_and_field_and_secrets_stay_hidden(tmp_path: Path) -> None:
    def four_digits(_: object, __: object, pin: trioconf.SecretStr) -> None:
        if not pin.get_secret_value().isdigit():
            raise ValueError(f"bad pin {pin.get_secret_value()}")  # quotes it: trioconf must not

    @attrs.frozen
    class Strict:
        pin: trioconf.SecretStr = attrs.field(validator=four_digits)

    env = tmp_path / ".env"
    env.write_text(f"APP_DB__PASSWORD={SECRET}\nAPP_DB__PORT=abc\n")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, env_prefix="APP_", env_file=env, environ={})
    assert [str(e) for e in info.value.errors] == [f"{env}:2: db.port: expected an int, got 'abc'"]
    env.write_text(f"APP_PIN={SECRET}\n")
    with pytest.raises(trioconf.ValidationError) as caught:
        trioconf.load(Strict, env_prefix="APP_", env_file=env, environ={})
    (error,) = caught.value.errors
    assert (error.source, error.line, error.path) == (str(env), 1, "pin")
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.errors)


def test_unknown_names_are_warned_about_or_refused_with_strict_env(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DEBUG=1\nAPP_DB__PROT=5\n")
    with caplog.at_level(logging.WARNING, logger="trioconf"):
        assert trioconf.load(Config, env_prefix="APP_", env_file=env, environ={}).debug
    assert f"ignoring APP_DB__PROT in {env}:2" in caplog.text
    assert "did you mean APP_DB__PORT?" in caplog.text
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, env_prefix="APP_", env_file=env, environ={}, strict_env=True)
    (error,) = info.value.errors
    assert str(error).startswith(f"{env}:2: db.prot: APP_DB__PROT in {env}:2 matches no field")


def test_expansion_is_off_by_default_and_python_dotenv_s_when_on(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "APP_DB__HOST=db.${DOMAIN}\n"
        "APP_GREETING=${APP_DB__HOST}:${PORT:-5432}\n"
        "APP_DB__PASSWORD=${NOT_SET}x\n"
    )
    environ = {"DOMAIN": "example.org"}
    plain = trioconf.load(Config, trioconf.DotEnv(env, "APP_"), environ=environ)
    assert plain.db.host == "db.${DOMAIN}"
    assert plain.greeting == "${APP_DB__HOST}:${PORT:-5432}"
    source = trioconf.DotEnv(env, "APP_", expand=True)
    config = trioconf.load(Config, source, environ=environ)
    assert config.db.host == "db.example.org"  # from the environment
    assert config.greeting == "db.example.org:5432"  # an earlier line, and a default
    assert config.db.password == trioconf.SecretStr("x")  # unset: empty
    # The environment wins over the file's own line, as the layers do.
    config = trioconf.load(Config, source, environ={**environ, "APP_DB__HOST": "env-host"})
    assert config.greeting == "env-host:5432"


def test_dotenv_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="DotEnv prefix must be a string"):
        trioconf.DotEnv(".env", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expand must be True or False"):
        trioconf.DotEnv(".env", "APP_", expand="yes")  # type: ignore[arg-type]
    assert trioconf.DotEnv(".env", "APP_").path == Path.cwd() / ".env"


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_an_edit_is_applied_and_a_bad_line_keeps_the_last_good(
    tmp_path: Path, backend: str
) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DB__PORT=5433\n")
    async with trioconf.open_reloader(
        Config,
        env_prefix="APP_",
        env_file=env,
        environ={},
        debounce=0.05,
        backend=backend,
        poll_interval=0.05,
    ) as live:
        assert live.current.db.port == 5433
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.write_text("APP_DB__PORT=5434\n")
        assert outcome.applied
        assert live.current.db.port == 5434
        assert live.origin("db.port") == f"{env}:1"
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.write_text(f'APP_DB__PORT=6000\nAPP_DB__PASSWORD="{SECRET}\n')
        assert not outcome.applied
        assert isinstance(live.last_error, trioconf.ParseError)
        assert str(live.last_error).startswith(f"{env}:2: ")
        assert SECRET not in str(live.last_error)
        assert live.current.db.port == 5434  # the last good snapshot stays
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.write_text("# moved\nAPP_DB__PORT=7000\n")
        assert outcome.applied
        assert live.current.db.port == 7000
        assert live.origin("db.port") == f"{env}:2"


@pytest.mark.parametrize("backend", ["inotify", "poll"])
@pytest.mark.parametrize("editor", ["vim", "sed"])
async def test_editors_saves_are_seen(tmp_path: Path, backend: str, editor: str) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DB__PORT=5433\nAPP_DEBUG=no\n")
    if editor == "vim":
        # backupskip= : under /tmp vim would otherwise write in place (FIELD.md).
        command = [
            "vim", "-Es", "-u", "NONE", "-c", "set backupskip= backupcopy=no",
            "-c", "%s/5433/5999/", "-c", "wq", str(env),
        ]  # fmt: skip
    else:
        command = ["sed", "-i", "s/5433/5999/", str(env)]
    async with trioconf.open_reloader(
        Config, trioconf.DotEnv(env, "APP_"), environ={}, backend=backend, poll_interval=0.05
    ) as live:
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                await trio.run_process(command, stdin=subprocess.DEVNULL)
        assert outcome.applied
        assert live.current.db.port == 5999
        assert live.origin("db.port") == f"{env}:1"


async def test_a_rename_save_is_no_gap_and_a_removal_drops_the_layer(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DB__PORT=5433\n")
    async with trioconf.open_reloader(
        Config, env_prefix="APP_", env_file=env, environ={}, debounce=0, missing_grace=0.3
    ) as live:
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                # vim's default save: the old file moved away, then the new one written. In
                # between, nothing must be published without the .env's values.
                attempts = live.statistics().reloads
                os.rename(env, tmp_path / ".env~")
                await wait_until(lambda: live.statistics().reloads > attempts)  # seen gone
                env.write_text("APP_DB__PORT=5434\n")
        assert outcome.applied
        assert [r.config.db.port for r in live.history if hasattr(r, "config")] == [5433, 5434]
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.unlink()
        assert outcome.applied
        assert live.current.db.port == 5432  # optional: gone for good, its layer drops out


async def test_a_large_env_file_is_read_off_the_event_loop(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    filler = "".join(f"OTHER_{i}={'x' * 60}\n" for i in range(2000))  # about 140 KB
    env.write_text(filler + "APP_DB__PORT=5433\n")
    async with trioconf.open_reloader(
        Config, env_prefix="APP_", env_file=env, environ={}, debounce=0
    ) as live:
        assert live.current.db.port == 5433
        assert live.origin("db.port") == f"{env}:2001"
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.write_text(filler + "APP_DB__PORT=oops\n")
        assert not outcome.applied
        assert str(live.last_error).endswith(f"{env}:2001: db.port: expected an int, got 'oops'")


async def test_reload_expands_again_from_the_environment(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("APP_DB__HOST=${HOST_NAME}\n")
    environ = {"HOST_NAME": "one"}
    source = trioconf.DotEnv(env, "APP_", expand=True)
    async with trioconf.open_reloader(Config, source, environ=environ, debounce=0) as live:
        assert live.current.db.host == "one"
        environ["HOST_NAME"] = "two"
        await live.reload()
        assert live.current.db.host == "two"


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_an_env_file_created_later_is_read(tmp_path: Path, backend: str) -> None:
    env = tmp_path / ".env"
    async with trioconf.open_reloader(
        Config,
        env_prefix="APP_",
        env_file=env,
        environ={},
        backend=backend,
        poll_interval=0.05,
        debounce=0.05,
    ) as live:
        assert live.current == Config()
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                env.write_text("APP_DEBUG=on\n")
        assert outcome.applied
        assert live.current.debug
        assert live.origin("debug") == f"{env}:1"


def test_a_secret_that_does_not_convert_is_never_shown(tmp_path: Path) -> None:
    @attrs.frozen
    class Keyed:
        token: int = trioconf.field(default=0, secret=True)

    env = tmp_path / ".env"
    env.write_text(f"APP_TOKEN={SECRET}\n")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Keyed, env_prefix="APP_", env_file=env, environ={})
    (error,) = info.value.errors
    assert (error.source, error.line, error.path, error.value) == (str(env), 1, "token", "*" * 10)
    assert SECRET not in str(info.value)
