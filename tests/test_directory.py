"""Directory sources: a conf.d folder, layered in name order or keyed by file stem."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli
import trio
from support import PATIENCE, wait_until, write_atomic

import trioconf
from trioconf import _folder, _keyed
from trioconf._converter import make_converter
from trioconf._folder_keyed import KeyedFolder
from trioconf._load import Loader, Options
from trioconf._paths import leaf_paths
from trioconf._updater import candidate


@attrs.frozen
class Tenant:
    port: int
    host: str = "localhost"
    tags: list[str] = attrs.field(factory=list)


@attrs.frozen
class Config:
    name: str = "app"
    tenants: dict[str, Tenant] = attrs.field(factory=dict)


@attrs.frozen
class Layered:
    name: str = "app"
    port: int = 0
    hosts: list[str] = attrs.field(factory=list)
    db: dict[str, int] = attrs.field(factory=dict)


async def until(live: trioconf.Live[Any], predicate: Callable[[Any], bool]) -> Any:
    """The first snapshot for which ``predicate`` holds, within PATIENCE."""
    with trio.fail_after(PATIENCE):
        return await live.wait_value(predicate)


def tenant(port: int, host: str = "localhost") -> str:
    return f'port = {port}\nhost = "{host}"\n'


def fill(folder: Path, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"t{i:04}.toml").write_text(tenant(1000 + i))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "tenants.d"
    d.mkdir()
    (d / "acme.toml").write_text(tenant(1, "a"))
    (d / "beta.toml").write_text(tenant(2, "b"))
    return d


# --- opening --------------------------------------------------------------------------------


@attrs.frozen
class Inner:
    tenants: dict[str, Tenant] = attrs.field(factory=dict)
    other: int = 0


@attrs.frozen
class Nested:
    inner: Inner = attrs.field(factory=Inner)
    wrong: list[int] = attrs.field(factory=list)
    by_number: dict[int, Tenant] = attrs.field(factory=dict)


def test_dotted_key_reaches_a_nested_mapping(folder: Path) -> None:
    config = trioconf.load(Nested, trioconf.Directory(folder, key="inner.tenants"))
    assert config.inner.tenants == {"acme": Tenant(1, "a"), "beta": Tenant(2, "b")}


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ("nope", ValueError, "no field 'nope'"),
        ("wrong", TypeError, "dict[str, X]"),
        ("by_number", TypeError, "dict[str, X]"),
        ("inner.other", TypeError, "dict[str, X]"),
        ("wrong.x", TypeError, "not a class"),
        ("inner..tenants", ValueError, "dotted field path"),
    ],
)
def test_a_key_that_names_no_str_mapping_fails_before_anything_runs(
    folder: Path, key: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words.replace("[", r"\[")):
        trioconf.load(Nested, trioconf.Directory(folder, key=key))


def test_two_directories_may_not_own_the_same_field(folder: Path) -> None:
    with pytest.raises(ValueError, match="one owns the other"):
        trioconf.load(
            Nested,
            trioconf.Directory(folder, key="inner.tenants"),
            trioconf.Directory(folder, key="inner.tenants", pattern="a*"),
        )


# --- what a folder gives ----------------------------------------------------------------------


def test_pattern_and_editor_leftovers(folder: Path) -> None:
    junk = ["acme.toml~", ".acme.toml.swp", ".acme.toml.1234.tmp", "4913", "#acme.toml#"]
    junk += ["acme.toml.bak", "acme.toml.orig", "acme.toml.dpkg-old", "x.rpmnew", "y.tmp"]
    for name in junk:
        (folder / name).write_text("not = [toml")
    # The default pattern takes every name, except those that are never a config file.
    config = trioconf.load(Config, trioconf.Directory(folder, key="tenants"))
    assert sorted(config.tenants) == ["acme", "beta"]
    (folder / "notes.txt").write_text("not toml either")
    (folder / "sub.toml").mkdir()
    config = trioconf.load(Config, trioconf.Directory(folder, pattern="*.toml", key="tenants"))
    assert sorted(config.tenants) == ["acme", "beta"]


@pytest.mark.parametrize("patterns", [("*.toml", "*.yaml"), ["*.toml", "*.yaml"]])
def test_several_patterns_take_a_file_matching_any(folder: Path, patterns: Any) -> None:
    (folder / "gamma.yaml").write_text("port: 3\n")  # each file's extension decides its format
    (folder / "delta.json").write_text('{"port": 4}')  # matches neither pattern
    (folder / "notes.txt").write_text("not a config")  # would be an UnknownFormatError
    (folder / "gamma.yaml~").write_text("port: [")  # a leftover, whatever the patterns
    source = trioconf.Directory(folder, pattern=patterns, key="tenants")
    assert source.pattern == ("*.toml", "*.yaml")  # a list is kept as a tuple (hashable)
    config = trioconf.load(Config, source)
    assert config.tenants == {"acme": Tenant(1, "a"), "beta": Tenant(2, "b"), "gamma": Tenant(3)}


def test_several_patterns_in_layered_mode(tmp_path: Path) -> None:
    (tmp_path / "10-port.toml").write_text("port = 1\n")
    (tmp_path / "20-port.yaml").write_text("port: 2\n")
    (tmp_path / "30-port.json").write_text('{"port": 3}')  # would win if it counted
    config = trioconf.load(Layered, trioconf.Directory(tmp_path, pattern=("*.yaml", "*.toml")))
    assert config.port == 2  # name order, not the order of the patterns


@pytest.mark.parametrize(
    ("pattern", "error", "message"),
    [
        ((), ValueError, "empty tuple, which no file would match"),
        ([], ValueError, "empty tuple, which no file would match"),
        (("*.toml", 3), TypeError, r"an fnmatch pattern such as '\*\.toml', or a tuple of them"),
        ({"*.toml"}, TypeError, "or a tuple of them, not {'\\*.toml'}"),
        (None, TypeError, "or a tuple of them, not None"),
    ],
)
def test_a_wrong_pattern_is_refused_where_the_directory_is_made(
    folder: Path, pattern: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        trioconf.Directory(folder, pattern=pattern)


async def test_several_patterns_are_watched(folder: Path, backend: str) -> None:
    source = trioconf.Directory(folder, pattern=("*.toml", "*.yml"), key="tenants")
    options: dict[str, Any] = {"debounce": 0, "backend": backend, "poll_interval": 0.05}
    async with trioconf.open_reloader(Config, source, **options) as live:
        (folder / "gamma.yml").write_text("port: 3\n")
        await until(live, lambda c: "gamma" in c.tenants)
        version = live.version
        (folder / "delta.json").write_text('{"port": 4}')  # matches neither: applies nothing
        (folder / "epsilon.toml").write_text(tenant(5))
        config = await until(live, lambda c: "epsilon" in c.tenants)
        assert "delta" not in config.tenants
        assert live.version == version + 1


def test_an_unknown_extension_is_that_files_error(folder: Path) -> None:
    (folder / "gamma.conf").write_text(tenant(3))
    with pytest.raises(trioconf.UnknownFormatError, match=r"gamma\.conf: cannot tell the format"):
        trioconf.load(Config, trioconf.Directory(folder, key="tenants"))
    # ... unless the Directory says which format its files are in.
    (folder / "gamma.conf").unlink()
    (folder / "gamma").write_text(tenant(3))
    config = trioconf.load(
        Config, trioconf.Directory(folder, pattern="gamma", key="tenants", format="toml")
    )
    assert config.tenants == {"gamma": Tenant(3)}


def test_missing_folder_is_an_error_unless_optional(tmp_path: Path) -> None:
    with pytest.raises(trioconf.MissingSourceError, match="does not exist"):
        trioconf.load(Config, trioconf.Directory(tmp_path / "none", key="tenants"))
    optional = trioconf.Directory(tmp_path / "none", key="tenants", optional=True)
    assert trioconf.load(Config, optional) == Config()


def test_same_stem_twice_is_an_error_naming_both(folder: Path) -> None:
    (folder / "acme.yaml").write_text("port: 9\n")
    with pytest.raises(trioconf.SourceError) as info:
        trioconf.load(Config, trioconf.Directory(folder, key="tenants"))
    assert "acme.toml and acme.yaml both give the entry 'acme'" in str(info.value)


async def test_removing_one_of_two_files_for_a_stem_resolves_it(folder: Path) -> None:
    loader = Loader(
        Config, [trioconf.Directory(folder, key="tenants")], make_converter(), Options()
    )
    (folder / "acme.yaml").write_text("port: 9\n")
    await loader.refresh(None)
    assert isinstance(loader.error, trioconf.SourceError)
    (folder / "acme.toml").unlink()  # the first by name: acme.yaml supplies the entry now
    await loader.refresh(frozenset([folder / "acme.toml"]))
    assert loader.error is None
    assert loader.build()[0].tenants["acme"] == Tenant(9)
    (folder / "acme.yaml").unlink()
    await loader.refresh(frozenset([folder / "acme.yaml"]))
    assert sorted(loader.build()[0].tenants) == ["beta"]


def test_entry_errors_name_file_line_and_dotted_field(folder: Path) -> None:
    (folder / "beta.toml").write_text('host = "b"\nport = "80"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, trioconf.Directory(folder, key="tenants"))
    (error,) = info.value.errors
    assert error.path == "tenants.beta.port"
    assert (error.source, error.line) == (str(folder / "beta.toml"), 2)


def test_another_source_may_not_set_what_a_keyed_directory_owns(
    folder: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base.toml"
    base.write_text("[tenants.acme]\nport = 5\n")
    with pytest.raises(trioconf.ValidationError, match="owns its field whole") as info:
        trioconf.load(Config, base, trioconf.Directory(folder, key="tenants"))
    assert info.value.errors[0].source == str(base)


def test_layered_files_apply_in_name_order_at_the_directorys_place(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "10-base.toml").write_text('port = 1\nhosts = ["a"]\n[db]\nx = 1\ny = 1\n')
    (d / "20-site.json").write_text('{"port": 2, "db": {"y": 2}}')
    (d / "Z-upper.yaml").write_text("name: upper\n")  # by bytes: "Z" after the digits
    before = tmp_path / "before.toml"
    before.write_text('name = "before"\nport = 0\n')
    after = tmp_path / "after.toml"
    after.write_text("port = 3\n")
    config = trioconf.load(Layered, before, trioconf.Directory(d), after)
    assert config == Layered(name="upper", port=3, hosts=["a"], db={"x": 1, "y": 2})
    config = trioconf.load(Layered, before, trioconf.Directory(d))
    assert config.port == 2


# --- incremental == from scratch ------------------------------------------------------------


def _oracle_keyed(folder: Path, scratch: Path) -> Config:
    """The same tree built from scratch, without Directory: one JSON document."""
    entries = {
        p.name.rsplit(".", 1)[0]: tomli.loads(p.read_text())
        for p in sorted(folder.iterdir())
        if p.suffix == ".toml"
    }
    scratch.write_text(json.dumps({"name": "app", "tenants": entries}))
    return trioconf.load(Config, scratch)


def _random_edit(rng: random.Random, folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    roll = rng.random()
    if names and roll < 0.25:
        (folder / rng.choice(names)).unlink()
    elif names and roll < 0.7:
        name = rng.choice(names)
        # Few values, and a comment or not: some rewrites give an entry equal to the old one
        # from other bytes, which must then stay the old object.
        text = tenant(rng.randrange(1, 3), rng.choice("xy")) + rng.choice(["", "# edited\n"])
        write_atomic(folder / name, text)
    else:
        name = f"{rng.choice('abcdefghij')}{rng.randrange(30)}.toml"
        (folder / name).write_text(tenant(rng.randrange(1, 5)) + f"tags = [{json.dumps(name)}]\n")


async def test_incremental_result_equals_a_rebuild_from_scratch(tmp_path: Path) -> None:
    folder = tmp_path / "tenants.d"
    fill(folder, 20)
    scratch = tmp_path / "scratch.json"
    loader = Loader(
        Config, [trioconf.Directory(folder, key="tenants")], make_converter(), Options()
    )
    await loader.refresh(None)
    current, _ = loader.build()
    rng = random.Random(4)
    for _ in range(150):
        before = {p.name for p in folder.iterdir()}
        for _ in range(rng.randrange(1, 4)):
            _random_edit(rng, folder)
        touched = before ^ {p.name for p in folder.iterdir()} | before
        # What the watcher would report: the paths of the files touched (here: all names).
        await loader.refresh(frozenset(folder / name for name in touched))
        result = candidate(loader, current)
        expected = _oracle_keyed(folder, scratch)
        if result is None:
            assert current == expected
            continue
        new, diff = result.config, result.changed
        changed = diff() if callable(diff) else diff  # listed on demand
        assert new == expected
        # Unchanged entries are the very objects of the previous snapshot.
        for stem, entry in new.tenants.items():
            if current.tenants.get(stem) == entry:
                assert current.tenants[stem] is entry
        # And the changed paths are exactly those of a whole-config diff.
        from trioconf._converter import unstructure
        from trioconf._merge import changed_paths

        converter = loader.converter
        assert changed == changed_paths(
            unstructure(converter, current), unstructure(converter, new)
        )
        current = new


def _random_layer(rng: random.Random) -> str:
    """A layered folder's file: mostly a tenant table of its own, sometimes tables of others
    (merged with theirs), a key outside the tenants, a bad value, or tenants as a non-table."""
    roll = rng.random()
    if roll < 0.015:
        return "tenants = 5\n"  # not a mapping: the whole field is replaced (then refused)
    if roll < 0.03:
        return '[tenants.a1]\nport = "many"\n'  # a bad field: said in full, with its line
    lines = []
    if rng.random() < 0.2:
        lines.append(f'name = "{rng.choice("xyz")}"')
    stems = [f"{ab}{i}" for ab in "ab" for i in range(4)]
    for stem in rng.sample(stems, rng.randrange(0, 3)):
        lines.append(f"[tenants.{stem}]")
        if rng.random() < 0.97:  # an entry with no port anywhere is missing a field
            lines.append(f"port = {rng.randrange(1, 4)}")
        if rng.random() < 0.3:
            lines.append(f'host = "{rng.choice("hk")}"')
        if rng.random() < 0.2:
            lines.append(f"tags = [{json.dumps(stem)}]")
    if rng.random() < 0.05:
        lines.append("[tenants]")  # an empty table: sets the field, adds no entry
    return "\n".join(lines) + "\n"


async def test_layered_incremental_result_equals_a_rebuild_from_scratch(tmp_path: Path) -> None:
    """The layered twin of the keyed test above: a base file and a conf.d folder whose files
    add, merge and drop tenant tables, edited at random; each candidate (the updater's path,
    built at the cost of the change) equals a from-scratch load of the same files, in the
    order of its keys too, keeps unchanged entries as the same objects, and lists exactly the
    paths a whole-config diff lists. A bad state raises what the full load raises."""
    from trioconf._converter import unstructure
    from trioconf._merge import changed_paths

    folder = tmp_path / "conf.d"
    folder.mkdir()
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n[tenants.a0]\nport = 1\nhost = "base"\n')
    sources = [trioconf.File(base), trioconf.Directory(folder)]
    loader = Loader(Config, sources, make_converter(), Options())
    assert loader.incremental is not None
    rng = random.Random(5)

    def files() -> list[Path]:
        return [base, *sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))]

    await loader.refresh(None)
    current, _ = loader.build()
    checked = failed = incremental = 0
    for _ in range(300):
        touched = set()
        for _ in range(rng.randrange(1, 4)):
            name = f"{rng.randrange(12):02d}.toml"
            path = folder / name
            if path.exists() and rng.random() < 0.25:
                path.unlink()
            else:
                write_atomic(path, _random_layer(rng))
            touched.add(path)
        await loader.refresh(frozenset(touched))
        try:
            expected = trioconf.load(Config, *files())
        except trioconf.ConfigError as exc:
            with pytest.raises(type(exc), match=f"^{re.escape(str(exc))}$"):
                candidate(loader, current)
            failed += 1
            continue
        result = candidate(loader, current)
        incremental += loader.incremental.ready  # built at the cost of the change
        if result is None:
            assert current == expected
            continue
        new, diff = result.config, result.changed
        changed = diff() if callable(diff) else diff
        assert new == expected
        assert list(new.tenants) == list(expected.tenants)  # a rebuild's key order
        for stem, entry in new.tenants.items():
            if current.tenants.get(stem) == entry:
                assert current.tenants[stem] is entry
        converter = loader.converter
        assert changed == changed_paths(
            unstructure(converter, current), unstructure(converter, new)
        )
        current = new
        checked += 1
    print(f"{checked} candidates checked ({incremental} incremental), {failed} bad states")
    assert checked > 150
    assert incremental > 100
    assert failed > 10  # the fallback was exercised, and recovered from


async def test_reloader_converges_on_a_rebuild_after_random_edits(tmp_path: Path) -> None:
    folder = tmp_path / "tenants.d"
    fill(folder, 10)
    scratch = tmp_path / "scratch.json"
    rng = random.Random(7)
    source = trioconf.Directory(folder, pattern="*.toml", key="tenants")
    async with trioconf.open_reloader(Config, source, debounce=0) as live:
        for _ in range(15):
            for _ in range(rng.randrange(1, 4)):
                _random_edit(rng, folder)
            expected = _oracle_keyed(folder, scratch)
            await until(live, lambda c, e=expected: c == e)


async def test_layered_mode_equals_its_files_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "conf.d"
    folder.mkdir()
    rng = random.Random(11)
    loader = Loader(Layered, [trioconf.Directory(folder)], make_converter(), Options())
    for _ in range(60):
        name = f"{rng.randrange(10)}-{rng.choice('ab')}.toml"
        if rng.random() < 0.3 and (folder / name).exists():
            (folder / name).unlink()
        else:
            port = rng.randrange(5)
            (folder / name).write_text(f'port = {port}\nhosts = ["{name}"]\n[db]\n{name[0]}x = 1\n')
        await loader.refresh(frozenset([folder / name]))
        files = sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
        assert loader.build()[0] == trioconf.load(Layered, *files)


# --- the cost of a one-file change -----------------------------------------------------------


@attrs.define
class Counts:
    parses: int = 0
    structures: int = 0
    unstructured_leaves: int = 0


def counting(counts: Counts, field: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setattr(counts, field, getattr(counts, field) + 1)
        return f(*args, **kwargs)

    return wrapper


async def test_one_file_change_parses_and_structures_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tenants.d"
    fill(folder, 200)
    counts = Counts()
    monkeypatch.setattr(_folder, "parse", counting(counts, "parses", _folder.parse))
    monkeypatch.setattr(KeyedFolder, "_value", counting(counts, "structures", KeyedFolder._value))

    original = _keyed.unstructure

    def unstructure(converter: Any, value: Any) -> Any:
        plain = original(converter, value)
        counts.unstructured_leaves += len(leaf_paths(plain))
        return plain

    monkeypatch.setattr(_keyed, "unstructure", unstructure)
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Config, source, debounce=0, backend="inotify") as live:
        assert (counts.parses, counts.structures) == (200, 200)
        old = live.current
        counts.parses = counts.structures = counts.unstructured_leaves = 0
        write_atomic(folder / "t0042.toml", tenant(42))
        new = await until(live, lambda c: c.tenants["t0042"].port == 42)
        assert (counts.parses, counts.structures) == (1, 1)
        assert live.history[-1].changed == {"tenants.t0042.port"}
        # Listing it unstructured the old and new entry (3 leaves each) and the rest of the
        # config (its name): never the 200 entries.
        assert counts.unstructured_leaves <= 8
        assert all(new.tenants[s] is old.tenants[s] for s in old.tenants if s != "t0042")
        assert new.tenants["t0042"] is not old.tenants["t0042"]
        assert live.origin("tenants.t0042.port") == str(folder / "t0042.toml")
        # An identical rewrite parses nothing at all.
        counts.parses = 0
        (folder / "t0001.toml").write_text(tenant(1001))
        write_atomic(folder / "t0002.toml", tenant(7))
        await until(live, lambda c: c.tenants["t0002"].port == 7)
        assert counts.parses == 1


STRUCTURED: list[str] = []


@attrs.frozen
class CountedTenant:
    """A tenant that counts how often it is structured (built)."""

    port: int
    host: str = "localhost"

    def __attrs_post_init__(self) -> None:
        STRUCTURED.append(self.host)


@attrs.frozen
class CountedConfig:
    name: str = "app"
    tenants: dict[str, CountedTenant] = attrs.field(factory=dict)


async def test_layered_one_file_change_merges_and_structures_only_that_files_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layered twin of the test above: 200 files, each a layer adding its own
    ``[tenants.<name>]`` table, beside a base file. A save of one of them parses that file,
    structures that one entry, and lists its changed paths; the other entries stay the very
    objects of the previous snapshot."""
    folder = tmp_path / "conf.d"
    folder.mkdir()
    for i in range(200):
        (folder / f"t{i:04}.toml").write_text(f"[tenants.t{i:04}]\n{tenant(1000 + i, f'h{i}')}")
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n')
    counts = Counts()
    monkeypatch.setattr(_folder, "parse", counting(counts, "parses", _folder.parse))
    sources = (base, trioconf.Directory(folder))
    async with trioconf.open_reloader(CountedConfig, *sources, debounce=0) as live:
        assert len(live.current.tenants) == 200
        old = live.current
        counts.parses = 0
        STRUCTURED.clear()
        write_atomic(folder / "t0042.toml", f"[tenants.t0042]\n{tenant(42, 'moved')}")
        new = await until(live, lambda c: c.tenants["t0042"].port == 42)
        assert counts.parses == 1
        assert STRUCTURED == ["moved"]  # one entry structured, not 200
        assert live.history[-1].changed == {"tenants.t0042.port", "tenants.t0042.host"}
        assert all(new.tenants[s] is old.tenants[s] for s in old.tenants if s != "t0042")
        assert live.origin("tenants.t0042.port") == f"{folder / 't0042.toml'}:2"
        # A change to the base file rebuilds the rest of the config, not the entries.
        STRUCTURED.clear()
        write_atomic(base, 'name = "renamed"\n')
        await until(live, lambda c: c.name == "renamed")
        assert STRUCTURED == []
        assert live.history[-1].changed == {"name"}


