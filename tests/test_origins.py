"""``Live.origin`` per value (file and line, the env variable, "default"), per section (the set
of its sources), inside lists and keyed Directories; and ``Live.explain``, the whole snapshot
with each value's origin, secrets masked.

Every config here comes from real files (TOML, YAML, JSON) and a real environment mapping; the
line numbers asserted are those of the texts written below, so a test fails if a value is
attributed to the wrong layer, the wrong line, or the section's last layer (the bug reported:
``origin("rate_limit")`` said ``env SVC_*`` while ``burst`` came from ``local.yaml``).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import pathlib
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from support import PATIENCE, open_live, write_atomic

import trioconf
from trioconf import _formats
from trioconf._load import load_with_origins


@attrs.frozen
class Server:
    host: str
    port: int = 80


@attrs.frozen
class RateLimit:
    rate: int = 10
    burst: int = 20
    window: int = 60


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432
    password: trioconf.SecretStr = trioconf.SecretStr("")
    token: str = trioconf.field(default="", secret=True)


@attrs.frozen
class Config:
    name: str = "app"
    db: Db = Db()
    rate_limit: RateLimit = RateLimit()
    servers: list[Server] = attrs.field(factory=list)
    hosts: list[str] = attrs.field(factory=list)


BASE = """\
name = "svc"
hosts = ["h1", "h2"]

[db]
host = "db1"
port = 5432
password = "hunter2"

[rate_limit]
window = 30

[[servers]]
host = "a"

[[servers]]
host = "b"
port = 81
"""

LOCAL = """\
rate_limit:
  burst: 50
"""

ENV = {"SVC_RATE_LIMIT__RATE": "7", "SVC_DB__TOKEN": "t0ps3cret"}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    base = tmp_path / "base.toml"
    base.write_text(BASE)
    local = tmp_path / "local.yaml"
    local.write_text(LOCAL)
    return base, local


def reloader(files: tuple[Path, Path]) -> Any:
    return trioconf.open_reloader(Config, *files, env_prefix="SVC_", environ=ENV, debounce=0)


async def test_a_value_names_its_file_and_line(files: tuple[Path, Path]) -> None:
    base, local = files
    async with reloader(files) as live:
        assert live.origin("name") == f"{base}:1"
        assert live.origin("db.port") == f"{base}:6"
        assert live.origin("rate_limit.burst") == f"{local}:2"


async def test_an_env_value_names_its_variable(files: tuple[Path, Path]) -> None:
    async with reloader(files) as live:
        assert live.origin("rate_limit.rate") == "env SVC_RATE_LIMIT__RATE"
        assert live.origin("db.token") == "env SVC_DB__TOKEN"


async def test_a_value_no_source_sets_is_a_default(files: tuple[Path, Path]) -> None:
    async with reloader(files) as live:
        assert live.current.rate_limit.burst == 50  # the section is set, its field is not
        assert live.origin("servers.0.port") == "default"


async def test_a_section_names_each_of_its_sources_in_field_order(
    files: tuple[Path, Path],
) -> None:
    """The issue's case: ``rate`` from the environment, ``burst`` from local.yaml (the last
    file layer holding the table), ``window`` from base.toml. Without lines: a section spans
    several."""
    base, local = files
    async with reloader(files) as live:
        assert live.origin("rate_limit") == f"env SVC_RATE_LIMIT__RATE, {local}, {base}"
        assert live.origin("db") == f"{base}, env SVC_DB__TOKEN"


async def test_list_items_and_their_fields_are_answered(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    base, _ = files
    hosts = tmp_path / "hosts.json"
    hosts.write_text('{\n  "hosts": [\n    "x1",\n    "x2"\n  ]\n}\n')
    async with trioconf.open_reloader(Config, base, hosts, debounce=0) as live:
        assert live.origin("servers") == f"{base}:12"  # the list: its first [[servers]]
        assert live.origin("servers.1") == f"{base}:15"
        assert live.origin("servers[1]") == f"{base}:15"
        assert live.origin("servers.1.host") == f"{base}:16"
        assert live.origin("servers[1].port") == f"{base}:17"
        # A list comes whole from one layer: hosts.json's replaced base.toml's.
        assert live.origin("hosts") == f"{hosts}:2"
        assert live.origin("hosts.1") == f"{hosts}:4"
        for missing in ("servers.2", "servers.x", "servers.0.nope", "hosts.-1", "hosts.2"):
            with pytest.raises(KeyError):
                live.origin(missing)


async def test_unknown_paths_are_key_errors(files: tuple[Path, Path]) -> None:
    async with reloader(files) as live:
        for path in ("", "nope", "db.nope", "db.port.x", "db..port", "name.0"):
            with pytest.raises(KeyError):
                live.origin(path)


async def test_origins_follow_the_snapshot_after_a_reload(files: tuple[Path, Path]) -> None:
    base, local = files
    async with reloader(files) as live:
        assert live.origin("rate_limit.burst") == f"{local}:2"
        write_atomic(local, "# moved down\nname: local\nrate_limit:\n  burst: 51\n")
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.rate_limit.burst == 51)
        assert live.origin("rate_limit.burst") == f"{local}:4"
        assert live.origin("name") == f"{local}:2"
        write_atomic(local, "{}\n")
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.rate_limit.burst == 20)
        assert live.origin("rate_limit.burst") == "default"
        assert live.origin("name") == f"{base}:1"


async def test_lines_are_looked_for_only_when_asked(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading and reloading never read a file's text again for positions: only a question
    does (a valid config has no error to locate either)."""
    calls: list[object] = []
    real = _formats.locate

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(_formats, "locate", counting)
    _, local = files
    async with reloader(files) as live:
        write_atomic(local, "rate_limit:\n  burst: 51\n")
        with trio.fail_after(PATIENCE):
            await live.wait_value(lambda c: c.rate_limit.burst == 51)
        assert calls == []
        assert live.origin("rate_limit.burst") == f"{local}:2"
        assert len(calls) == 1


