"""``trioconf schema MODULE:CLASS``: the JSON Schema on stdout (or in a file), usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from trioconf._cli import main

SCHEMA = textwrap.dedent(
    """\
    from __future__ import annotations

    import datetime

    import attrs
    import trioconf


    @attrs.frozen
    class Tenant:
        plan: str = "free"
        api_key: str = trioconf.field(default="tenant-secret-default", secret=True)


    @attrs.frozen
    class Config:
        \"\"\"The service.\"\"\"

        name: str
        timeout: datetime.timedelta = datetime.timedelta(seconds=90)
        tenants: dict[str, Tenant] = attrs.Factory(dict)


    @attrs.frozen
    class Money:
        cents: int


    @attrs.frozen
    class Shop:
        price: Money


    def configure(converter):
        converter.register_structure_hook(Money, lambda value, _: Money(int(value)))


    class NotConfig:
        pass


    @attrs.frozen
    class Broken:
        thing: NotConfig


    not_a_class = 5
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A schema module in a folder of its own; what importing it does to the interpreter
    (sys.path entries, modules) is undone afterwards."""
    (tmp_path / "schemamod.py").write_text(SCHEMA)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_prints_the_schema_as_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "schemamod:Config"]) == 0
    out = capsys.readouterr().out
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Config"
    assert schema["required"] == ["name"]
    assert schema["properties"]["timeout"]["default"] == "1m30s"
    assert "tenant-secret-default" not in out
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    assert check.is_valid({"name": "svc", "timeout": "5m", "tenants": {"a": {"plan": "pro"}}})
    assert not check.is_valid({"name": "svc", "timeout": 5})


def test_a_path_to_a_py_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", str(project / "schemamod.py") + ":Config"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Config"


def test_entry_and_output_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = project / "schemas" / "tenant.schema.json"
    target.parent.mkdir()
    assert main(["schema", "schemamod:Config", "--entry", "tenants", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    schema = json.loads(target.read_text())
    assert schema["title"] == "Tenant"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["api_key"]["writeOnly"] is True


def test_allow_unknown_and_converter(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "schemamod:Config", "--allow-unknown"]) == 0
    assert "additionalProperties" not in json.loads(capsys.readouterr().out)
    assert main(["schema", "schemamod:Shop", "--converter", "schemamod:configure"]) == 0
    price = json.loads(capsys.readouterr().out)["properties"]["price"]
    assert "$ref" not in price
    assert "hook" in price["description"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schemamod"], "MODULE:CLASS 'schemamod': expected MODULE:CLASS"),
        (["schemamod:Nope"], "schemamod has no attribute 'Nope'"),
        (["schemamod:not_a_class"], "not_a_class is not a class"),
        (["no_such_module_here:Config"], "cannot import no_such_module_here"),
        (["missing.py:Config"], "no such file: missing.py"),
        (["schemamod:Config", "--entry", "name"], "entry 'name': a keyed folder's files"),
        (["schemamod:Config", "--entry", "nothing"], "Config has no field 'nothing'"),
        (["schemamod:Broken"], "Broken cannot be loaded: its fields use the type NotConfig"),
        (["schemamod:Config", "-o", "no/such/dir/x.json"], "-o no/such/dir/x.json: "),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["schema", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("trioconf schema: error: ")
    assert message in lines[0]
    assert "--schema" not in lines[0]  # check's option, not this command's


def test_missing_argument_is_argparse_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 2
    assert "MODULE:CLASS" in capsys.readouterr().err


def test_the_command_in_a_real_process(project: Path) -> None:
    # stdout holds the JSON alone: it can be redirected into the file editors read.
    done = subprocess.run(
        [sys.executable, "-m", "trioconf", "schema", "schemamod:Config"],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["title"] == "Config"