async def test_layered_origins_stay_those_of_the_snapshot_after_a_rejected_change(
    tmp_path: Path,
) -> None:
    """Origins are listed on demand from the layers as they were when the snapshot was
    built: a later change that was built and rejected moves the folder on, not the answer."""
    folder = tmp_path / "conf.d"
    folder.mkdir()
    (folder / "a.toml").write_text("[tenants.acme]\nport = 1\n")
    (folder / "b.toml").write_text("[tenants.beta]\nport = 2\n")

    def no_666(new: Config, old: Config | None) -> None:
        if any(t.port == 666 for t in new.tenants.values()):
            raise ValueError("port 666 is reserved")

    async with trioconf.open_reloader(
        Config, trioconf.Directory(folder), debounce=0, validate=no_666
    ) as live:
        # (No origin asked before: the table is listed, and kept, on the first question.)
        records = live.records()
        # acme moves to b.toml with a value the validator refuses: built, then rejected.
        write_atomic(folder / "b.toml", "[tenants.beta]\nport = 2\n[tenants.acme]\nport = 666\n")
        with trio.fail_after(PATIENCE):
            async for record in records:
                if isinstance(record, trioconf.Failure):
                    break
        assert live.current.tenants["acme"].port == 1
        assert live.origin("tenants.acme.port") == f"{folder / 'a.toml'}:2"
        assert live.origin("tenants.beta.port") == f"{folder / 'b.toml'}:2"
        write_atomic(folder / "b.toml", "[tenants.beta]\nport = 2\n[tenants.acme]\nport = 7\n")
        await until(live, lambda c: c.tenants["acme"].port == 7)
        assert live.origin("tenants.acme.port") == f"{folder / 'b.toml'}:4"


