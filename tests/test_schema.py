"""``trioconf.json_schema``: held against real documents, in both directions.

A schema is only as good as its agreement with the loader: every file below is loaded with
``trioconf.load`` and validated with the ``jsonschema`` library (formats asserted, as editors
do), and the two must say the same. Documents are validated as an editor sees them: dates and
times as the text the file writes (``as_editor_sees``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import functools
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import attrs
import cattrs
import jsonschema
import pytest
from cattrs.strategies import configure_tagged_union
from hypothesis import example, given, settings
from hypothesis import strategies as st

import trioconf
from trioconf._formats import parse
from trioconf._schema import (
    DATE_PATTERN,
    DATETIME_PATTERN,
    DECIMAL_PATTERN,
    DRAFT,
    DURATION_PATTERN,
    TIME_PATTERN,
    format_duration,
)
from trioconf._sources import format_of
from trioconf._types import parse_duration

# --- the config classes: one of each kind of field trioconf reads ------------------------------


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


@attrs.frozen
class Db:
    """Where the data lives."""

    host: str = "localhost"
    """The database server's host name."""
    port: int = 5432
    password: trioconf.SecretStr | None = None


@attrs.frozen
class Postgres:
    host: str
    port: int = 5432


@attrs.frozen
class Sqlite:
    path: str


@attrs.frozen
class Tenant:
    """One customer."""

    plan: Literal["free", "pro"] = "free"
    seats: int = 1
    api_key: str = trioconf.field(default="tenant-default-key", secret=True)


@attrs.frozen
class Service:
    """A service with one field of each kind."""

    name: str
    debug: bool = False
    workers: int = trioconf.field(default=4, restart_only=True)
    ratio: float = 0.5
    mode: Mode = Mode.FAST
    level: Level = Level.LOW
    style: Literal["plain", "json"] = "plain"
    db: Db = attrs.Factory(Db)
    store: Postgres | Sqlite | None = None
    timeout: dt.timedelta = dt.timedelta(seconds=30)
    connect: Annotated[dt.timedelta, trioconf.unit("s")] = dt.timedelta(seconds=3)
    price: decimal.Decimal = decimal.Decimal("0")
    started: dt.datetime | None = None
    day: dt.date | None = None
    at: dt.time | None = None
    ident: uuid.UUID | None = None
    address: ipaddress.IPv4Address | None = None
    address6: ipaddress.IPv6Address | None = None
    allowed: list[ipaddress.IPv4Network] = attrs.Factory(list)
    data_dir: Path = Path("/var/lib/svc")
    tags: frozenset[str] = frozenset()
    pair: tuple[int, str] = (0, "")
    retries: tuple[dt.timedelta, ...] = ()
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    limits: Mapping[str, int] = attrs.Factory(dict)
    levels: dict[Mode, int] = attrs.Factory(dict)
    token: trioconf.SecretStr = trioconf.SecretStr("default-token-value")
    extra: Any = None
    computed: int = attrs.field(init=False, default=0)


FULL_TOML = """\
name = "svc"
debug = true
workers = 8
ratio = 1
mode = "safe"
level = 2
style = "json"
timeout = "1h30m"
connect = 1.5
price = 19.99
started = 2024-05-01T12:30:00Z
day = 2024-05-01
at = 12:30:00
ident = "12345678-1234-5678-1234-567812345678"
address = "10.0.0.1"
address6 = "2001:db8::1"
allowed = ["10.0.0.0/8", "192.168.0.0/255.255.0.0"]
data_dir = "data"
tags = ["a", "b", "a"]
pair = [1, "one"]
retries = ["100ms", "PT1S", "2m"]
limits = { cpu = 2 }
levels = { fast = 1, safe = 2 }
token = "s3cret"
extra = [1, "two"]

[db]
host = "db.internal"
password = "pw"

[store]
path = "app.db"

[tenants.acme]
plan = "pro"
seats = 10
api_key = "k"
"""

FULL_YAML = """\
name: svc
debug: false
timeout: PT1H30M
connect: 2m
price: "19.99"
started: 2024-05-01 12:30:00
day: 2024-05-01
store:
  host: db.internal
db: {host: db.internal, port: 6432}
backup: null
tenants:
  acme: {plan: free}
""".replace("backup: null\n", "address: null\n")

