"""``trioconf check`` and ``watch`` with ``--set KEY=VALUE`` and ``--env-file PATH``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trioconf._cli import main

SCHEMA = textwrap.dedent(
    """\
    from __future__ import annotations

    import attrs
    import trioconf


    @attrs.frozen
    class Db:
        host: str = "localhost"
        port: int = 5432
        password: trioconf.SecretStr = trioconf.SecretStr("")


    @attrs.frozen
    class Tenant:
        port: int = 0


    @attrs.frozen
    class Config:
        name: str
        debug: bool = False
        db: Db = attrs.Factory(Db)
        tenants: dict[str, Tenant] = attrs.Factory(dict)
    """
)

VALID = 'name = "svc"\n\n[db]\nport = 5432\n'
SECRET = "hunter2-never-printed"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Undo what ``--schema`` does to the interpreter: sys.path entries, imported modules.
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    (tmp_path / "schema.py").write_text(SCHEMA)
    (tmp_path / "app.toml").write_text(VALID)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def check(project: Path, *args: str) -> int:
    schema = f"{project / 'schema.py'}:Config"
    return main(["check", str(project / "app.toml"), *args, "--schema", schema])


def printed(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert check(project, *args, "--print", "--format", "json") == 0, capsys.readouterr().err
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_set_overrides_every_source_and_is_typed_per_field(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_DB__PORT", "6000")
    out = printed(
        project,
        capsys,
        "--env-prefix",
        "SVC_",
        "--set",
        "db.port=5433",
        "--set",
        "debug=yes",
        "--set",
        'tenants."acme.eu".port=8',
        "--set",
        "name=a=b",
    )
    assert out["db.port"] == {"value": 5433, "origin": "override db.port"}
    assert out["debug"] == {"value": True, "origin": "override debug"}
    assert out["tenants.acme.eu.port"] == {
        "value": 8,
        "origin": 'override tenants."acme.eu".port',
    }
    assert out["name"] == {"value": "a=b", "origin": "override name"}  # the first = splits


def test_set_usage_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "db.port": "--set 'db.port': expected KEY=VALUE, such as db.port=5433",
        "=5": "the KEY is malformed: an empty key",
        "db..port=1": "the KEY is malformed: an empty segment at character 4",
        "db.prot=1": "--set: override 'db.prot': db (Db) has no field 'prot'",
    }
    for item, message in cases.items():
        assert check(project, "--set", item) == 2, item
        err = capsys.readouterr().err
        assert message in err, err
        assert "Traceback" not in err
    assert check(project, "--env-file", str(project / ".env")) == 2
    assert "--env-file needs --env-prefix" in capsys.readouterr().err


def test_a_bad_set_value_fails_the_check_naming_the_override(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(project, "--set", "db.port=many", "--set", f"db.password={SECRET}") == 1
    err = capsys.readouterr().err
    assert "override db.port: db.port: expected an int, got 'many'" in err
    assert SECRET not in err


def test_env_file_is_read_below_the_environment(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = project / ".env"
    env.write_text(f"SVC_DB__HOST=db.internal\nSVC_DB__PORT=5433\nSVC_DB__PASSWORD={SECRET}\n")
    monkeypatch.setenv("SVC_DB__PORT", "6000")
    assert check(project, "--env-prefix", "SVC_", "--env-file", str(env), "--print") == 0
    out, _ = capsys.readouterr()
    assert f"{env}:1" in out  # db.host's origin: the file and line
    assert "env SVC_DB__PORT" in out
    assert SECRET not in out


def test_the_success_line_names_the_env_file_and_the_overrides(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = project / ".env"
    env.write_text("SVC_DB__HOST=db.internal\n")
    args = ("--env-prefix", "SVC_", "--env-file", str(env), "--set", 'tenants."a=b".port=8')
    assert check(project, *args) == 0
    said = capsys.readouterr()
    line = [t for t in (said.out + said.err).splitlines() if "successful" in t]
    assert line == [
        f"trioconf: configuration test is successful (Config from {project / 'app.toml'},"
        f' {env}, env SVC_*, --set tenants."a=b".port)'
    ]


def test_a_bad_env_file_line_fails_the_check_with_file_and_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = project / ".env"
    env.write_text(f"SVC_DEBUG=1\nSVC_DB__PASSWORD='{SECRET}\n")
    assert check(project, "--env-prefix", "SVC_", "--env-file", str(env)) == 1
    err = capsys.readouterr().err
    assert f"{env}:2: cannot parse this line" in err
    assert SECRET not in err


async def test_watch_reloads_the_env_file_under_set(tmp_path: Path) -> None:
    (tmp_path / "schema.py").write_text(SCHEMA)
    (tmp_path / "app.toml").write_text(VALID)
    env = tmp_path / ".env"
    env.write_text("SVC_DB__HOST=one\n")
    command = [
        sys.executable, "-m", "trioconf", "watch", "app.toml", "--schema", "schema:Config",
        "--env-prefix", "SVC_", "--env-file", ".env", "--set", "db.port=5433",
        "--debounce", "0",
    ]  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SVC_")}
    process = await trio.lowlevel.open_process(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ
    )
    try:
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(60):
            while b"\n" not in seen:
                seen += await process.stdout.receive_some()
            first = seen.decode().splitlines()[0]
            assert first.startswith("v1: "), first
            assert "host='one', port=5433" in first, first
            env.write_text("SVC_DB__HOST=two\nSVC_DB__PORT=1\n")
            while b"v2: db.host: 'one' -> 'two'" not in seen:
                seen += await process.stdout.receive_some()
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 128 + signal.SIGINT
        assert "db.port" not in seen.decode().split("v2:", 1)[1]  # the override still wins
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                await pipe.aclose()