async def test_start_up_of_a_large_folder_lets_other_tasks_run(tmp_path: Path) -> None:
    folder = tmp_path / "tenants.d"
    fill(folder, 1000)
    loader = Loader(
        Config, [trioconf.Directory(folder, key="tenants")], make_converter(), Options()
    )
    (state,) = loader.keyed
    seen: set[int] = set()

    async def ticker() -> None:
        while True:
            seen.add(len(state.files))  # how far the read had got when this task ran
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await loader.refresh(None)
        nursery.cancel_scope.cancel()
    assert len(state.files) == 1000
    # Reading 1,000 files takes tens of milliseconds; the loop was yielded along the way.
    assert len(seen - {0, 1000}) >= 3


# --- watching -----------------------------------------------------------------------------------


@pytest.fixture(params=["inotify", "poll"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_files_added_changed_and_removed(folder: Path, backend: str) -> None:
    source = trioconf.Directory(folder, pattern="*.toml", key="tenants")
    options: dict[str, Any] = {"debounce": 0, "backend": backend, "poll_interval": 0.05}
    async with trioconf.open_reloader(Config, source, **options) as live:
        assert set(live.current.tenants) == {"acme", "beta"}
        (folder / "gamma.toml").write_text(tenant(3))
        await until(live, lambda c: "gamma" in c.tenants)
        write_atomic(folder / "acme.toml", tenant(11, "a"))
        await until(live, lambda c: c.tenants["acme"].port == 11)
        (folder / "beta.toml").unlink()
        config = await until(live, lambda c: "beta" not in c.tenants)
        assert config.tenants == {"acme": Tenant(11, "a"), "gamma": Tenant(3)}
        version = live.version
        # Leftovers that never count, and names the pattern excludes, apply nothing.
        (folder / "acme.toml~").write_text("broken = [")
        (folder / ".gamma.toml.swp").write_text("broken = [")
        (folder / "readme.txt").write_text("hello")
        (folder / "delta.toml").write_text(tenant(4))
        await until(live, lambda c: "delta" in c.tenants)
        assert live.version == version + 1
        assert live.last_error is None


async def test_a_bad_entry_keeps_the_last_good_snapshot(folder: Path) -> None:
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Config, source, debounce=0) as live:
        good = live.current
        (folder / "beta.toml").write_text('port = "x"\n')
        await wait_until(lambda: live.last_error is not None)
        assert live.current is good
        error = live.last_error
        assert isinstance(error, trioconf.ValidationError)
        assert [(e.path, e.source, e.line) for e in error.errors] == [
            ("tenants.beta.port", str(folder / "beta.toml"), 1)
        ]
        # Another file's change does not apply while beta is bad: all or nothing.
        (folder / "acme.toml").write_text(tenant(5))
        await wait_until(lambda: live.statistics().rejected >= 2)
        assert live.current is good
        (folder / "beta.toml").write_text(tenant(6))
        config = await until(live, lambda c: c.tenants["beta"].port == 6)
        assert config.tenants["acme"].port == 5
        assert live.last_error is None


async def test_folder_deleted_and_recreated(tmp_path: Path, backend: str) -> None:
    folder = tmp_path / "tenants.d"
    fill(folder, 3)
    source = trioconf.Directory(folder, key="tenants", optional=True)
    options: dict[str, Any] = {"debounce": 0, "backend": backend, "poll_interval": 0.05}
    async with trioconf.open_reloader(Config, source, **options) as live:
        shutil.rmtree(folder)
        await until(live, lambda c: c.tenants == {})
        folder.mkdir()
        (folder / "new.toml").write_text(tenant(9))
        await until(live, lambda c: c.tenants == {"new": Tenant(9)})
        # The new folder's own watch works: a later file is seen too.
        (folder / "later.toml").write_text(tenant(10))
        await until(live, lambda c: "later" in c.tenants)


async def test_layered_directory_watched_with_files_around_it(tmp_path: Path) -> None:
    folder = tmp_path / "conf.d"
    folder.mkdir()
    (folder / "10-a.toml").write_text("port = 1\n")
    after = tmp_path / "after.toml"
    after.write_text('name = "after"\n')
    async with trioconf.open_reloader(
        Layered, trioconf.Directory(folder), after, debounce=0
    ) as live:
        (folder / "20-b.toml").write_text("port = 2\n")
        await until(live, lambda c: c.port == 2)
        after.write_text('name = "after"\nport = 3\n')
        await until(live, lambda c: c.port == 3)
        assert live.origin("port") == f"{after}:2"
        (folder / "20-b.toml").unlink()
        after.write_text('name = "x"\n')
        config = await until(live, lambda c: c.name == "x")
        await until(live, lambda c: c.port == 1)
        assert config.name == "x"


async def test_reload_relists_every_folder(folder: Path) -> None:
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Config, source, backend="poll", poll_interval=60) as live:
        (folder / "gamma.toml").write_text(tenant(3))
        (folder / "acme.toml").unlink()
        await live.reload()
        assert set(live.current.tenants) == {"beta", "gamma"}


