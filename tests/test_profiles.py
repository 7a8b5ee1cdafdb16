"""Profiles: ``profile_var`` selects layers ``config.<profile>.toml`` after each file source,
read at start and on ``reload()``, with every profile's files watched."""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE, wait_until, write_atomic

import trioconf
from trioconf._cli import main
from trioconf._load import load_with_origins
from trioconf._profiles import parse, pattern, profile_path

BACKENDS = ["inotify", "poll"]


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432


@attrs.frozen
class Config:
    name: str
    region: str = "none"
    db: Db = Db()


@attrs.frozen
class WithProfileField:
    name: str
    profile: str = "default"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('name = "base"\n[db]\nhost = "db.local"\n')
    return path


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "names"),
    [("prod", ("prod",)), ("prod,eu", ("prod", "eu")), (" prod , eu-1 ", ("prod", "eu-1")),
     ("", ()), ("  ", ())],
)  # fmt: skip
def test_a_value_names_profiles_in_order(value: str, names: tuple[str, ...]) -> None:
    assert parse(value, "APP_PROFILE") == names


@pytest.mark.parametrize(
    ("value", "why"),
    [("../etc", "not a profile name"), ("a/b", "not a profile name"), ("a.b", "not a profile"),
     ("prod,,eu", "'' is not"), (".hidden", "not a profile"), ("prod,eu,prod", "named twice")],
)  # fmt: skip
def test_a_bad_value_is_a_source_error_naming_the_variable(value: str, why: str) -> None:
    with pytest.raises(trioconf.SourceError, match=why) as info:
        parse(value, "APP_PROFILE")
    assert info.value.path == "env APP_PROFILE"


def test_profile_files_sit_next_to_their_file() -> None:
    assert profile_path(Path("/etc/app/config.toml"), "prod") == Path("/etc/app/config.prod.toml")
    assert profile_path(Path("/etc/app/app.d.yaml"), "eu") == Path("/etc/app/app.d.eu.yaml")
    assert profile_path(Path("/etc/app/config"), "eu") == Path("/etc/app/config.eu")
    assert pattern(Path("/etc/app/config.toml")) == "config.*.toml"
    assert pattern(Path("/etc/app/[x].toml")) == "[[]x].*.toml"


# -- one load -----------------------------------------------------------------------------------


def test_profile_layers_follow_their_file_in_the_variables_order(
    base: Path, tmp_path: Path
) -> None:
    (tmp_path / "config.prod.toml").write_text('name = "prod"\n[db]\nport = 6432\n')
    (tmp_path / "config.eu.toml").write_text('\n\nregion = "eu"\nname = "eu"\n')
    later = tmp_path / "later.toml"
    later.write_text('region = "later"\n')
    env = {"APP_PROFILE": "prod,eu"}
    config, origins = load_with_origins(Config, base, later, profile_var="APP_PROFILE", environ=env)
    # base < its profiles (prod, then eu) < the next source (later.toml, no profile file).
    assert config == Config("eu", "later", Db("db.local", 6432))
    assert origins["db.host"] == str(base)
    assert origins["db.port"] == str(tmp_path / "config.prod.toml")
    assert origins["name"] == str(tmp_path / "config.eu.toml")
    assert origins["region"] == str(later)
    swapped = trioconf.load(
        Config, base, profile_var="APP_PROFILE", environ={"APP_PROFILE": "eu,prod"}
    )
    assert swapped.name == "prod"
    unset = trioconf.load(Config, base, profile_var="APP_PROFILE", environ={})
    assert unset == Config("base", db=Db("db.local"))


def test_a_profile_file_keeps_a_forced_format(tmp_path: Path) -> None:
    path = tmp_path / "app.conf"
    path.write_text('name = "base"\n')
    (tmp_path / "app.prod.conf").write_text('name = "prod"\n')
    source = trioconf.File(path, format="toml")
    assert trioconf.load(Config, source, profile_var="P", environ={"P": "prod"}).name == "prod"