@attrs.frozen
class Tenant:
    port: int
    host: str = "localhost"


@attrs.frozen
class Tenants:
    name: str = "app"
    tenants: dict[str, Tenant] = attrs.field(factory=dict)


async def test_a_keyed_entry_names_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "acme.toml").write_text("port = 1\n")
    (folder / "acme.eu.toml").write_text("port = 2\n")
    base = tmp_path / "base.toml"
    base.write_text('name = "shop"\n')
    source = trioconf.Directory(folder, key="tenants")
    async with trioconf.open_reloader(Tenants, base, source, debounce=0) as live:
        # No line: the folder keeps no entry's bytes once its entry is built.
        assert live.origin("tenants.acme.port") == str(folder / "acme.toml")
        assert live.origin("tenants.acme.eu.port") == str(folder / "acme.eu.toml")
        assert live.origin("tenants.acme") == str(folder / "acme.toml")
        assert live.origin("tenants") == str(folder)
        with pytest.raises(KeyError):
            live.origin("tenants.beta")
        text = live.explain()
    assert text.splitlines() == [
        f"name                 = 'shop'       # {base}:1",
        f"tenants.acme.port    = 1            # {folder / 'acme.toml'}",
        f"tenants.acme.host    = 'localhost'  # {folder / 'acme.toml'}",
        f"tenants.acme.eu.port = 2            # {folder / 'acme.eu.toml'}",
        f"tenants.acme.eu.host = 'localhost'  # {folder / 'acme.eu.toml'}",
    ]


class Memory(trioconf.Source):
    """A source of values kept in memory, which names the key each value was stored under."""

    name = "memory"

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    async def read(self, changes: frozenset[Hashable] | None) -> Mapping[str, Any]:
        return self.data

    def origin(self, path: tuple[str, ...]) -> str:
        return f"memory key {'/'.join(path)}"


async def test_a_users_source_says_its_own_origin(files: tuple[Path, Path]) -> None:
    base, _ = files
    source = Memory({"servers": [{"host": "m"}], "db": {"port": 1}})
    async with trioconf.open_reloader(Config, base, source, debounce=0) as live:
        assert live.origin("db.port") == "memory key db/port"
        assert live.origin("servers.0.host") == "memory key servers/0/host"
        assert live.origin("db") == f"{base}, memory key db/port, default"


async def test_explain_shows_every_value_with_its_origin_and_masks_secrets(
    files: tuple[Path, Path],
) -> None:
    base, local = files
    async with reloader(files) as live:
        text = live.explain()
        document = json.loads(live.explain(format="json"))
    assert text.splitlines() == [
        f"name              = 'svc'         # {base}:1",
        f"db.host           = 'db1'         # {base}:5",
        f"db.port           = 5432          # {base}:6",
        f"db.password       = **********    # {base}:7",
        "db.token          = **********    # env SVC_DB__TOKEN",
        "rate_limit.rate   = 7             # env SVC_RATE_LIMIT__RATE",
        f"rate_limit.burst  = 50            # {local}:2",
        f"rate_limit.window = 30            # {base}:10",
        f"servers[0].host   = 'a'           # {base}:13",
        "servers[0].port   = 80            # default",
        f"servers[1].host   = 'b'           # {base}:16",
        f"servers[1].port   = 81            # {base}:17",
        f"hosts             = ['h1', 'h2']  # {base}:2",
    ]
    assert "hunter2" not in text
    assert "t0ps3cret" not in text
    assert list(document) == [
        "name",
        "db.host",
        "db.port",
        "db.password",
        "db.token",
        "rate_limit.rate",
        "rate_limit.burst",
        "rate_limit.window",
        "servers[0].host",
        "servers[0].port",
        "servers[1].host",
        "servers[1].port",
        "hosts",
    ]
    assert document["db.port"] == {"value": 5432, "origin": f"{base}:6"}
    assert document["db.password"] == {"value": "**********", "origin": f"{base}:7"}
    assert document["db.token"] == {"value": "**********", "origin": "env SVC_DB__TOKEN"}
    assert document["hosts"] == {"value": ["h1", "h2"], "origin": f"{base}:2"}


