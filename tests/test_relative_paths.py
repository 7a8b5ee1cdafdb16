"""A relative ``Path`` from a file is relative to that file's directory; ``~`` is expanded.

Files are written in a subdirectory and the tests run from another working directory, so a
value left relative (or made relative to the working directory) shows as a wrong path.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest
import trio
from support import PATIENCE, write_atomic

import trioconf
from trioconf._anchor import plan


@attrs.frozen
class Tenant:
    root: Path
    name: str = "tenant"


@attrs.frozen
class Config:
    data_dir: Path = Path("default")  # a default is used as written in the code
    cache: Path | None = None
    includes: list[Path] = attrs.Factory(list)
    pair: tuple[Path, int] | None = None
    label: str = ""  # a string, not a Path: never rewritten
    either: str | Path = ""  # a string wins the union: stays as written
    port: int = 0
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    children: list[Config] = attrs.Factory(list)


@attrs.frozen
class NoPaths:
    name: str = ""
    tags: dict[str, list[str]] = attrs.Factory(dict)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own (``~`` expands with $HOME), and a working directory elsewhere."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return home


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    folder = tmp_path / "etc" / "app"
    folder.mkdir(parents=True)
    return folder


def test_a_files_relative_paths_are_relative_to_its_directory(home: Path, conf: Path) -> None:
    path = conf / "app.toml"
    path.write_text(
        'data_dir = "data"\ncache = "~/cache"\nincludes = ["/abs/x", "a/b", "../up", "~"]\n'
        'pair = ["p", 1]\nlabel = "rel"\neither = "rel"\n\n[[children]]\ndata_dir = "kid"\n'
    )
    config = trioconf.load(Config, path)
    assert config.data_dir == conf / "data"
    assert config.cache == home / "cache"
    assert config.includes == [Path("/abs/x"), conf / "a/b", Path(f"{conf}/../up"), home]
    assert config.pair == (conf / "p", 1)
    assert (config.label, config.either) == ("rel", "rel")
    assert config.children[0].data_dir == conf / "kid"  # a recursive class too
    assert trioconf.load(Config) == Config()  # defaults are as written: Path("default")


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_every_format(home: Path, conf: Path, fmt: str) -> None:
    path = conf / f"app.{fmt}"
    path.write_text('{"data_dir": "data", "cache": null}')  # JSON is YAML
    assert trioconf.load(Config, path) == Config(data_dir=conf / "data")


def test_environment_values_expand_home_and_stay_relative(home: Path) -> None:
    environ = {"APP_DATA_DIR": "rel", "APP_CACHE": "~/c", "APP_INCLUDES": '["~/i", "j"]'}
    config = trioconf.load(Config, env_prefix="APP_", environ=environ)
    assert config.data_dir == Path("rel")  # the working directory's, as Python uses it
    assert config.cache == home / "c"
    assert config.includes == [home / "i", Path("j")]


def test_an_environment_variable_overrides_a_files_path(home: Path, conf: Path) -> None:
    (conf / "app.toml").write_text('data_dir = "data"\n')
    environ = {"APP_DATA_DIR": "mine"}
    config = trioconf.load(Config, conf / "app.toml", env_prefix="APP_", environ=environ)
    assert config.data_dir == Path("mine")


def test_folders_entries_and_layers_are_relative_to_the_folder(home: Path, conf: Path) -> None:
    tenants = conf / "tenants.d"
    tenants.mkdir()
    (tenants / "acme.toml").write_text('root = "acme"\n')
    (tenants / "beta.yaml").write_text("root: ~/beta\n")
    (conf / "app.toml").write_text('data_dir = "data"\n')
    source = trioconf.Directory(tenants, key="tenants")
    config = trioconf.load(Config, conf / "app.toml", source)
    assert config.data_dir == conf / "data"
    assert config.tenants == {"acme": Tenant(tenants / "acme"), "beta": Tenant(home / "beta")}
    layers = conf / "conf.d"
    layers.mkdir()
    (layers / "10-data.toml").write_text('data_dir = "here"\n\n[tenants.gamma]\nroot = "g"\n')
    config = trioconf.load(Config, conf / "app.toml", trioconf.Directory(layers))
    assert config.data_dir == layers / "here"
    assert config.tenants == {"gamma": Tenant(layers / "g")}


def test_errors_still_point_at_their_line(home: Path, conf: Path) -> None:
    path = conf / "app.toml"
    path.write_text('data_dir = "data"\nincludes = ["a", "b"]\nport = "eighty"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, path)
    (error,) = info.value.errors
    assert (error.path, error.source, error.line) == ("port", str(path), 3)


def test_a_class_without_paths_has_nothing_to_rewrite() -> None:
    """Its layers are not walked at all: no cost on the reload path."""
    assert plan(NoPaths) is None
    assert plan(Config) is not None
    assert plan(Tenant) is not None


async def test_the_reloader_makes_paths_relative_to_the_file(home: Path, conf: Path) -> None:
    path = conf / "app.toml"
    path.write_text('data_dir = "data"\n')
    tenants = conf / "tenants.d"
    tenants.mkdir()
    source = trioconf.Directory(tenants, key="tenants")
    async with trioconf.open_reloader(Config, path, source, debounce=0) as live:
        assert live.current.data_dir == conf / "data"
        write_atomic(path, 'data_dir = "other"\n')
        (tenants / "acme.toml").write_text('root = "files"\n')
        with trio.fail_after(PATIENCE):
            config = await live.wait_value(
                lambda c: c.data_dir != conf / "data" and "acme" in c.tenants
            )
        assert config.data_dir == conf / "other"
        assert config.tenants["acme"].root == tenants / "files"
        assert os.getcwd() != str(conf)


async def test_a_layered_folders_change_is_built_with_its_paths(home: Path, conf: Path) -> None:
    """A one-file change in a layered folder is built incrementally (``_incremental``) from
    the file's layer: its Path values are absolute there already."""
    layers = conf / "conf.d"
    layers.mkdir()
    (layers / "10-a.toml").write_text('[tenants.a]\nroot = "a"\n')
    source = trioconf.Directory(layers)
    async with trioconf.open_reloader(Config, source, debounce=0) as live:
        assert live.current.tenants == {"a": Tenant(layers / "a")}
        (layers / "20-b.toml").write_text('[tenants.b]\nroot = "~/b"\n')
        write_atomic(layers / "10-a.toml", '[tenants.a]\nroot = "a2"\n')
        with trio.fail_after(PATIENCE):
            config = await live.wait_value(
                lambda c: "b" in c.tenants and c.tenants["a"].root.name == "a2"
            )
        assert config.tenants == {"a": Tenant(layers / "a2"), "b": Tenant(home / "b")}