def test_an_error_in_a_profile_file_names_it_and_its_line(base: Path, tmp_path: Path) -> None:
    prod = tmp_path / "config.prod.toml"
    prod.write_text('name = "prod"\n[db]\nport = "lots"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, base, profile_var="P", environ={"P": "prod"})
    (field,) = info.value.errors
    assert (field.source, field.line, field.path) == (str(prod), 3, "db.port")


def test_a_bad_profile_is_a_config_error(base: Path) -> None:
    with pytest.raises(trioconf.SourceError, match=r"env P: profile '\.\./x'"):
        trioconf.load(Config, base, profile_var="P", environ={"P": "../x"})


def test_a_clash_with_a_field_is_a_plain_value_error(tmp_path: Path) -> None:
    base = tmp_path / "config.toml"
    base.write_text('name = "base"\n')
    with pytest.raises(ValueError, match="APP_PROFILE is also the variable of a field"):
        trioconf.load(WithProfileField, base, env_prefix="APP_", profile_var="APP_PROFILE")
    with pytest.raises(ValueError, match="APP_PROFILE"):
        trioconf.load(WithProfileField, base, trioconf.Env("APP_"), profile_var="APP_PROFILE")
    dotenv = trioconf.DotEnv(tmp_path / ".env", "APP_")  # a .env file's APP_PROFILE too
    with pytest.raises(ValueError, match=f"read by {tmp_path / '.env'}"):
        trioconf.load(WithProfileField, base, dotenv, profile_var="APP_PROFILE")
    # Another prefix, or no Env at all: no field would read it.
    env = {"APP_PROFILE": "x", "CFG_NAME": "env"}
    other = trioconf.load(
        WithProfileField, base, env_prefix="CFG_", profile_var="APP_PROFILE", environ=env
    )
    assert other == WithProfileField("env")
    for var in ("", 3):
        with pytest.raises((TypeError, ValueError)):
            trioconf.load(Config, base, profile_var=var)  # type: ignore[arg-type]


async def test_the_reloader_refuses_a_clash_before_anything_starts(base: Path) -> None:
    with pytest.raises(ValueError, match="APP_PROFILE"):
        async with trioconf.open_reloader(
            WithProfileField, base, env_prefix="APP_", profile_var="APP_PROFILE"
        ):
            pass  # pragma: no cover


def test_the_variable_is_no_field_of_the_env_layer(
    base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Under the Env's prefix and naming no field: neither a warning nor strict's error."""
    env = {"APP_PROFILE": "", "APP_NAME": "env"}
    config = trioconf.load(
        Config, base, env_prefix="APP_", strict_env=True, profile_var="APP_PROFILE", environ=env
    )
    assert config.name == "env"
    assert "APP_PROFILE" not in caplog.text


# -- the reloader ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_profile_change_is_read_on_reload_and_its_files_watched(
    base: Path, tmp_path: Path, backend: str
) -> None:
    prod, staging = tmp_path / "config.prod.toml", tmp_path / "config.staging.toml"
    prod.write_text('name = "prod"\n')
    env = {"APP_PROFILE": "prod"}
    async with trioconf.open_reloader(
        Config,
        base,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
        profile_var="APP_PROFILE",
        environ=env,
    ) as live:
        assert live.origin("name") == f"{prod}:1"
        with trio.fail_after(PATIENCE):
            write_atomic(prod, 'name = "prod2"\n')  # the profile file is watched
            await live.wait_value(lambda c: c.name == "prod2")
            # A file of a profile not in effect is no change.
            staging.write_text('name = "staging"\n')
            await wait_until(lambda: live.statistics().noops >= 1)
            assert live.current.name == "prod2"
            env["APP_PROFILE"] = "staging"  # the variable changes: nothing reads it yet
            base.write_text('name = "base"\nregion = "b"\n')
            await live.wait_value(lambda c: c.region == "b")
            assert live.current.name == "prod2"
            await live.reload()  # the new profile: read...
            assert live.current.name == "staging"
            assert live.origin("name") == f"{staging}:1"
            staging.write_text('name = "staging2"\n')  # ...and watched, though new
            await live.wait_value(lambda c: c.name == "staging2")
            env["APP_PROFILE"] = ""  # no profile: the base file alone
            await live.reload()
            assert live.current == Config("base", "b")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_profile_file_that_appears_later_is_read(
    base: Path, tmp_path: Path, backend: str
) -> None:
    eu = tmp_path / "config.eu.toml"
    async with trioconf.open_reloader(
        Config,
        base,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
        profile_var="APP_PROFILE",
        environ={"APP_PROFILE": "prod,eu"},
    ) as live:
        assert live.current.name == "base"
        with trio.fail_after(PATIENCE):
            write_atomic(eu, 'region = "eu"\n')
            await live.wait_value(lambda c: c.region == "eu")
        assert live.origin("region") == f"{eu}:1"


async def test_a_bad_profile_on_reload_keeps_the_last_good_snapshot(
    base: Path, tmp_path: Path
) -> None:
    (tmp_path / "config.prod.toml").write_text('name = "prod"\n')
    env = {"P": "prod"}
    async with trioconf.open_reloader(
        Config, base, debounce=0, profile_var="P", environ=env
    ) as live:
        env["P"] = "prod/../../x"
        with pytest.raises(trioconf.SourceError, match="env P"):
            await live.reload()  # the reload's error, as for a bad file
        assert isinstance(live.last_error, trioconf.SourceError)
        assert "env P" in str(live.last_error)
        assert live.current.name == "prod"
        env["P"] = "prod"
        await live.reload()
        assert live.last_error is None
    env["P"] = "prod,prod"
    with pytest.raises(trioconf.SourceError, match="env P: profile 'prod' is named twice"):
        async with trioconf.open_reloader(Config, base, profile_var="P", environ=env):
            pass  # pragma: no cover


@pytest.mark.parametrize("backend", BACKENDS)
async def test_profiles_follow_the_file_a_search_chose(
    tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trioconf")
    here, etc = tmp_path / "here", tmp_path / "etc"
    here.mkdir()
    etc.mkdir()
    (etc / "app.toml").write_text('name = "etc"\n')
    (etc / "app.prod.toml").write_text('region = "etc-prod"\n')
    (here / "app.prod.toml").write_text('region = "here-prod"\n')  # not read: no app.toml yet
    search = trioconf.first_found(str(here / "app.toml"), str(etc / "app.toml"))
    async with trioconf.open_reloader(
        Config,
        search,
        debounce=0,
        backend=backend,  # type: ignore[arg-type]
        poll_interval=0.05,
        profile_var="APP_PROFILE",
        environ={"APP_PROFILE": "prod"},
    ) as live:
        assert live.current == Config("etc", "etc-prod")
        with trio.fail_after(PATIENCE):
            write_atomic(here / "app.toml", 'name = "here"\n')
            await live.wait_value(lambda c: c.name == "here")
        assert live.current == Config("here", "here-prod")
        assert live.origin("region") == f"{here / 'app.prod.toml'}:1"


def test_the_command_line_takes_a_profile_variable(
    base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "config.prod.toml").write_text('name = "prod"\n')
    (tmp_path / "pschema.py").write_text(
        "import attrs\n@attrs.frozen\nclass Config:\n    name: str\n    profile: str = ''\n"
        "    db: dict[str, str] = {}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_PROFILE", "prod")
    schema = ["--schema", "pschema.py:Config"]
    assert main(["check", str(base), "--profile-var", "APP_PROFILE", "--print", *schema]) == 0
    assert "config.prod.toml:1" in capsys.readouterr().out
    clash = ["check", str(base), "--profile-var", "APP_PROFILE", "--env-prefix", "APP_"]
    assert main([*clash, *schema]) == 2
    assert "--profile-var" in capsys.readouterr().err
