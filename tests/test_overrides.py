"""Explicit overrides (``overrides={"db.port": 5433}``): the top layer, dotted keys with TOML's
quoting, checked before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import trioconf
from trioconf._load import load_with_origins
from trioconf._origins import origin_of
from trioconf._overrides import Text, key_text, split_key
from trioconf.testing import expect_outcome


@attrs.frozen
class DB:
    host: str = "localhost"
    port: int = 5432
    password: trioconf.SecretStr = trioconf.SecretStr("")


@attrs.frozen
class Tenant:
    port: int = 0
    tags: list[str] = attrs.field(factory=list)


@attrs.frozen
class Config:
    db: DB = DB()
    tenants: dict[str, Tenant] = attrs.field(factory=dict)
    debug: bool = False
    extra: Any = None


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("db.port", ("db", "port")),
        ("db . port", ("db", "port")),
        ('tenants."acme.eu".port', ("tenants", "acme.eu", "port")),
        ("tenants.'acme.eu'.port", ("tenants", "acme.eu", "port")),
        (r'tenants."a\"b\\c".port', ("tenants", 'a"b\\c', "port")),
        ('tenants."caf\\u00e9"', ("tenants", "café")),
        ('tenants.""', ("tenants", "")),
        ("a-b_1", ("a-b_1",)),
    ],
)
def test_keys_are_toml_dotted_keys(key: str, parts: tuple[str, ...]) -> None:
    assert split_key(key) == (parts, len(key))


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "an empty key"),
        ("db.", "a key that ends with '.'"),
        ("db..port", "an empty segment at character 4"),
        (".db", "an empty segment at character 1"),
        ("tenants.acme.eu.port x", "'x' after a segment"),
        ('tenants."acme.eu.port', "an unclosed quote"),
        ("db/port", "'/' after a segment"),
        ("caf\u00e9", "'é' after a segment"),
        ('tenants."\\q"', "a bad escape"),
    ],
)
def test_malformed_keys_are_a_value_error_before_anything_starts(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match="is not a dotted key") as info:
        trioconf.load(Config, overrides={key: 1})
    assert reason in str(info.value)


def test_key_text_quotes_what_is_not_bare() -> None:
    assert key_text(("tenants", "acme.eu", "port")) == 'tenants."acme.eu".port'
    assert split_key(key_text(("a b", 'q"', "x")))[0] == ("a b", 'q"', "x")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("db.prot", "override 'db.prot': db (DB) has no field 'prot' (did you mean 'db.port'?)"),
        ("nope", "override 'nope': Config has no field 'nope'"),
        ("tenants.acme.bad", "tenants.acme (Tenant) has no field 'bad'"),
        ("db.port.x", "override 'db.port.x': db.port is an int, it has no field 'x'"),
        ("tenants.a.tags.0", "tenants.a.tags is a list, it has no field '0'; override the whole"),
    ],
)
def test_a_key_naming_no_field_is_a_value_error(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^override ") as info:
        trioconf.load(Config, overrides={key: 1})
    assert message in str(info.value)


def test_other_usage_mistakes() -> None:
    with pytest.raises(TypeError, match="overrides must be a mapping"):
        trioconf.load(Config, overrides=[("db.port", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="an override's key is a dotted path"):
        trioconf.load(Config, overrides={1: 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"overrides 'db\.port' twice"):
        trioconf.load(Config, overrides={"db.port": 1, '"db".port': 2})
    with pytest.raises(ValueError, match="sets a key inside 'db'"):
        trioconf.load(Config, overrides={"db": 5, "db.port": 1})


async def test_usage_mistakes_are_raised_plain_by_the_reloader() -> None:
    with pytest.raises(ValueError, match="has no field 'prot'"):
        async with trioconf.open_reloader(Config, overrides={"db.prot": 1}):
            pytest.fail("must not start")  # pragma: no cover
    async with trio.open_nursery() as nursery:
        with pytest.raises(ValueError, match="is not a dotted key"):
            await nursery.start(
                lambda task_status: trioconf.run_reloader(  # type: ignore[misc]
                    Config, overrides={"db..port": 1}, task_status=task_status
                )
            )


def test_overrides_win_over_files_and_env_and_name_their_origin(tmp_path: Path) -> None:
    toml = tmp_path / "app.toml"
    toml.write_text('debug = true\n[db]\nport = 1\nhost = "toml"\n[tenants."acme.eu"]\nport = 7\n')
    environ = {"APP_DB__PORT": "2", "APP_DB__HOST": "env"}
    config, origins = load_with_origins(
        Config,
        toml,
        env_prefix="APP_",
        environ=environ,
        overrides={"db.port": 5433, 'tenants."acme.eu".port': 8, "extra": {"a": [1]}},
    )
    assert config.db == DB(host="env", port=5433)
    assert config.tenants == {"acme.eu": Tenant(port=8)}
    assert config.extra == {"a": [1]}
    assert origin_of(config, origins, "db.port") == "override db.port"
    assert origin_of(config, origins, "db.host") == "env APP_DB__HOST"
    assert origin_of(config, origins, "debug") == f"{toml}:1"
    assert origin_of(config, origins, "tenants.acme.eu.port") == ('override tenants."acme.eu".port')


def test_values_are_structured_like_a_file_s_and_deeper_keys_win() -> None:
    config = trioconf.load(
        Config,
        overrides={"db.port": 9, "db": {"host": "h", "port": 1}, "tenants": {"t": {"port": 3}}},
    )
    assert config.db == DB(host="h", port=9)  # shallow first: db.port applies over db
    assert config.tenants == {"t": Tenant(port=3)}


def test_a_bad_value_is_a_config_error_naming_the_override_and_masking_secrets() -> None:
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, overrides={"db.port": "5433", "debug": "yes"})
    assert sorted(str(e) for e in info.value.errors) == [
        "override db.port: db.port: expected an int, got a string '5433'",
        "override debug: debug: expected a boolean, got a string 'yes'",
    ]
    with pytest.raises(trioconf.ValidationError) as masked:
        trioconf.load(Config, overrides={"db.password": 12345678})
    assert "12345678" not in str(masked.value)
    assert "12345678" not in repr(masked.value.errors)


def test_text_values_are_converted_like_env_values() -> None:
    config = trioconf.load(
        Config,
        overrides={
            "db.port": Text("5433"),
            "debug": Text("yes"),
            'tenants."a.b".tags': Text('["x", "y"]'),
            "db.password": Text("s3cret"),
        },
    )
    assert (config.db.port, config.debug) == (5433, True)
    assert config.tenants == {"a.b": Tenant(tags=["x", "y"])}
    assert config.db.password == trioconf.SecretStr("s3cret")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, overrides={"db.port": Text("many"), "db.password": Text("x1")})
    assert [str(e) for e in info.value.errors] == [
        "override db.port: db.port: expected an int, got 'many'"
    ]


async def test_overrides_stay_on_top_across_reloads(tmp_path: Path) -> None:
    toml = tmp_path / "app.toml"
    toml.write_text("[db]\nport = 1\n")
    async with trioconf.open_reloader(
        Config, toml, overrides={"db.port": 5433}, debounce=0
    ) as live:
        assert live.current.db.port == 5433
        assert live.origin("db.port") == "override db.port"
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                toml.write_text('[db]\nport = 2\nhost = "new"\n')
        assert outcome.applied
        assert (live.current.db.port, live.current.db.host) == (5433, "new")
        with trio.fail_after(15):
            async with expect_outcome(live) as outcome:
                toml.write_text("[db]\nport = 'oops'\nhost = 5\n")
        assert not outcome.applied  # a bad file is still refused under an override
        assert str(live.last_error).endswith(
            f"{toml}:3:1: db.host: expected a string, got an int 5"
        )
        assert live.current.db.host == "new"
