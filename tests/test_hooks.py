"""``converter=``: the user's own structure hooks (issue 10, "Field types and hooks"), in
``load``, the reloader and the command line; strict built-ins stay strict."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
import trio

import trioconf
from trioconf._cli import main


@attrs.frozen
class Money:
    cents: int
    currency: str


def parse_money(obj: Any, cl: Any) -> Money:
    if not isinstance(obj, str):
        raise ValueError(f"expected an amount such as '12.50 EUR', got {obj!r}")
    match = re.fullmatch(r"(\d+)\.(\d\d) ([A-Z]{3})", obj)
    if match is None:
        raise ValueError(f"expected an amount such as '12.50 EUR', got {obj!r}")
    return Money(int(match[1]) * 100 + int(match[2]), match[3])


def configure(converter: cattrs.Converter) -> None:
    converter.register_structure_hook(Money, parse_money)


@attrs.frozen
class Shop:
    price: Money
    name: str = "shop"


def test_load_uses_the_hooks(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('price = "12.50 EUR"\n')
    assert trioconf.load(Shop, path, converter=configure).price == Money(1250, "EUR")


def test_without_the_hooks_the_string_is_no_money(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('price = "12.50 EUR"\n')
    with pytest.raises(trioconf.ValidationError, match=r"expected a mapping \(for Money\)"):
        trioconf.load(Shop, path)


def test_a_hooks_refusal_is_a_field_error_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('name = "x"\nprice = "twelve"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Shop, path, converter=configure)
    (error,) = info.value.errors
    assert str(error) == (
        f"{path}:2:1: price: expected an amount such as '12.50 EUR', got 'twelve'"
    )


async def test_the_reloader_uses_the_hooks_on_every_reload(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('price = "1.00 EUR"\n')
    async with trioconf.open_reloader(Shop, path, converter=configure, debounce=0) as live:
        assert live.current.price == Money(100, "EUR")
        path.write_text('price = "2.50 USD"\n')
        with trio.fail_after(10):
            await live.wait_value(lambda c: c.price == Money(250, "USD"))
        records = live.records()
        path.write_text('price = "free"\n')
        with trio.fail_after(10):
            failure = await records.__anext__()
        assert isinstance(failure, trioconf.Failure)
        assert "price: expected an amount" in str(failure.error)
        assert live.current.price == Money(250, "USD")


def test_the_built_in_types_stay_strict(tmp_path: Path) -> None:
    def lenient(converter: cattrs.Converter) -> None:
        converter.register_structure_hook(int, lambda obj, cl: int(obj))

    path = tmp_path / "shop.toml"
    path.write_text('price = "1.00 EUR"\n')
    with pytest.raises(ValueError, match="must not replace the hooks of int"):
        trioconf.load(Shop, path, converter=lenient)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ("configure", TypeError, "a function configure"),
        (Money, TypeError, "a function configure"),
        (None, None, None),
    ],
)
async def test_a_wrong_converter_is_a_plain_usage_error(
    tmp_path: Path, value: object, error: type[Exception] | None, words: str | None
) -> None:
    path = tmp_path / "shop.toml"
    path.write_text('name = "x"\n')

    @attrs.frozen
    class Plain:
        name: str

    if error is None:
        assert trioconf.load(Plain, path, converter=value).name == "x"  # type: ignore[arg-type]
        return
    with pytest.raises(error, match=words):
        trioconf.load(Plain, path, converter=value)  # type: ignore[arg-type]
    with pytest.raises(error, match=words):
        async with trioconf.open_reloader(Plain, path, converter=value):  # type: ignore[arg-type]
            pass


async def test_an_async_configure_is_refused(tmp_path: Path) -> None:
    async def configure_later(converter: cattrs.Converter) -> None:
        pass

    path = tmp_path / "shop.toml"
    path.write_text('price = "1.00 EUR"\n')
    with pytest.raises(TypeError, match="plain \\(sync\\) function"):
        trioconf.load(Shop, path, converter=configure_later)  # type: ignore[arg-type]


SCHEMA = textwrap.dedent(
    """\
    import re
    import attrs

    @attrs.frozen
    class Money:
        cents: int

    @attrs.frozen
    class Shop:
        price: Money

    def configure(converter):
        converter.register_structure_hook(Money, lambda obj, cl: Money(int(obj.replace(".", ""))))
    """
)


def test_the_command_line_takes_the_hooks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "shopschema.py").write_text(SCHEMA)
    (tmp_path / "shop.toml").write_text('price = "12.50"\n')
    schema = ["--schema", "shopschema.py:Shop"]
    assert main(["check", "shop.toml", *schema, "--converter", "shopschema.py:configure"]) == 0
    assert "configuration test is successful" in capsys.readouterr().out
    assert main(["check", "shop.toml", *schema]) != 0


@attrs.frozen
class Postgres:
    host: str
    port: int = 5432


@attrs.frozen
class Sqlite:
    path: str


@attrs.frozen
class Storage:
    db: Postgres | Sqlite


def tagged(converter: cattrs.Converter) -> None:
    from cattrs.strategies import configure_tagged_union

    configure_tagged_union(Postgres | Sqlite, converter, tag_name="kind")


def test_a_tagged_union_registered_by_the_user_is_used_and_its_errors_are_worded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "storage.toml"
    path.write_text('[db]\nkind = "Sqlite"\npath = "app.db"\n')
    assert trioconf.load(Storage, path, converter=tagged) == Storage(Sqlite("app.db"))
    # Without the tag, by shape (trioconf's own union rule): the first class that fits.
    path.write_text('[db]\npath = "app.db"\n')
    assert trioconf.load(Storage, path) == Storage(Sqlite("app.db"))
    cases = {
        '[db]\nkind = "Mysql"\nhost = "h"\n': "db: 'Mysql' names none of Postgres, Sqlite",
        '[db]\nhost = "h"\n': "db: missing field 'kind', which says which of Postgres, Sqlite",
        '[db]\nkind = "Postgres"\nhost = "h"\nport = "x"\n': "db.port: expected an int",
        "db = 5\n": "db: expected a mapping (for Postgres) or a mapping (for Sqlite), got an int",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(trioconf.ValidationError) as info:
            trioconf.load(Storage, path, converter=tagged)
        assert message in str(info.value), (text, str(info.value))
        assert f"{path}:" in str(info.value)
