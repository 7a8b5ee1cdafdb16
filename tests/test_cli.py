"""The ``trioconf`` command line: ``check`` in-process, ``watch`` as a real child process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from trioconf._cli import MISSING, describe, lookup, main
from trioconf._errors import ParseError
from trioconf._records import Failure, Update

SCHEMA = textwrap.dedent(
    """\
    from __future__ import annotations

    import attrs


    @attrs.frozen
    class Db:
        host: str = "localhost"
        port: int = 5432


    @attrs.frozen
    class Config:
        name: str
        debug: bool = False
        db: Db = attrs.Factory(Db)
    """
)

VALID = 'name = "svc"\n\n[db]\nport = 5432\n'


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what ``--schema`` does to the interpreter: sys.path entries, imported modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path, isolated_imports: None) -> Path:
    (tmp_path / "schema.py").write_text(SCHEMA)
    (tmp_path / "app.toml").write_text(VALID)
    return tmp_path


SUCCESS = "trioconf: configuration test is successful"
FAILED = "trioconf: configuration test failed"


def succeeded(out: str) -> bool:
    """The nginx-style verdict that ``check`` ends with, on stdout."""
    return out.splitlines()[-1].startswith(SUCCESS)


def run_check(project: Path, *args: str) -> int:
    schema = f"{project / 'schema.py'}:Config"
    return main(["check", *args, "--schema", schema])


def test_check_valid_prints_ok(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(project, str(project / "app.toml")) == 0
    out, err = capsys.readouterr()
    assert succeeded(out)
    assert err == ""


def test_check_syntax_error_says_file_line_column(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.toml"
    config.write_text('name = "svc"\n\n[db]\nport = = 5432\n')
    assert run_check(project, str(config)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(rf"^{re.escape(str(config))}:4:\d+: ", err, re.MULTILINE), err


def test_check_reports_syntax_errors_of_every_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_toml = project / "app.toml"
    broken_toml.write_text('name = "svc"\nport = = 1\n')
    broken_json = project / "local.json"
    broken_json.write_text('{\n  "db": {"port": 1,}\n}\n')
    missing = project / "absent.yaml"
    assert run_check(project, str(broken_toml), str(broken_json), str(missing)) == 1
    _, err = capsys.readouterr()
    assert re.search(rf"^{re.escape(str(broken_toml))}:2:\d+: ", err, re.MULTILINE), err
    assert re.search(rf"^{re.escape(str(broken_json))}:2:\d+: ", err, re.MULTILINE), err
    assert re.search(rf"^{re.escape(str(missing))}: ", err, re.MULTILINE), err


def test_check_layers_need_not_be_complete_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # local.json lacks the required "name": only the merged result has to be complete.
    override = project / "local.json"
    override.write_text('{"db": {"port": 6000}}')
    assert run_check(project, str(project / "app.toml"), str(override)) == 0
    assert succeeded(capsys.readouterr().out)


def test_check_reports_every_bad_field_with_its_path(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.toml"
    config.write_text('name = "svc"\ndebug = "yes"\n\n[db]\nport = "eighty"\n')
    assert run_check(project, str(config)) == 1
    _, err = capsys.readouterr()
    assert "db.port" in err
    assert "debug" in err
    assert str(config) in err


def test_check_later_files_override_earlier_ones(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    override = project / "local.json"
    override.write_text('{"db": {"port": "bad"}}')
    assert run_check(project, str(project / "app.toml"), str(override)) == 1
    _, err = capsys.readouterr()
    assert "db.port" in err
    assert "local.json" in err


def test_check_a_folder_of_layers_in_name_order(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project / "conf.d"
    folder.mkdir()
    (folder / "10-port.toml").write_text("[db]\nport = 6000\n")
    (folder / "20-debug.yaml").write_text("debug: true\n")
    (folder / "notes.txt").write_text("not a config")  # left out by --pattern
    args = [str(project / "app.toml"), str(folder), "--pattern", "*.[ty]*ml"]
    assert run_check(project, *args) == 0
    assert succeeded(capsys.readouterr().out)
    (folder / "30-bad.toml").write_text('[db]\nport = "eighty"\n')  # the last layer wins
    assert run_check(project, *args) == 1
    _, err = capsys.readouterr()
    assert "db.port" in err
    assert "30-bad.toml" in err


def test_check_a_folder_with_several_patterns(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project / "conf.d"
    folder.mkdir()
    (folder / "10-port.toml").write_text("[db]\nport = 6000\n")
    (folder / "20-debug.yaml").write_text("debug: true\n")
    (folder / "30-bad.json").write_text('{"db": {"port": "eighty"}}')  # left out
    args = [str(project / "app.toml"), str(folder), "--pattern", "*.toml", "--pattern", "*.yaml"]
    assert run_check(project, *args) == 0
    assert succeeded(capsys.readouterr().out)
    (folder / "40-bad.yaml").write_text("db:\n  port: eighty\n")  # counts: fails the check
    assert run_check(project, *args) == 1
    assert "40-bad.yaml" in capsys.readouterr().err


KEYED_SCHEMA = textwrap.dedent(
    """\
    from __future__ import annotations

    import attrs


    @attrs.frozen
    class Tenant:
        port: int


    @attrs.frozen
    class Config:
        tenants: dict[str, Tenant] = attrs.Factory(dict)
    """
)


def test_check_a_folder_of_entries_with_key(
    tmp_path: Path, isolated_imports: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keyed.py").write_text(KEYED_SCHEMA)
    folder = tmp_path / "tenants.d"
    folder.mkdir()
    (folder / "alpha.toml").write_text("port = 1\n")
    (folder / "beta.json").write_text('{\n  "port": "two"\n}\n')
    schema = ["--schema", f"{tmp_path / 'keyed.py'}:Config"]
    assert main(["check", str(folder), "--key", "tenants", *schema]) == 1
    _, err = capsys.readouterr()
    assert "tenants.beta.port" in err
    assert f"{folder / 'beta.json'}:2" in err  # the file and the line of the bad value
    (folder / "beta.json").write_text('{"port": 2}')
    assert main(["check", str(folder), "--key", "tenants", *schema]) == 0
    assert succeeded(capsys.readouterr().out)
    # A key that names no dict field is a usage error, before anything is read.
    assert main(["check", str(folder), "--key", "nothing", *schema]) == 2
    assert "has no field 'nothing'" in capsys.readouterr().err


def test_check_env_prefix(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLITEST_DB__PORT", "not-a-number")
    config = str(project / "app.toml")
    assert run_check(project, config) == 0
    assert run_check(project, config, "--env-prefix", "CLITEST_") == 1
    _, err = capsys.readouterr()
    assert "db.port" in err


def test_check_unknown_keys_rejected_unless_allowed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.toml"
    config.write_text(VALID + "colour = 'blue'\n")
    assert run_check(project, str(config)) == 1
    assert "colour" in capsys.readouterr().err
    assert run_check(project, str(config), "--allow-unknown") == 0


def test_check_missing_file_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = project / "absent.toml"
    assert run_check(project, str(missing)) == 1
    assert str(missing) in capsys.readouterr().err


# A cooperating writer (FileGuard, another process) rewrites app.toml in place in two parts,
# holding its lock. check reads it under the lock: what it judges is the finished file. Twins:
# the first part alone is invalid and the whole valid, then the other way round (a valid first
# part, a realistic prefix, is what an unlocked read would have passed as "ok").
WRITES = {
    "prefix-invalid": (["debug = true\n", 'name = "svc"\n'], 0, ""),
    "prefix-valid": (['name = "svc"\n', '\n[db]\nport = "x"\n'], 1, ":4:"),
}


@pytest.mark.parametrize("case", sorted(WRITES))
async def test_check_judges_a_file_being_written_under_the_lock_when_it_is_done(
    project: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    from locked_writer import locked_writer, opens_of
    from support import wait_until

    config = project / "app.toml"
    parts, status, where = WRITES[case]
    results: list[int] = []

    async def check() -> None:  # check is sync, and waits for the lock: a thread
        results.append(await trio.to_thread.run_sync(run_check, project, str(config)))

    async with trio.open_nursery() as nursery, locked_writer(config, parts) as writer:
        await writer.wrote(0)
        nursery.start_soon(check)
        await wait_until(lambda: bool(results) or opens_of(project / ".app.toml.lock") > 0)
        await writer.finish()
    out, err = capsys.readouterr()
    assert results == [status], err
    assert succeeded(out) if status == 0 else SUCCESS not in out
    assert f"{config}{where}" in err if where else err == ""


async def test_check_a_lock_held_too_long_is_an_error_naming_the_holder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from locked_writer import locked_writer

    config = project / "app.toml"
    async with locked_writer(config, [VALID]) as writer:
        await writer.wrote(0)
        command = Path(f"/proc/{writer.pid}/comm").read_text().strip()
        # The reloader's default lock_timeout (5 s): the command has no option for it.
        status = await trio.to_thread.run_sync(run_check, project, str(config))
    assert status == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{config}: lock not granted within 5 s, held by pid {writer.pid} ({command})",
        FAILED,
    ]


def test_check_schema_as_dotted_module_from_cwd(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    package = project / "clitest_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SCHEMA)
    monkeypatch.chdir(project)
    assert main(["check", "app.toml", "--schema", "clitest_pkg.settings:Config"]) == 0
    assert succeeded(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("schema.py", "expected MODULE:CLASS"),
        ("schema.py:Nope", "has no attribute 'Nope'"),
        ("schema.py:attrs", "is not a class"),
        ("nowhere.py:Config", "no such file"),
        ("clitest_no_such_module:Config", "cannot import clitest_no_such_module"),
    ],
)
def test_check_bad_schema_is_a_usage_error(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    schema: str,
    message: str,
) -> None:
    monkeypatch.chdir(project)
    assert main(["check", "app.toml", "--schema", schema]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_unknown_extension_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.ini"
    config.write_text("name = svc\n")
    assert run_check(project, str(config)) == 2
    assert "app.ini" in capsys.readouterr().err


def test_missing_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "app.toml"]) == 2
    assert "--schema" in capsys.readouterr().err
    assert main([]) == 2


def test_watch_refuses_to_start_on_invalid_config(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.toml"
    config.write_text("name = 1\n")
    schema = f"{project / 'schema.py'}:Config"
    assert main(["watch", str(config), "--schema", schema]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "name" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "timing",
    [
        ["--debounce", "-1"],
        ["--debounce", "nan"],
        ["--debounce", "0.2", "--max-debounce", "0.1"],
        ["--poll-interval", "0"],
    ],
)
def test_watch_bad_timing_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], timing: list[str]
) -> None:
    schema = f"{project / 'schema.py'}:Config"
    assert main(["watch", str(project / "app.toml"), "--schema", schema, *timing]) == 2
    err = capsys.readouterr().err
    assert timing[0] in err  # argparse names the option
    assert "Traceback" not in err


def test_watch_long_debounce_raises_the_ceiling(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The library needs debounce <= max_debounce; a long --debounce alone must not break
    # that (the invalid config stops the run right after the reloader checked its timings).
    config = project / "app.toml"
    config.write_text("name = 1\n")
    schema = f"{project / 'schema.py'}:Config"
    assert main(["watch", str(config), "--schema", schema, "--debounce", "2"]) == 1
    assert "name" in capsys.readouterr().err


@attrs.frozen
class _Server:
    host: str
    port: int


@attrs.frozen
class _Tree:
    servers: tuple[_Server, ...]
    labels: dict[str, str]


def test_lookup_walks_attributes_keys_and_indexes() -> None:
    tree = _Tree(servers=(_Server("a", 1), _Server("b", 2)), labels={"env": "prod"})
    assert lookup(tree, "servers.1.port") == 2
    assert lookup(tree, "servers[0].host") == "a"
    assert lookup(tree, "labels.env") == "prod"
    assert lookup(tree, "servers.2") is MISSING
    assert lookup(tree, "labels.zone") is MISSING
    assert lookup(None, "servers") is MISSING
    assert repr(MISSING) == "<missing>"


def test_describe_lines() -> None:
    old = _Tree(servers=(_Server("a", 1),), labels={})
    new = _Tree(servers=(_Server("a", 2), _Server("b", 3)), labels={})
    update = Update(3, new, old, frozenset({"servers.1", "servers.0.port"}), 0.0)
    assert describe(update) == [
        "v3: servers.0.port: 1 -> 2",
        "v3: servers.1: <missing> -> _Server(host='b', port=3)",
    ]
    failure = Failure(ParseError("app.toml", "bad", line=1, column=2), 3, 0.0)
    assert describe(failure) == ["rejected: app.toml:1:2: bad"]


class _Lines:
    """Reads a child's stdout line by line, keeping everything read so far for messages."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""
        self.seen: list[str] = []

    async def next_line(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some()
            if not chunk:
                msg = f"stdout closed; lines so far: {self.seen}"
                raise EOFError(msg)
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        self.seen.append(line.decode())
        return self.seen[-1]

    async def wait_for(self, pattern: str) -> str:
        while not re.search(pattern, line := await self.next_line()):
            pass
        return line


def _replace(path: Path, text: str) -> None:
    # An editor-style save: write a temporary file, then rename it over the config.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def test_watch_prints_changes_and_rejections_until_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "schema.py").write_text(SCHEMA)
    config = tmp_path / "app.toml"
    config.write_text(VALID)
    command = [sys.executable, "-m", "trioconf", "watch", "app.toml", "--schema", "schema:Config"]
    process = await trio.lowlevel.open_process(
        [*command, "--debounce", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        lines = _Lines(process.stdout)
        with trio.fail_after(60):
            first = await lines.next_line()
            assert first.startswith("v1: "), first
            assert "5432" in first

            config.write_text(VALID.replace("5432", "5433"))
            assert await lines.wait_for(r"^v2: ") == "v2: db.port: 5432 -> 5433"

            _replace(config, 'name = "svc"\n\n[db]\nport = "eighty"\n')
            rejected = await lines.wait_for(r"^rejected: ")
            assert "db.port" in await _rest_of(lines, rejected)

            _replace(config, VALID.replace("5432", "6000").replace('"svc"', '"api"'))
            changes = {await lines.wait_for(r"^v3: "), await lines.next_line()}
            assert changes == {"v3: db.port: 5433 -> 6000", "v3: name: 'svc' -> 'api'"}

            process.send_signal(signal.SIGINT)
            assert await process.wait() == 128 + signal.SIGINT
            err = await _read_all(process.stderr)
        assert "Traceback" not in err, err
        assert "KeyboardInterrupt" not in err, err
        # The rejection was printed once, by the command ("rejected: ..."): the logger's own
        # warning of it is not printed as well.
        assert "not applied" not in err, err
        assert sum("eighty" in line for line in lines.seen) == 1, lines.seen
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                await pipe.aclose()


async def _read_all(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data.decode()


async def _rest_of(lines: _Lines, first: str) -> str:
    # A ValidationError spans several lines; the field lines follow "rejected: N invalid ...".
    if "invalid field" not in first:
        return first
    return first + "\n" + await lines.next_line()


def test_check_names_each_file_and_ends_with_a_verdict(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    override = project / "local.json"
    override.write_text('{"db": {"port": 6000}}')
    absent = project / "extra.yaml"
    args = [str(project / "app.toml"), str(override), str(absent), "--optional", str(absent)]
    assert run_check(project, *args, "--env-prefix", "SVC_") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"trioconf: {project / 'app.toml'}: syntax is ok",
        f"trioconf: {override}: syntax is ok",
        f"trioconf: {absent}: absent (optional, skipped)",
        f"{SUCCESS} (Config from {project / 'app.toml'}, {override}, {absent}, env SVC_*)",
    ]
    assert err == ""


def test_check_runs_the_services_validate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "rules.py").write_text(
        "def validate(new, old):\n"
        "    if new.db.port < 1024:\n"
        "        raise ValueError('db.port must be 1024 or above')\n"
    )
    config = project / "app.toml"
    assert run_check(project, str(config), "--validate", f"{project / 'rules.py'}:validate") == 0
    assert "validated by" in capsys.readouterr().out
    config.write_text(VALID.replace("5432", "80"))
    assert run_check(project, str(config), "--validate", f"{project / 'rules.py'}:validate") == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "rejected by validate(): ValueError: db.port must be 1024 or above",
        FAILED,
    ]
    assert SUCCESS not in out


def test_check_reads_a_file_in_the_format_given(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project / "app.conf"
    config.write_text(VALID)
    assert run_check(project, str(config)) == 2  # an unknown extension: say the format
    assert f"--format {config}=json|toml|yaml" in capsys.readouterr().err
    assert run_check(project, str(config), "--format", f"{config}=toml") == 0
    assert succeeded(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--optional", "nope.toml"], "is not one of the FILEs"),
        (["--format", "nope.toml=json"], "is not one of the FILEs"),
        (["--format", "app.toml"], "expected FILE=FORMAT"),
        (["--format", "app.toml=ini"], "format must be 'json', 'toml' or 'yaml', not 'ini'"),
        (["--key", "tenants"], "none of the FILEs is a folder"),
        (["--validate", "rules"], "expected MODULE:FUNC"),
    ],
)
def test_check_per_file_options_that_fit_no_file_are_usage_errors(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(project)
    assert run_check(project, "app.toml", *extra) == 2
    assert message in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"trioconf \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


async def test_watch_exec_runs_a_command_after_each_applied_change(tmp_path: Path) -> None:
    (tmp_path / "schema.py").write_text(SCHEMA)
    config = tmp_path / "app.toml"
    config.write_text(VALID)
    ran = tmp_path / "ran.txt"
    hook = f'echo "$TRIOCONF_VERSION $TRIOCONF_CHANGED" >> {ran}; exit 3'
    command = [sys.executable, "-m", "trioconf", "watch", "app.toml", "--schema", "schema:Config"]
    process = await trio.lowlevel.open_process(
        [*command, "--debounce", "0", "--exec", hook],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines = _Lines(process.stdout)
        with trio.fail_after(60):
            assert (await lines.next_line()).startswith("v1: ")  # the initial one: no command
            _replace(config, 'name = "svc"\n\n[db]\nport = "eighty"\n')
            await lines.wait_for(r"^rejected: ")  # a rejection runs no command either
            _replace(config, VALID.replace("5432", "6000").replace('"svc"', '"api"'))
            failed = await lines.wait_for(r"exec: ")
            assert failed == f"v2: exec: {hook!r} exited with status 3"
        assert ran.read_text() == "2 db.port,name\n"
    finally:
        process.kill()
        await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


SECRET_SCHEMA = textwrap.dedent(
    """\
    from __future__ import annotations

    import attrs
    import trioconf


    @attrs.frozen
    class Db:
        host: str = "localhost"
        port: int = 5432
        password: trioconf.SecretStr = trioconf.SecretStr("")
        token: str = trioconf.field(default="", secret=True)


    @attrs.frozen
    class Config:
        name: str
        db: Db = attrs.Factory(Db)
        hosts: list[str] = attrs.Factory(list)
    """
)


@pytest.fixture
def secrets_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (project / "schema.py").write_text(SECRET_SCHEMA)
    (project / "app.toml").write_text(
        'name = "svc"\nhosts = ["a", "b"]\n\n[db]\npassword = "hunter2"\ntoken = "t0ps3cret"\n'
    )
    (project / "local.yaml").write_text("db:\n  host: db1\n")
    monkeypatch.setenv("SVC_DB__PORT", "6000")
    return project


def check_print(project: Path, *extra: str) -> int:
    files = [str(project / "app.toml"), str(project / "local.yaml")]
    return run_check(project, *files, "--env-prefix", "SVC_", "--print", *extra)


def test_check_print_shows_each_value_with_its_origin_secrets_masked(
    secrets_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like ``nginx -T``: the test's lines on stderr, the effective config on stdout."""
    app, local = secrets_project / "app.toml", secrets_project / "local.yaml"
    assert check_print(secrets_project) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"name        = 'svc'       # {app}:1",
        f"db.host     = 'db1'       # {local}:2",
        "db.port     = 6000        # env SVC_DB__PORT",
        f"db.password = **********  # {app}:5",
        f"db.token    = **********  # {app}:6",
        f"hosts       = ['a', 'b']  # {app}:2",
    ]
    assert err.splitlines()[-1].startswith(SUCCESS)
    assert "hunter2" not in out + err
    assert "t0ps3cret" not in out + err


def test_check_print_format_json(secrets_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = secrets_project / "app.toml"
    assert check_print(secrets_project, "--format", "json") == 0
    out, err = capsys.readouterr()
    document = json.loads(out)  # stdout holds the JSON alone
    assert document["db.port"] == {"value": 6000, "origin": "env SVC_DB__PORT"}
    assert document["db.password"] == {"value": "**********", "origin": f"{app}:5"}
    assert document["db.token"] == {"value": "**********", "origin": f"{app}:6"}
    assert document["hosts"] == {"value": ["a", "b"], "origin": f"{app}:2"}
    assert list(document) == ["name", "db.host", "db.port", "db.password", "db.token", "hosts"]
    assert "hunter2" not in out
    assert "t0ps3cret" not in out
    assert SUCCESS in err
    # A FILE's own format still reads as before beside the printout's.
    (secrets_project / "local.conf").write_text("db:\n  host: db2\n")
    files = [str(app), str(secrets_project / "local.conf")]
    extra = ["--format", f"{secrets_project / 'local.conf'}=yaml", "--format", "text"]
    assert run_check(secrets_project, *files, "--print", *extra) == 0
    assert f"db.host     = 'db2'       # {secrets_project / 'local.conf'}:2" in (
        capsys.readouterr().out.splitlines()
    )


def test_check_print_prints_nothing_for_an_invalid_config(
    secrets_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (secrets_project / "local.yaml").write_text("hosts: 5\n")
    assert check_print(secrets_project) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == FAILED


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "json"], "--format json is the format of check --print's printout"),
        (["--print", "--format", "json", "--format", "text"], "--print prints in one format"),
    ],
)
def test_check_printout_format_misuse_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert run_check(project, str(project / "app.toml"), *extra) == 2
    assert message in capsys.readouterr().err


def test_check_reads_a_secrets_folder_and_never_prints_its_values(
    secrets_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount = secrets_project / "secrets"
    mount.mkdir()
    (mount / "db__password").write_text("from-the-mount\n")
    assert check_print(secrets_project, "--secrets", str(mount)) == 0
    out, err = capsys.readouterr()
    assert f"db.password = **********  # {mount / 'db__password'}" in out.splitlines()
    assert "from-the-mount" not in out + err
    # A bad value in the mount: the error names its file and field (db.port is no secret).
    (mount / "db__port").write_text("s3cr3t-port\n")
    assert check_print(secrets_project, "--secrets", str(mount)) == 1
    out, err = capsys.readouterr()
    assert f"{mount / 'db__port'}:1: db.port: expected an int, got 's3cr3t-port'" in err
    (mount / "db__port").unlink()
    assert (
        run_check(
            secrets_project,
            str(secrets_project / "app.toml"),
            "--secrets",
            str(secrets_project / "app.toml"),
        )
        == 2
    )
    assert "not a folder" in capsys.readouterr().err


def test_a_folder_named_like_a_file_is_a_usage_error_unless_written_as_a_folder(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Docker leaves when it bind-mounts a file that did not exist on the host.
    monkeypatch.chdir(project)
    (project / "local.toml").mkdir()
    assert run_check(project, "app.toml", "local.toml") == 2
    err = capsys.readouterr().err
    assert "local.toml is a folder, though named like a file" in err
    assert "write local.toml/" in err
    # Meant: a folder of config files, said with the trailing slash.
    (project / "local.toml" / "10-extra.toml").write_text('name = "from-the-folder"\n')
    assert run_check(project, "app.toml", "local.toml/") == 0
    assert succeeded(capsys.readouterr().out)