async def test_a_folder_inotify_cannot_watch_is_polled(folder: Path) -> None:
    from support import RefusingLibc

    from trioconf._watch import run_watcher
    from trioconf._watch._events import Hold

    send, receive = trio.open_memory_channel[Any](100)
    libc = RefusingLibc(full_dirs=[folder])  # ENOSPC: the watch limit, for this folder only
    source = trioconf.Directory(folder, pattern="*.toml")
    async with trio.open_nursery() as nursery:
        watcher = functools.partial(
            run_watcher, [], send, directories=[source], libc=libc, poll_interval=0.05
        )
        assert await nursery.start(watcher) == "inotify+poll"
        (folder / "gamma.toml").write_text(tenant(3))
        (folder / "gamma.txt").write_text("not matching")
        with trio.fail_after(PATIENCE):
            assert await receive.receive() == Hold(folder / "gamma.toml")  # new: settling
            assert await receive.receive() == folder / "gamma.toml"
        with trio.move_on_after(0.2):
            extra = await receive.receive()
            pytest.fail(f"reported {extra}")
        nursery.cancel_scope.cancel()


def test_priority_directory_files_wait_half_the_window(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.d"
    other.mkdir()
    loader = Loader(
        Config,
        [
            trioconf.Directory(folder, pattern="*.toml", key="tenants", priority=True),
            trioconf.Directory(other, pattern="*.toml"),
        ],
        make_converter(),
        Options(),
    )
    assert folder / "new.toml" in loader.priority
    assert folder / "new.txt" not in loader.priority
    assert other / "x.toml" not in loader.priority


async def test_origins_of_entries(folder: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text('name = "base"\n')
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Config, base, source) as live:
        assert live.origin("name") == f"{base}:1"
        assert live.origin("tenants") == str(folder)
        assert live.origin("tenants.acme") == str(folder / "acme.toml")
        assert live.origin("tenants.beta.host") == str(folder / "beta.toml")
        assert live.origin("tenants.beta.tags") == str(folder / "beta.toml")  # a default
        with pytest.raises(KeyError):
            live.origin("tenants.gamma")
        with pytest.raises(KeyError):
            live.origin("tenants.acme.nope")


@attrs.frozen
class Big:
    items: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class Bigs:
    entries: dict[str, Big] = attrs.field(factory=dict)


async def test_a_large_entry_is_parsed_in_a_worker(tmp_path: Path) -> None:
    from trioconf._formats import INLINE_LIMITS

    folder = tmp_path / "big.d"
    folder.mkdir()
    items = {f"key{i}": i for i in range(INLINE_LIMITS["json"] // 8)}
    (folder / "large.json").write_text(json.dumps({"items": items}))
    (folder / "small.json").write_text('{"items": {"a": 1}}')
    assert (folder / "large.json").stat().st_size > INLINE_LIMITS["json"]
    loader = Loader(Bigs, [trioconf.Directory(folder, key="entries")], make_converter(), Options())
    (state,) = loader.keyed
    inline: list[str] = []
    step = state._step

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        result = step(name, *args, **kwargs)
        if type(result) is bool:
            inline.append(name)
        return result

    state._step = spy  # type: ignore[method-assign]
    await loader.refresh(None)
    assert inline == ["small.json"]  # the large one went to the worker
    config, _ = loader.build()
    assert config.entries["large"].items == items
    assert config.entries["small"] == Big({"a": 1})


# --- cooperating writers' locks -----------------------------------------------------------------
#
# A FileGuard writer in another process rewrites a file in place, in two parts, holding the
# exclusive lock of its sidecar throughout. Each part alone is a valid document (the first is
# the start of the second), so a read that ignored the lock would apply a smaller config.


@attrs.frozen
class LockCase:
    mode: str  # "keyed": an entry of Config.tenants; "layered": a layer of Layered
    trigger: str  # "inotify", "poll" (a FolderPoller round) or "reload" (relists the folder)

    def source(self, folder: Path) -> trioconf.Directory:
        key = "tenants" if self.mode == "keyed" else None
        return trioconf.Directory(folder, pattern="*.toml", key=key)

    def files(self) -> tuple[str, list[str], Any, Any, Any]:
        """The first content, the writer's parts, and the config before, torn and after."""
        if self.mode == "keyed":
            before = Config(tenants={"acme": Tenant(1, "a")})
            torn = Config(tenants={"acme": Tenant(2)})
            after = Config(tenants={"acme": Tenant(2, "b")})
            return tenant(1, "a"), ["port = 2\n", 'host = "b"\n'], before, torn, after
        parts = ['name = "two"\n', "port = 2\n"]
        return (
            'name = "one"\nport = 1\n',
            parts,
            Layered("one", 1),
            Layered("two"),
            Layered("two", 2),
        )


LOCK_CASES = [
    LockCase(mode, trigger)
    for mode in ("keyed", "layered")
    for trigger in ("inotify", "poll", "reload")
]


@pytest.mark.parametrize("case", LOCK_CASES, ids=lambda c: f"{c.mode}-{c.trigger}")
async def test_a_file_rewritten_in_place_under_the_lock_is_never_read_torn(
    tmp_path: Path, case: LockCase
) -> None:
    from locked_writer import locked_writer, opens_of

    folder = tmp_path / "conf.d"
    folder.mkdir()
    path = folder / "acme.toml"
    first, parts, before, torn, after = case.files()
    path.write_text(first)
    cls = Config if case.mode == "keyed" else Layered
    backend = "inotify" if case.trigger == "inotify" else "poll"
    # reload(): a poll that never comes, so that nothing but reload() reads.
    interval = 3600 if case.trigger == "reload" else 0.05
    options: dict[str, Any] = {"debounce": 0, "backend": backend, "poll_interval": interval}
    sidecar = folder / ".acme.toml.lock"
    async with trioconf.open_reloader(cls, case.source(folder), **options) as live:
        assert live.current == before
        async with trio.open_nursery() as nursery, locked_writer(path, parts) as writer:
            await writer.wrote(0)
            if case.trigger == "reload":
                nursery.start_soon(live.reload)
            # The reloader has either applied the first part (the bug) or is waiting for the
            # writer's lock, holding the sidecar open (the writer holds it open too).
            await wait_until(lambda: live.version > 1 or opens_of(sidecar) > 0)
            await writer.finish()
        await until(live, lambda c: c == after)
        assert [r.config for r in live.history] == [before, after]  # type: ignore[union-attr]
        assert torn not in [r.config for r in live.history]  # type: ignore[union-attr]
        assert live.last_error is None


async def test_a_writer_that_starts_during_a_folder_pass_is_waited_for(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass over the whole folder looks for sidecars in its listing, and once more after
    its reads: a writer that created its sidecar after the listing is seen there."""
    import fcntl

    from locked_writer import opens_of

    loader = Loader(
        Config, [trioconf.Directory(folder, key="tenants")], make_converter(), Options()
    )
    await loader.refresh(None)
    (state,) = loader.keyed
    path, sidecar = folder / "acme.toml", folder / ".acme.toml.lock"
    list_names = state.list_names
    held: list[int] = []

    def listing_then_a_writer_starts() -> Any:
        listed = list_names()
        # What FileGuard.exclusive and an in-place write do, right after the listing: create
        # the sidecar, take its exclusive flock, write the first part (valid on its own).
        fd = os.open(sidecar, os.O_RDONLY | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)
        path.write_text("port = 2\n")
        return listed

    monkeypatch.setattr(state, "list_names", listing_then_a_writer_starts)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loader.refresh, None)
        await wait_until(lambda: opens_of(sidecar) > 1)  # the pass waits for the lock
        with path.open("a") as f:
            f.write('host = "b"\n')
        os.close(held.pop())  # the writer is done: its lock goes
    config, _ = loader.build()
    assert config.tenants == {"acme": Tenant(2, "b"), "beta": Tenant(2, "b")}


async def test_a_large_file_is_read_and_parsed_in_the_worker_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trioconf._formats import INLINE_LIMITS

    folder = tmp_path / "big.d"
    folder.mkdir()
    large = folder / "large.json"
    items = {f"key{i}": i for i in range(INLINE_LIMITS["json"] // 8)}
    large.write_text(json.dumps({"items": items}))
    assert large.stat().st_size > INLINE_LIMITS["json"]
    # Every read of this process (the worker is another one) that returns the large file's
    # bytes: there must be none, its size from fstat decides before the first.
    bytes_read: list[int] = []
    read = os.read

    def spy(fd: int, n: int) -> bytes:
        data = read(fd, n)
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == str(large):
                bytes_read.append(len(data))
        return data

    monkeypatch.setattr(os, "read", spy)
    source = trioconf.Directory(folder, key="entries")
    async with trioconf.open_reloader(Bigs, source, debounce=0) as live:
        assert live.current.entries["large"].items == items
        items["key0"] = -1
        large.write_text(json.dumps({"items": items}))  # one file's change, the event path
        await until(live, lambda c: c.entries["large"].items["key0"] == -1)
        await live.reload()  # the whole folder again
    assert bytes_read == []


# A fresh interpreter: the thread trio's cache keeps after starting a worker is kept busy, so
# structuring the large entry needs a new thread, and the address space left cannot hold its
# stack (RLIMIT_AS: a new thread's stack is 8 MB here), as on a machine out of memory or at
# its thread limit. The __main__ guard: the worker process imports this script again.
_NO_THREAD_CHILD = """
import json, resource, sys, threading
import attrs, trio, trio_parallel
sys.path.insert(0, sys.argv[2])
from worker_limits import vmsize
import trioconf
from trioconf._converter import make_converter
from trioconf._load import Loader, Options

@attrs.frozen
class Big:
    items: dict[str, int] = attrs.field(factory=dict)

@attrs.frozen
class Bigs:
    entries: dict[str, Big] = attrs.field(factory=dict)

async def main(folder):
    loader = Loader(Bigs, [trioconf.Directory(folder, key="entries")], make_converter(), Options())
    await trio_parallel.run_sync(int)  # a worker up (starting it took a thread, idle now)
    gate, held = threading.Event(), []
    def hold():
        held.append(1)
        gate.wait()
    idle = threading.active_count() - 1
    async with trio.open_nursery() as nursery:
        for _ in range(idle):
            nursery.start_soon(trio.to_thread.run_sync, hold)
        while len(held) < idle:
            await trio.sleep(0.01)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vmsize() + (6 << 20), hard))
        try:
            await loader.refresh(None)
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            gate.set()
    first = str(loader.error)
    await loader.refresh(None)
    entries = loader.build()[0].entries
    print(json.dumps({"first": first, "then": str(loader.error), "n": len(entries["large"].items)}))

if __name__ == "__main__":
    trio.run(main, sys.argv[1])
"""


async def test_no_thread_to_structure_a_large_entry_is_its_error_not_a_crash(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "big.d"
    folder.mkdir()
    large = folder / "large.json"
    large.write_text(json.dumps({"items": {f"key{i}": i for i in range(10_000)}}))
    script = tmp_path / "child.py"
    script.write_text(_NO_THREAD_CHILD)
    tests = Path(__file__).parent
    with trio.fail_after(PATIENCE * 4):
        done = await trio.run_process(
            [sys.executable, str(script), str(folder), str(tests)], capture_stdout=True
        )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result == {
        "first": f"{large}: no thread could start to structure it (can't start new thread)",
        "then": "None",  # threads again: the same file structures
        "n": 10_000,
    }


async def test_a_bug_while_structuring_in_the_thread_still_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the thread machinery's own failure is the file's error: what structuring raises
    there (trioconf's bugs, even one that is a RuntimeError) is re-raised as it was."""
    from trioconf._formats import INLINE_LIMITS

    folder = tmp_path / "big.d"
    folder.mkdir()
    items = {f"key{i}": i for i in range(INLINE_LIMITS["json"] // 8)}
    (folder / "large.json").write_text(json.dumps({"items": items}))
    loader = Loader(Bigs, [trioconf.Directory(folder, key="entries")], make_converter(), Options())
    (state,) = loader.keyed

    def bug(*args: Any) -> bool:
        raise RuntimeError("a trioconf bug")

    monkeypatch.setattr(state, "_settle", bug)
    with pytest.raises(RuntimeError, match="a trioconf bug"):
        await loader.refresh(None)


async def test_a_symlinked_entry_is_read_under_the_lock_beside_its_target(tmp_path: Path) -> None:
    """A ConfigMap-like folder of symlinks: the writer locks the sidecar beside the target
    (FileGuard resolves the path), and readers look for it there."""
    from locked_writer import locked_writer, opens_of

    data = tmp_path / "data"
    data.mkdir()
    (data / "acme.toml").write_text(tenant(1, "a"))
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "acme.toml").symlink_to(data / "acme.toml")
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Config, source, backend="poll", poll_interval=3600) as live:
        parts = ["port = 2\n", 'host = "b"\n']
        async with trio.open_nursery() as nursery, locked_writer(folder / "acme.toml", parts) as w:
            await w.wrote(0)
            assert (data / ".acme.toml.lock").exists()
            assert not (folder / ".acme.toml.lock").exists()
            nursery.start_soon(live.reload)
            await wait_until(lambda: live.version > 1 or opens_of(data / ".acme.toml.lock") > 0)
            await w.finish()
        assert [r.config for r in live.history] == [  # type: ignore[union-attr]
            Config(tenants={"acme": Tenant(1, "a")}),
            Config(tenants={"acme": Tenant(2, "b")}),
        ]


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_a_new_folder_file_written_in_two_steps_is_not_read_empty(
    folder: Path, backend: str
) -> None:
    # A tenant added by two programs (``: > f`` creates it, ``>> f`` fills it): the empty
    # file in between is no entry anyone wrote (here it lacks the required port, and would
    # be rejected with a warning). A file new to a listed folder that reads empty waits for
    # its grace like an emptied one.
    script = """
        : > "$1"
        sleep 0.1
        echo 'port = 3' >> "$1"
    """
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(
        Config, source, backend=backend, poll_interval=0.02, debounce=0
    ) as live:
        await trio.run_process(["sh", "-c", script, "sh", str(folder / "gamma.toml")])
        await until(live, lambda c: "gamma" in c.tenants)
        assert live.statistics().rejected == 0, live.last_error
        assert live.current.tenants["gamma"] == Tenant(3)


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_a_folder_file_emptied_for_a_moment_never_applies_empty(
    tmp_path: Path, backend: str
) -> None:
    # Issue 8.7 for folders: ``: > f; ... >> f`` (two programs, each closing the file) leaves
    # the file empty for a moment. Every prefix is a valid layer; only the emptied-file rule
    # keeps "no settings" out. Emptied for good, it applies once the grace has passed.
    folder = tmp_path / "conf.d"
    folder.mkdir()
    (folder / "10-base.toml").write_text('name = "base"\n')
    override = folder / "20-port.toml"
    override.write_text("port = 1\n")
    script = """
        : > "$1"
        sleep 0.1
        echo 'port = 2' >> "$1"
    """
    async with trioconf.open_reloader(
        Layered, trioconf.Directory(folder), backend=backend, poll_interval=0.05, debounce=0
    ) as live:
        await trio.run_process(["sh", "-c", script, "sh", str(override)])
        await until(live, lambda c: c.port == 2)
        override.write_text("")  # emptied for good: its settings go after missing_grace
        emptied = trio.current_time()
        await until(live, lambda c: c.port == 0)
        assert trio.current_time() - emptied >= 1.0  # the default missing_grace
        applied = [r.config for r in live.history if isinstance(r, trioconf.Update)]
    assert [c.port for c in applied] == [1, 2, 0], applied


@attrs.frozen
class _Strict:
    host: str
    port: int = 1


@attrs.frozen
class _StrictConfig:
    tenants: dict[str, _Strict] = attrs.Factory(dict)


def test_a_missing_field_in_a_keyed_entry_names_its_file(folder: Path) -> None:
    # The entry is the file: no line holds a field that is missing, but the file is named.
    (folder / "acme.toml").write_text("port = 2\n")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(_StrictConfig, trioconf.Directory(folder, key="tenants"))
    (error,) = info.value.errors
    assert error.path == "tenants.acme.host"
    assert error.source == str(folder / "acme.toml")
    assert str(error) == f"{folder / 'acme.toml'}: tenants.acme.host: missing required field"