FULL_JSON = json.dumps(
    {
        "name": "svc",
        "timeout": "-5m",
        "connect": "90s",
        "price": "1_000.5",
        "started": "2024-05-01T12:30:00.123456+02:00",
        "at": "12:30",  # ("T12:30" too from 3.11: tests the patterns against fromisoformat)
        "ident": "12345678-1234-5678-1234-567812345678",
        "address6": "::ffff:10.0.0.1",
        "retries": [],
        "tenants": {},
        "extra": {"anything": [None, True]},
    }
)

# (file name, text, whether trioconf accepts it): the schema must agree on every one.
CASES: list[tuple[str, str, bool]] = [
    ("minimal.toml", 'name = "svc"\n', True),
    ("full.toml", FULL_TOML, True),
    ("full.yaml", FULL_YAML, True),
    ("full.json", FULL_JSON, True),
    ("union-by-shape.toml", 'name = "svc"\n[store]\nhost = "h"\nport = 1\n', True),
    ("unit-int.toml", 'name = "svc"\nconnect = 90\n', True),
    ("decimal-exp.toml", 'name = "svc"\nprice = "1e-30"\n', True),
    # and what trioconf refuses
    ("empty.toml", "", False),
    ("missing-name.toml", "debug = true\n", False),
    ("null-name.yaml", "name: ~\n", False),
    ("name-int.toml", "name = 5\n", False),
    ("bool-string.yaml", "name: svc\ndebug: 'yes'\n", False),
    ("bool-int.json", '{"name": "svc", "debug": 1}', False),
    ("int-string.toml", 'name = "svc"\nworkers = "8"\n', False),
    ("int-float.toml", 'name = "svc"\nworkers = 8.5\n', False),
    ("int-bool.toml", 'name = "svc"\nworkers = true\n', False),
    ("float-string.toml", 'name = "svc"\nratio = "0.5"\n', False),
    ("enum-unknown.toml", 'name = "svc"\nmode = "slow"\n', False),
    ("intenum-string.toml", 'name = "svc"\nlevel = "2"\n', False),
    ("intenum-unknown.toml", 'name = "svc"\nlevel = 3\n', False),
    ("literal-unknown.toml", 'name = "svc"\nstyle = "xml"\n', False),
    ("unknown-key.toml", 'name = "svc"\nnmae = "x"\n', False),
    ("init-false.toml", 'name = "svc"\ncomputed = 1\n', False),
    ("nested-unknown.toml", 'name = "svc"\n[db]\nhots = "x"\n', False),
    ("nested-bad.toml", 'name = "svc"\n[db]\nport = "5432"\n', False),
    ("nested-not-table.toml", 'name = "svc"\ndb = "postgres://x"\n', False),
    ("union-no-fit.toml", 'name = "svc"\n[store]\nport = 1\n', False),
    ("union-mixed.toml", 'name = "svc"\n[store]\nhost = "h"\npath = "p"\n', False),
    ("duration-bare.toml", 'name = "svc"\ntimeout = 90\n', False),
    ("duration-numeric-text.toml", 'name = "svc"\ntimeout = "90"\n', False),
    ("duration-words.toml", 'name = "svc"\ntimeout = "1 hour"\n', False),
    ("duration-years.toml", 'name = "svc"\ntimeout = "P1Y"\n', False),
    ("duration-upper.toml", 'name = "svc"\ntimeout = "1H"\n', False),
    ("duration-empty-iso.toml", 'name = "svc"\ntimeout = "PT"\n', False),
    ("unit-bool.toml", 'name = "svc"\nconnect = true\n', False),
    ("decimal-word.toml", 'name = "svc"\nprice = "cheap"\n', False),
    ("decimal-bool.toml", 'name = "svc"\nprice = true\n', False),
    ("decimal-nan.toml", 'name = "svc"\nprice = "NaN"\n', False),
    ("datetime-word.toml", 'name = "svc"\nstarted = "yesterday"\n', False),
    ("date-month.toml", 'name = "svc"\nday = "2024-13-01"\n', False),
    ("date-with-time.toml", 'name = "svc"\nday = "2024-05-01T10:00:00"\n', False),
    ("time-hour.toml", 'name = "svc"\nat = "25:00"\n', False),
    ("uuid-short.toml", 'name = "svc"\nident = "1234"\n', False),
    ("ipv4-octet.toml", 'name = "svc"\naddress = "10.0.0.256"\n', False),
    ("ipv4-zero.toml", 'name = "svc"\naddress = "010.0.0.1"\n', False),
    ("ipv4-int.toml", 'name = "svc"\naddress = 167772161\n', False),
    ("ipv6-v4.toml", 'name = "svc"\naddress6 = "10.0.0.1"\n', False),
    ("network-prefix.toml", 'name = "svc"\nallowed = ["10.0.0.0/33"]\n', False),
    ("list-not-list.toml", 'name = "svc"\nallowed = "10.0.0.0/8"\n', False),
    ("path-int.toml", 'name = "svc"\ndata_dir = 5\n', False),
    ("set-item.toml", 'name = "svc"\ntags = ["a", 1]\n', False),
    ("tuple-short.toml", 'name = "svc"\npair = [1]\n', False),
    ("tuple-long.toml", 'name = "svc"\npair = [1, "a", 2]\n', False),
    ("tuple-order.toml", 'name = "svc"\npair = ["a", 1]\n', False),
    ("variadic-item.toml", 'name = "svc"\nretries = ["1s", 2]\n', False),
    ("mapping-value.toml", 'name = "svc"\nlimits = { cpu = "2" }\n', False),
    ("mapping-key.toml", 'name = "svc"\nlevels = { slow = 1 }\n', False),
    ("entry-unknown.toml", 'name = "svc"\n[tenants.acme]\nplna = "pro"\n', False),
    ("entry-literal.toml", 'name = "svc"\n[tenants.acme]\nplan = "gold"\n', False),
    ("entry-not-table.yaml", "name: svc\ntenants:\n  acme: pro\n", False),
    ("secret-int.toml", 'name = "svc"\ntoken = 1234\n', False),
    ("secret-field-int.toml", 'name = "svc"\n[tenants.a]\napi_key = 1\n', False),
]


