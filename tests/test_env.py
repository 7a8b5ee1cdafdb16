"""Tests for trioconf._env: environment variables as a typed layer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from trioconf._converter import make_converter
from trioconf._env import EnvLayer, env_layer
from trioconf._errors import ValidationError
from trioconf._layer import Layer
from trioconf._merge import merge
from trioconf._structure import structure


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Db:
    port: int = 5432
    host: str = "localhost"
    ratio: float = 1.0


@dataclasses.dataclass(frozen=True)
class Tenant:
    limit: int = 0
    enabled: bool = True


@attrs.frozen
class AppConfig:
    db: Db = Db()
    debug: bool = False
    name: str = "app"
    data_dir: Path = Path("/var/lib/app")
    mode: Mode = Mode.FAST
    level: Level = Level.LOW
    flavour: Literal["vanilla", "chocolate"] = "vanilla"
    retries: Literal[1, 2, 3] = 1
    hosts: list[str] = attrs.Factory(list)
    pair: tuple[int, int] = (0, 0)
    tags: frozenset[str] = frozenset()
    labels: dict[str, str] = attrs.Factory(dict)
    tenants: dict[str, Tenant] = attrs.Factory(dict)
    backup: Db | None = None
    timeout: float | None = None
    port_or_name: int | str = 0
    since: dt.date | None = None
    maxConn: int = 10  # a camelCase field, matched case-insensitively
    extra: Any = None


@attrs.frozen
class Service:
    port: int = 80


PREFIX = "APP_"


def data(environ: dict[str, str], cls: type = AppConfig, **kw: Any) -> dict[str, Any]:
    return dict(env_layer(cls, PREFIX, environ, **kw).data)


def field_errors(environ: dict[str, str], cls: type = AppConfig, **kw: Any) -> list[Any]:
    with pytest.raises(ValidationError) as info:
        env_layer(cls, PREFIX, environ, **kw)
    return list(info.value.errors)


def load(environ: dict[str, str], cls: type = AppConfig) -> Any:
    layer = env_layer(cls, PREFIX, environ)
    return structure(make_converter(), cls, merge([Layer("base", {}), layer]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("off", False),
        (" true ", True),
    ],
)
def test_bool_words(text: str, expected: bool) -> None:
    assert data({"APP_DEBUG": text}) == {"debug": expected}


@pytest.mark.parametrize("text", ["", "2", "enabled", "tru", "null"])
def test_bool_rejects_other_words(text: str) -> None:
    [error] = field_errors({"APP_DEBUG": text})
    assert error.path == "debug"
    assert error.message.startswith("expected a boolean")
    assert error.value == text
    assert error.source == "env APP_DEBUG"


def test_numbers() -> None:
    assert data({"APP_DB__PORT": "5433", "APP_DB__RATIO": "0.25"}) == {
        "db": {"port": 5433, "ratio": 0.25}
    }
    assert data({"APP_DB__RATIO": "3"}) == {"db": {"ratio": 3.0}}
    assert type(data({"APP_DB__RATIO": "3"})["db"]["ratio"]) is float
    [error] = field_errors({"APP_DB__PORT": "1.5"})
    assert (error.path, error.message, error.value, error.source) == (
        "db.port",
        "expected an int, got '1.5'",
        "1.5",
        "env APP_DB__PORT",
    )
    [error] = field_errors({"APP_DB__RATIO": "fast"})
    assert error.message == "expected a number, got 'fast'"


def test_strings_paths_and_dates_pass_through_to_the_converter() -> None:
    environ = {"APP_NAME": "Mixed Case  ", "APP_DATA_DIR": "/srv/x", "APP_SINCE": "2024-01-02"}
    assert data(environ) == {"name": "Mixed Case  ", "data_dir": "/srv/x", "since": "2024-01-02"}
    config = load(environ)
    assert config.name == "Mixed Case  "
    assert config.data_dir == Path("/srv/x")
    assert config.since == dt.date(2024, 1, 2)


def test_enums_and_literals() -> None:
    environ = {"APP_MODE": "slow", "APP_LEVEL": "2", "APP_FLAVOUR": "chocolate", "APP_RETRIES": "3"}
    assert data(environ) == {"mode": "slow", "level": 2, "flavour": "chocolate", "retries": 3}
    config = load(environ)
    assert (config.mode, config.level, config.flavour, config.retries) == (
        Mode.SLOW,
        Level.HIGH,
        "chocolate",
        3,
    )


def test_a_bad_choice_is_reported_by_the_converter_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as info:
        load({"APP_MODE": "medium", "APP_RETRIES": "7", "APP_DB__HOST": "h"})
    assert [(e.path, e.source, e.value) for e in info.value.errors] == [
        ("mode", "env APP_MODE", "medium"),
        ("retries", "env APP_RETRIES", "7"),
    ]


def test_containers_and_classes_from_json() -> None:
    environ = {
        "APP_HOSTS": '["a", "b"]',
        "APP_PAIR": "[1, 2]",
        "APP_TAGS": '["x"]',
        "APP_LABELS": '{"team": "core"}',
        "APP_BACKUP": '{"port": 1}',
    }
    assert data(environ) == {
        "hosts": ["a", "b"],
        "pair": [1, 2],
        "tags": ["x"],
        "labels": {"team": "core"},
        "backup": {"port": 1},
    }
    config = load(environ)
    assert config.hosts == ["a", "b"]
    assert config.pair == (1, 2)
    assert config.tags == frozenset({"x"})
    assert config.backup == Db(port=1)


def test_invalid_json_is_an_error() -> None:
    [error] = field_errors({"APP_HOSTS": "a,b"})
    assert error.path == "hosts"
    assert error.message.startswith("expected JSON text for a list")
    assert error.source == "env APP_HOSTS"


def test_json_of_the_wrong_shape_is_caught_by_the_converter() -> None:
    with pytest.raises(ValidationError) as info:
        load({"APP_HOSTS": '{"a": 1}', "APP_BACKUP": '{"port": "x"}'})
    assert [(e.path, e.source) for e in info.value.errors] == [
        ("hosts", "env APP_HOSTS"),
        ("backup.port", "env APP_BACKUP"),
    ]


def test_nesting_lowercasing_and_mapping_keys() -> None:
    environ = {
        "APP_DB__HOST": "db.internal",
        "APP_TENANTS__ACME__LIMIT": "5",
        "APP_TENANTS__ACME__ENABLED": "no",
        "APP_LABELS__Team": "core",
        "APP_MAXCONN": "3",
        "APP_BACKUP__PORT": "7",
    }
    assert data(environ) == {
        "db": {"host": "db.internal"},
        "tenants": {"acme": {"limit": 5, "enabled": False}},
        "labels": {"team": "core"},
        "maxConn": 3,
        "backup": {"port": 7},
    }
    config = load(environ)
    assert config.tenants == {"acme": Tenant(limit=5, enabled=False)}
    assert config.db == Db(host="db.internal")
    assert config.backup == Db(port=7)


def test_the_prefix_is_literal_and_case_sensitive() -> None:
    assert data({"app_DEBUG": "1", "APPX_DEBUG": "1", "MY_APP_DEBUG": "1"}) == {}


def test_unions() -> None:
    assert data({"APP_PORT_OR_NAME": "5"}) == {"port_or_name": 5}
    assert data({"APP_PORT_OR_NAME": "five"}) == {"port_or_name": "five"}
    assert data({"APP_TIMEOUT": "2.5"}) == {"timeout": 2.5}
    assert data({"APP_TIMEOUT": "null"}) == {"timeout": None}
    [error] = field_errors({"APP_TIMEOUT": "soon"})
    assert error.message == "expected a number, got 'soon'"


def test_any_fields_take_the_string() -> None:
    assert data({"APP_EXTRA": "[1]"}) == {"extra": "[1]"}


def test_deeper_variables_override_whole_objects() -> None:
    environ = {"APP_DB__PORT": "2", "APP_DB": '{"port": 1, "host": "h"}'}
    layer = env_layer(AppConfig, PREFIX, environ)
    assert layer.data == {"db": {"port": 2, "host": "h"}}
    assert layer.describe(("db", "port")) == "env APP_DB__PORT"
    assert layer.describe(("db", "host")) == "env APP_DB"
    assert layer.describe(("nothing",)) == "env APP_*"


def test_two_variables_for_one_field_are_an_error() -> None:
    [error] = field_errors({"APP_DEBUG": "1", "APP_debug": "0"})
    assert error.message == "set by both APP_DEBUG and APP_debug"
    [error] = field_errors({"APP_DB": "[1]", "APP_DB__PORT": "1"})
    assert error.message == "APP_DB sets db to a non-mapping; APP_DB__PORT cannot set a key in it"


def test_every_conversion_error_at_once() -> None:
    errors = field_errors({"APP_DEBUG": "maybe", "APP_DB__PORT": "x", "APP_HOSTS": "["})
    assert sorted(e.source for e in errors) == [
        "env APP_DB__PORT",
        "env APP_DEBUG",
        "env APP_HOSTS",
    ]


UNKNOWN = [
    ("APP_NOPE", "AppConfig has no field 'nope'"),
    ("APP_DB__NOPE", "db (Db) has no field 'nope'"),
    ("APP_DEBUG__X", "debug is a boolean, it has no field 'x'"),
    ("APP_", "empty name segment"),
    ("APP_DB____PORT", "empty name segment"),
    ("APP__DB", "AppConfig has no field '_db'"),  # one leading _ belongs to the name
]


@pytest.mark.parametrize(("name", "reason"), UNKNOWN)
def test_unknown_variables_are_ignored_with_a_warning(
    name: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="trioconf"):
        layer = env_layer(AppConfig, PREFIX, {name: "s3cret", "APP_DEBUG": "1"})
    assert layer.data == {"debug": True}
    [record] = caplog.records
    assert record.name == "trioconf"
    assert record.levelno == logging.WARNING
    assert name in record.getMessage()
    assert reason in record.getMessage()
    assert "s3cret" not in record.getMessage()  # values may be secrets: never logged


@pytest.mark.parametrize(("name", "reason"), UNKNOWN)
def test_strict_rejects_unknown_variables(name: str, reason: str) -> None:
    [error] = field_errors({name: "s3cret", "APP_DEBUG": "1"}, strict=True)
    assert error.source == f"env {name}"
    assert name in error.message
    assert reason in error.message


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("APP_DEBGU", "APP_DEBUG"),
        ("APP_DB__PROT", "APP_DB__PORT"),  # a typo one level down keeps the rest of the name
        ("APP_DB__HSOT", "APP_DB__HOST"),
        ("APP_MAXCON", "APP_MAXCONN"),  # a camelCase field: the variable is upper case
    ],
)
def test_a_typo_in_a_variable_gets_a_did_you_mean(
    name: str, meant: str, caplog: pytest.LogCaptureFixture
) -> None:
    [error] = field_errors({name: "1"}, strict=True)
    assert f"(did you mean {meant}?)" in error.message
    with caplog.at_level(logging.WARNING, logger="trioconf"):
        env_layer(AppConfig, PREFIX, {name: "1"})
    assert f"(did you mean {meant}?)" in caplog.records[0].getMessage()


def test_a_name_like_no_field_gets_no_guess() -> None:
    [error] = field_errors({"APP_ZZZZZZ": "1"}, strict=True)
    assert "did you mean" not in error.message


def test_kubernetes_service_variable_without_a_port_field_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Kubernetes injects APP_PORT=tcp://... for a Service named "app". AppConfig has no
    # top-level port field, so the variable is unknown: a warning, not a failure.
    environ = {"APP_PORT": "tcp://10.0.0.1:80", "APP_PORT_80_TCP_ADDR": "10.0.0.1"}
    with caplog.at_level(logging.WARNING, logger="trioconf"):
        layer = env_layer(AppConfig, PREFIX, environ)
    assert layer.data == {}
    assert {r.getMessage().split(":")[0] for r in caplog.records} == {
        "ignoring environment variable APP_PORT",
        "ignoring environment variable APP_PORT_80_TCP_ADDR",
    }


def test_kubernetes_service_variable_with_a_port_field_is_an_error() -> None:
    # When the class has a top-level port field the variable names it: using a prefix equal
    # to a Service name is a deployment mistake, reported loudly with the way out.
    [error] = field_errors({"APP_PORT": "tcp://10.0.0.1:80"}, cls=Service)
    assert error.path == "port"
    assert error.source == "env APP_PORT"
    assert error.value == "tcp://10.0.0.1:80"
    assert "Kubernetes" in error.message
    assert "env prefix" in error.message
    assert data({"APP_PORT": "8080"}, cls=Service) == {"port": 8080}


def test_layer_shape() -> None:
    layer = env_layer(AppConfig, PREFIX, {"APP_DB__PORT": "1"})
    assert isinstance(layer, EnvLayer)
    assert isinstance(layer, Layer)
    assert layer.name == "env APP_*"
    assert layer.raw is None
    assert layer.format is None
    assert layer.locate(("db", "port")) is None
    assert layer.variables == {("db", "port"): "APP_DB__PORT"}
    assert env_layer(AppConfig, PREFIX, {}).data == {}


def test_env_overrides_files_and_origins_name_the_layer() -> None:
    file_layer = Layer("base.toml", {"db": {"port": 1, "host": "h"}, "debug": False})
    env = env_layer(AppConfig, PREFIX, {"APP_DB__PORT": "2"})
    merged = merge([file_layer, env])
    config = structure(make_converter(), AppConfig, merged)
    assert config.db == Db(port=2, host="h")
    assert merged.origins[("db", "port")] is env
    assert merged.origins[("db", "host")] is file_layer