class Level(enum.Enum):
    INFO = "info"
    DEBUG = "debug"


@attrs.frozen
class Kinds:
    log_dir: pathlib.Path = pathlib.Path("/var/log/app")
    timeout: dt.timedelta = dt.timedelta(seconds=90)
    slow: dt.timedelta = dt.timedelta(hours=1, milliseconds=250)
    level: Level = Level.INFO
    since: dt.date = dt.date(2026, 1, 2)
    ratio: float = 0.5
    tags: list[str] = attrs.field(factory=list)
    labels: dict[str, str] = attrs.field(factory=dict)
    note: str | None = None


def test_explain_writes_values_as_a_config_file_would(tmp_path: Path) -> None:
    """Text: strings quoted, a Path as its text, an enum as its value, a duration as trioconf
    reads one, a date in ISO 8601, empty containers as ``[]`` and ``{}``. JSON: the same, as
    JSON values (text where JSON has no type)."""
    path = tmp_path / "kinds.toml"
    path.write_text('level = "debug"\ntimeout = "5m"\nratio = nan\n')
    config, origins = load_with_origins(Kinds, path, allow_nan=True)
    live = open_live(config, origins=origins)  # what a reloader's would hold for this load
    assert live.explain().splitlines() == [
        "log_dir = '/var/log/app'  # default",
        f"timeout = '5m'            # {path}:2",
        "slow    = '1h250ms'       # default",
        f"level   = 'debug'         # {path}:1",
        "since   = '2026-01-02'    # default",
        f"ratio   = nan             # {path}:3",
        "tags    = []              # default",
        "labels  = {}              # default",
        "note    = None            # default",
    ]
    values = {path: row["value"] for path, row in json.loads(live.explain("json")).items()}
    assert values == {
        "log_dir": "/var/log/app",
        "timeout": "5m",
        "slow": "1h250ms",
        "level": "debug",
        "since": "2026-01-02",
        "ratio": "nan",
        "tags": [],
        "labels": {},
        "note": None,
    }


def test_explain_refuses_an_unknown_format() -> None:
    live = open_live(Kinds())
    with pytest.raises(ValueError, match="'text' or 'json'"):
        live.explain(format="yaml")


TOML_DOC = '''\
# a comment
title = "x" # trailing
"quoted key" = 1
a.b.c = 2
a.d = { e = 3, f = [4, { g = 5 }], h = { i = "]" } }
list = [
  1, # one
  [2, 3],
  "four,",
]
text = """
multi
line ] }
"""

[table]
k = 'v'
sub.k = 6

[[servers]]
host = "a"
[servers.meta]
zone = "z1"

[[servers]]
host = "b"
ports = [80, 443]
'''

YAML_DOC = """\
defaults: &defaults
  port: 80
  tags: [a, b]
servers:
  - <<: *defaults
    host: a
  - host: b
    port: 81
flow: {x: 1, y: [2, 3]}
"""

JSON_DOC = '{\n  "a": {"b": [1, {"c": 2}], "d": "e"},\n  "f": [],\n  "g": {}\n}\n'


def _every_path(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _every_path(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _every_path(value, (*prefix, index))
    return out


@pytest.mark.parametrize(
    ("text", "fmt"), [(TOML_DOC, "toml"), (YAML_DOC, "yaml"), (JSON_DOC, "json")]
)
def test_one_reading_of_a_text_locates_every_path_as_locate_does(text: str, fmt: Any) -> None:
    """``explain`` reads a file's text once for all its values; each answer must still be
    ``locate``'s own, for every path the document holds (and none for one it does not)."""
    from trioconf._formats._positions import positions

    raw = text.encode()
    data = _formats.parse(raw, fmt, "doc")
    paths = _every_path(data)
    assert len(paths) > 6
    located = positions(raw, fmt)
    for path in [*paths, ("nope",), ("a", 99)]:
        assert located(path) == _formats.locate(raw, fmt, path), path
    assert all(located(path) is not None for path in paths if path[-1] != "<<")


async def test_explain_reads_each_file_once_for_all_its_values(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not once per value (``locate`` reads the whole text each time: thousands of values in
    a large file made that minutes)."""
    from trioconf._formats import _locate

    calls: list[object] = []
    real = _locate._locate_text

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(_locate, "_locate_text", counting)
    async with reloader(files) as live:
        assert ":13" in live.explain()
        assert calls == []