def as_editor_sees(value: Any) -> Any:
    """The document as editors validate it: TOML's and YAML's dates and times are the text
    the file writes (their ISO form here), everything else JSON's own values."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: as_editor_sees(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_editor_sees(item) for item in value]
    return value


def document(path: Path) -> Any:
    """``path`` parsed as trioconf parses it, as an editor sees it."""
    fmt = format_of(path.name, None)
    assert fmt is not None
    return as_editor_sees(parse(path.read_bytes(), fmt, str(path)))


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@functools.cache
def service_validator() -> jsonschema.Draft202012Validator:
    return validator(trioconf.json_schema(Service))


def loads(cls: type[Any], *sources: Any, **kw: Any) -> bool:
    try:
        trioconf.load(cls, *sources, **kw)
    except trioconf.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("name", "text", "accepted"), CASES, ids=[c[0] for c in CASES])
def test_schema_agrees_with_load(tmp_path: Path, name: str, text: str, accepted: bool) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert loads(Service, path) is accepted
    errors = list(service_validator().iter_errors(document(path)))
    assert (not errors) is accepted, [e.message for e in errors]


def test_allow_unknown_mirrors_load(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "svc"\nnmae = "typo"\n[db]\nhots = "x"\n')
    assert not loads(Service, path)
    assert loads(Service, path, forbid_unknown=False)
    open_schema = trioconf.json_schema(Service, forbid_unknown=False)
    assert validator(open_schema).is_valid(document(path))
    assert not validator(trioconf.json_schema(Service)).is_valid(document(path))
    assert "additionalProperties" not in open_schema
    assert "additionalProperties" not in open_schema["$defs"]["Db"]


def test_shape_of_the_schema() -> None:
    schema = trioconf.json_schema(Service)
    assert schema["$schema"] == DRAFT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Service"
    assert schema["description"] == "A service with one field of each kind."
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["db"]["$ref"] == "#/$defs/Db"
    assert schema["$defs"]["Db"]["description"] == "Where the data lives."
    assert schema["$defs"]["Db"]["properties"]["host"] == {
        "type": "string",
        "description": "The database server's host name.",
        "default": "localhost",
    }
    assert props["level"]["enum"] == [1, 2]
    assert props["mode"] == {"enum": ["fast", "safe"], "default": "fast"}
    assert props["timeout"]["default"] == "30s"
    assert props["data_dir"]["default"] == "/var/lib/svc"
    assert props["pair"]["default"] == [0, ""]
    assert props["ident"]["anyOf"][0]["format"] == "uuid"
    assert props["address"]["anyOf"][0]["format"] == "ipv4"
    assert props["address6"]["anyOf"][0]["format"] == "ipv6"
    assert "Restart only" in props["workers"]["description"]
    assert props["extra"] == {"default": None}
    assert props["tenants"]["additionalProperties"] == {"$ref": "#/$defs/Tenant"}
    # Each class once, however often it is used.
    assert sorted(schema["$defs"]) == ["Db", "Postgres", "Sqlite", "Tenant"]
    json.dumps(schema)  # plain JSON throughout


def test_secrets_are_write_only_and_their_defaults_never_written() -> None:
    schema = trioconf.json_schema(Service)
    text = json.dumps(schema)
    assert "default-token-value" not in text  # a SecretStr default
    assert "tenant-default-key" not in text  # a secret field's default, in a nested class
    token = schema["properties"]["token"]
    assert token["writeOnly"] is True
    assert "Secret" in token["description"]
    api_key = schema["$defs"]["Tenant"]["properties"]["api_key"]
    assert api_key["writeOnly"] is True
    assert "default" not in api_key
    # Db can hold a secret (its password): the default instance is not written out either.
    assert "default" not in schema["properties"]["db"]


@attrs.frozen
class Admin:
    user: str = "admin-default-user"
    roles: list[str] = attrs.Factory(lambda: ["root-default-role"])


@attrs.frozen
class Vault:
    admin: Admin = trioconf.field(factory=Admin, secret=True)
    keys: dict[str, str] = trioconf.field(factory=lambda: {"k": "v"}, secret=True)
    login: Admin = attrs.Factory(Admin)  # the same class, not secret here


def test_nothing_below_a_secret_mark_carries_a_default() -> None:
    schema = trioconf.json_schema(Vault)
    secret_admin = schema["properties"]["admin"]
    assert secret_admin["writeOnly"] is True
    assert secret_admin["$ref"] == "#/$defs/Admin-secret"
    assert "default" not in json.dumps(schema["$defs"]["Admin-secret"])
    assert schema["properties"]["keys"]["writeOnly"] is True
    assert "default" not in schema["properties"]["keys"]
    # Where the class is not secret, its defaults help the editor as usual.
    assert schema["properties"]["login"] == {
        "$ref": "#/$defs/Admin",
        "default": {"user": "admin-default-user", "roles": ["root-default-role"]},
    }
    assert "root-default-role" not in json.dumps(schema["$defs"]["Admin-secret"])
    assert schema["$defs"]["Admin"]["properties"]["user"]["default"] == "admin-default-user"
    for def_name, body in schema["$defs"].items():
        if def_name.endswith("-secret"):
            assert all("default" not in prop for prop in body["properties"].values())


@attrs.frozen
class Node:
    name: str
    children: list[Node] = attrs.Factory(list)
    partner: Other | None = None


@attrs.frozen
class Other:
    back: Node | None = None


def test_recursive_classes(tmp_path: Path) -> None:
    schema = trioconf.json_schema(Node)
    assert schema["properties"]["children"]["items"] == {"$ref": "#"}
    assert schema["$defs"]["Other"]["properties"]["back"]["anyOf"][0] == {"$ref": "#"}
    check = validator(schema)
    good = tmp_path / "tree.yaml"
    good.write_text(
        "name: root\nchildren:\n  - name: a\n    children:\n      - name: a1\n"
        "        partner: {back: {name: deep}}\n  - name: b\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: root\nchildren:\n  - name: a\n    children:\n      - name: 5\n")
    assert loads(Node, good)
    assert check.is_valid(document(good))
    assert not loads(Node, bad)
    assert not check.is_valid(document(bad))
    # Reached from another root, the recursive class is a $defs entry referring to itself.
    wrapped = trioconf.json_schema(Other)
    assert wrapped["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


class Outer:
    @attrs.frozen
    class Db:
        url: str
        """The connection string."""


@attrs.frozen
class TwoDbs:
    main: Db
    other: Outer.Db
    hidden: Outer.Db = trioconf.field(secret=True)


def test_classes_of_the_same_name_get_a_def_each() -> None:
    schema = trioconf.json_schema(TwoDbs)
    assert schema["properties"]["main"] == {"$ref": "#/$defs/Db"}
    assert schema["properties"]["other"] == {"$ref": "#/$defs/Outer.Db"}
    assert schema["$defs"]["Outer.Db"]["properties"]["url"]["description"] == (
        "The connection string."
    )
    assert "description" not in schema["$defs"]["Db"]["properties"]["port"]
    assert schema["properties"]["hidden"]["$ref"] == "#/$defs/Outer.Db-secret"
    assert sorted(schema["$defs"]) == ["Db", "Outer.Db", "Outer.Db-secret"]
    check = validator(schema)
    db = {"host": "h", "port": 1}
    assert check.is_valid({"main": db, "other": {"url": "u"}, "hidden": {"url": "v"}})
    assert not check.is_valid({"main": {"url": "u"}, "other": db, "hidden": {"url": "v"}})


@attrs.frozen
class Org:
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    vaults: dict[str, Vault] = trioconf.field(factory=dict, secret=True)
    scores: dict[str, int] = attrs.Factory(dict)
    name: str = "org"
    db: Db = attrs.Factory(Db)


@attrs.frozen
class Holding:
    org: Org = attrs.Factory(Org)


def test_entry_schema_checks_one_keyed_folder_file(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    schema = trioconf.json_schema(Org, entry="tenants")
    assert schema["title"] == "Tenant"
    assert schema["$schema"] == DRAFT
    assert "Org.tenants" in schema["description"]
    assert "tenant-default-key" not in json.dumps(schema)
    check = validator(schema)
    for name, text, accepted in [
        ("acme.toml", 'plan = "pro"\nseats = 3\n', True),
        ("beta.yaml", "seats: 2\napi_key: k\n", True),
        ("gamma.json", "{}", True),
        ("bad1.toml", 'plan = "gold"\n', False),
        ("bad2.toml", 'seats = "3"\n', False),
        ("bad3.toml", 'name = "a tenant has no name"\n', False),
    ]:
        for old in folder.iterdir():
            old.unlink()
        (folder / name).write_text(text)
        source = trioconf.Directory(folder, key="tenants")
        assert loads(Org, source) is accepted, name
        assert check.is_valid(document(folder / name)) is accepted, name


def test_entry_below_nested_classes_and_secret_entries() -> None:
    assert trioconf.json_schema(Holding, entry="org.tenants")["title"] == "Tenant"
    vault = trioconf.json_schema(Org, entry="vaults")
    assert vault["title"] == "Vault"
    assert vault["writeOnly"] is True
    assert "default" not in json.dumps(vault)


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("name", "name is a str"),
        ("scores", "dict[str, int]"),
        ("db", "name is a Db"),
        ("nothing", "Org has no field 'nothing'"),
        ("name.x", "name is not a class with fields"),
        ("", "dotted field name"),
        ("tenants.", "dotted field name"),
    ],
)
def test_entry_that_is_no_mapping_of_classes_is_refused(entry: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why.replace("name is a Db", "db is a Db"))):
        trioconf.json_schema(Org, entry=entry)


def test_entry_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="dotted field name"):
        trioconf.json_schema(Org, entry=5)  # type: ignore[arg-type]


class Plain:
    """No attrs, no dataclass: trioconf has no way to build one."""


@attrs.frozen
class HasPlain:
    thing: Plain


def test_a_class_load_refuses_is_a_type_error_with_loads_message() -> None:
    with pytest.raises(TypeError) as loading:
        trioconf.load(HasPlain)
    with pytest.raises(TypeError) as describing:
        trioconf.json_schema(HasPlain)
    assert str(describing.value) == str(loading.value)
    with pytest.raises(TypeError, match="must be a class"):
        trioconf.json_schema(Service(name="x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attrs class or a dataclass, not int"):
        trioconf.json_schema(int)


@attrs.frozen
class Money:
    cents: int
    currency: str


@attrs.frozen
class Shop:
    price: Money
    prices: list[Money] = attrs.Factory(list)
    fallback: Plain | None = None


def configure_money(converter: cattrs.Converter) -> None:
    def money(value: Any, _: Any) -> Money:
        found = re.fullmatch(r"(\d+)\.(\d\d) ([A-Z]{3})", value) if isinstance(value, str) else None
        if found is None:
            raise ValueError(f"expected an amount such as '12.50 EUR', got {value!r}")
        return Money(int(found[1]) * 100 + int(found[2]), found[3])

    converter.register_structure_hook(Money, money)
    converter.register_structure_hook(Plain, lambda value, _: Plain())


def test_types_read_by_the_users_hooks_are_left_open(tmp_path: Path) -> None:
    schema = trioconf.json_schema(Shop, converter=configure_money)
    price = schema["properties"]["price"]
    assert set(price) == {"description"}
    assert "hook" in price["description"]
    assert "Money" not in schema.get("$defs", {})  # never described as the table it is not
    # A type only the user's converter can read at all: open too.
    assert "hook" in schema["properties"]["fallback"]["anyOf"][0]["description"]
    check = validator(schema)
    path = tmp_path / "shop.toml"
    path.write_text('price = "12.50 EUR"\nprices = ["1.00 USD"]\nfallback = "anything"\n')
    assert loads(Shop, path, converter=configure_money)
    assert check.is_valid(document(path))
    path.write_text('prices = ["1.00 USD"]\n')  # still required
    assert not loads(Shop, path, converter=configure_money)
    assert not check.is_valid(document(path))


@attrs.frozen
class Storage:
    db: Postgres | Sqlite


def configure_tagged(converter: cattrs.Converter) -> None:
    configure_tagged_union(Postgres | Sqlite, converter, tag_name="kind")


def test_a_union_the_users_hook_reads_is_left_open(tmp_path: Path) -> None:
    path = tmp_path / "storage.toml"
    path.write_text('[db]\nkind = "Postgres"\nhost = "db.internal"\n')
    assert loads(Storage, path, converter=configure_tagged)
    assert validator(trioconf.json_schema(Storage, converter=configure_tagged)).is_valid(
        document(path)
    )
    # By shape, without the hook, the tag is an unknown key: both refuse it.
    assert not loads(Storage, path)
    assert not validator(trioconf.json_schema(Storage)).is_valid(document(path))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    host: str
    ports: list[int] = dataclasses.field(default_factory=lambda: [80])
    mode: Mode = Mode.SAFE
    hidden: int = dataclasses.field(default=0, init=False)


def test_dataclasses(tmp_path: Path) -> None:
    schema = trioconf.json_schema(DataConfig)
    assert "description" not in schema  # not the signature dataclasses writes as __doc__
    assert schema["required"] == ["host"]
    assert "default" not in schema["properties"]["ports"]  # a lambda is not called
    assert schema["properties"]["mode"]["default"] == "safe"
    assert "hidden" not in schema["properties"]  # init=False: cattrs refuses it as unknown
    path = tmp_path / "app.yaml"
    for text, accepted in [("host: h\nports: [1, 2]\n", True), ("host: h\nhidden: 1\n", False)]:
        path.write_text(text)
        assert loads(DataConfig, path) is accepted
        assert validator(trioconf.json_schema(DataConfig)).is_valid(document(path)) is accepted


def test_schema_is_stable_and_json() -> None:
    first = json.dumps(trioconf.json_schema(Service), sort_keys=False)
    assert json.dumps(trioconf.json_schema(Service), sort_keys=False) == first


# --- the patterns, against the parsers they are written from -----------------------------------

TEXT = settings(max_examples=400, deadline=None)


@TEXT
@given(st.text(alphabet="0123456789.-wdhmsuPTpt ", max_size=8))
@example("1h30m")
@example("PT")
@example("P1DT")
@example("-1.5h")
@example(" 90s ")
@example("p1w")
def test_duration_pattern_is_parse_duration(text: str) -> None:
    assert (re.search(DURATION_PATTERN, text) is not None) == (parse_duration(text) is not None)


def _decimal_ok(text: str) -> bool:
    try:
        return decimal.Decimal(text.strip()).is_finite()
    except decimal.InvalidOperation:
        return False


@TEXT
@given(st.text(alphabet="0123456789._eE+-", max_size=8).map(lambda s: f" {s} "))
@example("1_000.5")
@example("_1_")
@example("1e")
@example(".")
def test_decimal_pattern_is_decimal(text: str) -> None:
    assert (re.search(DECIMAL_PATTERN, text) is not None) == _decimal_ok(text)


@given(st.timedeltas(min_value=dt.timedelta(days=-9999), max_value=dt.timedelta(days=9999)))
@settings(deadline=None)
def test_default_durations_read_back_exactly(value: dt.timedelta) -> None:
    text = format_duration(value)
    assert re.search(DURATION_PATTERN, text)
    assert parse_duration(text) == value


@given(
    st.datetimes(timezones=st.none() | st.timezones()),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["auto", "minutes", "seconds", "milliseconds", "microseconds"]),
)
@settings(deadline=None)
def test_every_iso_datetime_matches(value: dt.datetime, sep: str, spec: str) -> None:
    text = value.isoformat(sep=sep, timespec=spec)
    assert dt.datetime.fromisoformat(text)  # what trioconf reads
    assert re.search(DATETIME_PATTERN, text), text
    assert re.search(DATE_PATTERN, value.date().isoformat())
    assert re.search(TIME_PATTERN, value.timetz().isoformat(timespec=spec))


def _reads(reader: Callable[[str], object], text: str) -> bool:
    try:
        reader(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (DATETIME_PATTERN, "2024-05-01 12:30"),
        (DATETIME_PATTERN, "2024-05-01T12:30:00.123+02:00"),
        (DATETIME_PATTERN, "2024-05-01"),
        # Python 3.11 reads these, 3.10 does not: the schema says what this Python reads.
        (DATETIME_PATTERN, "20240501T123000Z"),
        (DATETIME_PATTERN, "2024-05-01T12:30Z"),
        (DATETIME_PATTERN, "2024-05-01T12:30:00.5"),
        (DATE_PATTERN, "2024-W18-3"),
        (DATE_PATTERN, "20240501"),
        (TIME_PATTERN, "12:30:00.5+01:00"),
        (TIME_PATTERN, "T12:30"),
        # Read by neither.
        (DATETIME_PATTERN, "2024-05-01T25:00"),
        (DATE_PATTERN, "2024-13-01"),
        (TIME_PATTERN, "12:60"),
    ],
)
def test_iso_patterns_agree_with_this_pythons_fromisoformat(pattern: str, text: str) -> None:
    reader: Callable[[str], object] = {
        DATETIME_PATTERN: dt.datetime.fromisoformat,
        DATE_PATTERN: dt.date.fromisoformat,
        TIME_PATTERN: dt.time.fromisoformat,
    }[pattern]
    assert (re.search(pattern, text) is not None) == _reads(reader, text)


IPV4 = trioconf.json_schema(Service)["properties"]["address"]["anyOf"][0]["pattern"]


@given(st.ip_addresses(v=4))
@settings(deadline=None)
def test_ipv4_pattern_takes_every_address(address: ipaddress.IPv4Address) -> None:
    assert re.search(IPV4, str(address))


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("ident", "{12345678-1234-5678-1234-567812345678}"),
        ("ident", "12345678123456781234567812345678"),
        ("address6", "fe80::1%eth0"),
    ],
)
def test_forms_only_a_format_asserting_validator_refuses(field: str, text: str) -> None:
    # Read by trioconf, matched by the schema's pattern; a validator that asserts the
    # standard formats (as JSON Schema leaves it to choose) refuses these rarer spellings.
    trioconf.load(
        Service, environ={"APP_NAME": "svc", f"APP_{field.upper()}": text}, env_prefix="APP_"
    )
    schema = trioconf.json_schema(Service)
    doc = {"name": "svc", field: text}
    assert jsonschema.Draft202012Validator(schema).is_valid(doc)
    assert not validator(schema).is_valid(doc)
