"""Secrets (issue 10): ``SecretStr``, fields marked secret, values never displayed, and secrets
read from files (``SecretsDir``, the ``<PREFIX><FIELD>_FILE`` variable).

Every test that says a value is not shown looks for the value itself in everything a user
could read (str, repr, the error's value and message, the log, ``watch``'s lines): the values
are distinctive strings that no message could contain by chance.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
import trio

import trioconf
from trioconf._cli import describe
from trioconf.testing import expect_outcome

SECRET = "hunter2-s3cr3t"
ROTATED = "rotated-pw-9f8e"


def _min_length(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) < 12:
        raise ValueError(f"{attribute.name} {value!r} is shorter than 12 characters")


@attrs.frozen
class Db:
    host: str = "localhost"
    port: int = 5432
    password: trioconf.SecretStr = trioconf.SecretStr("")


@attrs.frozen
class Config:
    name: str = "svc"
    db: Db = Db()
    api_key: str = trioconf.field(default="unset-api-key", secret=True, validator=_min_length)
    tokens: dict[str, str] = trioconf.field(factory=dict, secret=True)
    pin: int = trioconf.field(default=0, secret=True)
    log_file: str = "app.log"


def _visible(error: BaseException) -> str:
    """Everything a user may read of an error: its text, its repr, its fields' values and
    messages, and its causes (a logged traceback prints them)."""
    parts = [str(error), repr(error)]
    if isinstance(error, trioconf.ValidationError):
        parts += [repr(e) for e in error.errors]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        parts.append(_visible(cause))
    return "\n".join(parts)


# -- SecretStr ------------------------------------------------------------------------------


def test_a_secret_str_does_not_show_itself() -> None:
    secret = trioconf.SecretStr(SECRET)
    assert secret.get_secret_value() == SECRET
    for shown in (str(secret), repr(secret), f"{secret}", format(secret), f"{secret!r}"):
        assert SECRET not in shown
    assert repr(secret) == "SecretStr('**********')"
    assert not isinstance(secret, str)  # a subclass would leak through every str API
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    assert secret == trioconf.SecretStr(SECRET)
    assert secret != trioconf.SecretStr(ROTATED)  # a rotated password is a change
    assert secret != SECRET
    assert len({secret, trioconf.SecretStr(SECRET)}) == 1
    with pytest.raises(TypeError, match="SecretStr takes a str"):
        trioconf.SecretStr(12345)  # type: ignore[arg-type]


def test_a_field_marked_secret_is_left_out_of_the_class_repr() -> None:
    config = Config(api_key=SECRET, tokens={"ci": ROTATED})
    assert SECRET not in repr(config)
    assert ROTATED not in repr(config)
    assert "unset" not in repr(Config())
    assert "name='svc'" in repr(config)
    with pytest.raises(ValueError, match="cannot set repr="):

        @attrs.frozen
        class Shown:
            key: str = trioconf.field(default="", secret=True, repr=True)

    with pytest.raises(TypeError, match="True or False"):
        trioconf.field(default="", secret="yes")


# -- errors never show a secret --------------------------------------------------------------


def test_field_errors_mask_secret_values_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(f"db:\n  password: 4815162342\n  port: eighty\ntokens:\n  ci: [{SECRET}]\n")
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, path)
    by_path = {e.path: e for e in info.value.errors}
    assert by_path["db.password"].message == "expected a string, got an int"
    assert by_path["db.password"].value == "**********"
    assert (by_path["db.password"].line, by_path["db.password"].source) == (2, str(path))
    assert by_path["tokens.ci"].value == "**********"
    assert "4815162342" not in _visible(info.value)
    assert SECRET not in _visible(info.value)
    # Not secret: shown as before.
    assert by_path["db.port"].message == "expected an int, got a string 'eighty'"
    assert by_path["db.port"].value == "eighty"


def test_a_validator_quoting_a_secret_is_masked_and_not_chained(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('api_key = "short-k3y"\n')
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, path)
    (error,) = info.value.errors
    assert str(error) == f"{path}:1:1: api_key: api_key ********** is shorter than 12 characters"
    assert "short-k3y" not in _visible(info.value)
    assert info.value.__cause__ is None  # the validator's own exception quotes the value


def test_parse_errors_do_not_quote_the_document(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(f"db:\n  password: {SECRET}\n  password: {ROTATED}\n")
    with pytest.raises(trioconf.ParseError) as info:
        trioconf.load(Config, path)
    assert str(info.value) == (
        f'{path}:3:3: while constructing a mapping (line 2): found duplicate key "password"'
    )
    assert SECRET not in _visible(info.value)
    assert ROTATED not in _visible(info.value)
    path.write_text(f"api_key: !!int {SECRET}\n")
    with pytest.raises(trioconf.ParseError) as info:
        trioconf.load(Config, path)
    assert "cannot parse as yaml: ValueError" in str(info.value)
    assert SECRET not in _visible(info.value)


def test_env_errors_for_secret_fields_do_not_show_the_value() -> None:
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, env_prefix="APP_", environ={"APP_PIN": SECRET, "APP_DB__PORT": "x"})
    by_path = {e.path: e for e in info.value.errors}
    assert str(by_path["pin"]) == "env APP_PIN: pin: expected an int"
    assert by_path["pin"].value == "**********"
    assert SECRET not in _visible(info.value)
    assert by_path["db.port"].value == "x"  # not secret: shown


async def test_a_bad_secret_edit_stays_out_of_the_history_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioconf")
    path = tmp_path / "app.toml"
    path.write_text(f'api_key = "{SECRET}"\n[db]\npassword = "{SECRET}"\n')
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        async with expect_outcome(live) as outcome:
            trioconf_write(path, f'api_key = "{ROTATED[:5]}"\n[db]\npassword = 99887766\n')
        assert outcome.error is not None
        failure = live.history[-1]
        assert isinstance(failure, trioconf.Failure)
        shown = _visible(failure.error) + repr(failure) + repr(live.history)
        log = "\n".join(r.getMessage() for r in caplog.records)
        for value in (SECRET, ROTATED[:5], "99887766"):
            assert value not in shown
            assert value not in log
        assert "db.password: expected a string, got an int" in str(failure.error)


def trioconf_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- watch shows that a secret changed, never what to ---------------------------------------


async def test_a_rotated_secret_is_a_change_that_watch_prints_masked(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(f'api_key = "{SECRET}"\n[db]\npassword = "{SECRET}"\n')
    async with trioconf.open_reloader(Config, path, debounce=0) as live:
        async with expect_outcome(live) as outcome:
            trioconf_write(path, f'api_key = "{ROTATED}"\n[db]\npassword = "{ROTATED}"\n')
        assert outcome.applied
        update = live.history[-1]
        assert isinstance(update, trioconf.Update)
        assert update.changed == {"api_key", "db.password"}
        assert live.current.db.password.get_secret_value() == ROTATED
        lines = describe(update)
        first = describe(live.history[0])  # type: ignore[arg-type]
    assert lines == [
        "v2: api_key: '**********' -> '**********'",
        "v2: db.password: '**********' -> '**********'",
    ]
    assert not any(SECRET in line or ROTATED in line for line in lines + first)


# -- secrets from files -----------------------------------------------------------------------


def test_a_file_variable_sets_only_a_secret_field(tmp_path: Path) -> None:
    secret_file = tmp_path / "db_password"
    secret_file.write_text(f"{SECRET}\n")  # as `echo` and `kubectl create secret` leave it
    environ = {
        "APP_DB__PASSWORD_FILE": str(secret_file),
        "APP_API_KEY_FILE": str(secret_file),
        "APP_LOG_FILE": "/var/log/svc.log",  # a real field: keeps its meaning
    }
    config = trioconf.load(Config, env_prefix="APP_", environ=environ)
    assert config.db.password.get_secret_value() == SECRET
    assert config.api_key == SECRET
    assert config.log_file == "/var/log/svc.log"


def test_a_file_variable_for_a_plain_field_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "host"
    secret_file.write_text("db.internal\n")
    config = trioconf.load(
        Config, env_prefix="APP_", environ={"APP_DB__HOST_FILE": str(secret_file)}
    )
    assert config.db.host == "localhost"
    assert "APP_DB__HOST_FILE" in caplog.text
    assert "only a field marked secret" in caplog.text


def test_file_variable_mistakes_are_field_errors(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text(SECRET)
    cases = {
        "APP_DB__PASSWORD_FILE": str(tmp_path / "absent"),
        "APP_PIN_FILE": str(secret_file),
    }
    with pytest.raises(trioconf.ValidationError) as info:
        trioconf.load(Config, env_prefix="APP_", environ=cases)
    messages = sorted(str(e) for e in info.value.errors)
    assert messages == [
        "env APP_DB__PASSWORD_FILE: db.password: cannot read the file it names, "
        f"{tmp_path / 'absent'}: No such file or directory",
        "env APP_PIN_FILE: pin: expected an int",
    ]
    assert SECRET not in _visible(info.value)
    both = {"APP_DB__PASSWORD_FILE": str(secret_file), "APP_DB__PASSWORD": "x"}
    with pytest.raises(trioconf.ValidationError, match="set by both APP_DB__PASSWORD and"):
        trioconf.load(Config, env_prefix="APP_", environ=both)


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_a_file_variable_s_file_is_watched(tmp_path: Path, backend: str) -> None:
    # Docker and Kubernetes mount the file; a rotation replaces it (kubelet: the ..data swap).
    mount = tmp_path / "secrets"
    mount.mkdir()
    await kubelet_write(mount, {"db_password": SECRET})
    base = tmp_path / "app.toml"
    base.write_text('name = "svc"\n')
    environ = {"APP_DB__PASSWORD_FILE": str(mount / "db_password")}
    async with trioconf.open_reloader(
        Config, base, env_prefix="APP_", environ=environ, debounce=0.05, backend=backend
    ) as live:
        assert live.current.db.password == trioconf.SecretStr(SECRET)
        async with expect_outcome(live) as outcome:
            await kubelet_write(mount, {"db_password": ROTATED})
        assert outcome.applied
        assert live.current.db.password == trioconf.SecretStr(ROTATED)
        # A change to the config file does not need the secret file to change, and the
        # other way round: each is read when it changes.
        async with expect_outcome(live) as outcome:
            trioconf_write(base, 'name = "api"\n')
        assert outcome.applied
        assert (live.current.name, live.current.db.password) == (
            "api",
            trioconf.SecretStr(ROTATED),
        )


async def test_a_file_variable_is_read_again_on_reload(tmp_path: Path) -> None:
    secret_file = tmp_path / "db_password"
    secret_file.write_text(SECRET)
    environ = {"APP_DB__PASSWORD_FILE": str(secret_file)}
    async with trioconf.open_reloader(
        Config, env_prefix="APP_", environ=environ, debounce=0
    ) as live:
        assert live.current.db.password == trioconf.SecretStr(SECRET)
        secret_file.write_text(ROTATED)
        await live.reload()
        assert live.current.db.password == trioconf.SecretStr(ROTATED)


# The kubelet's AtomicWriter, as tests/scenarios/test_writers.py has it, for several keys: a
# new timestamped directory with every file, ``..data_tmp`` renamed onto ``..data`` (the one
# atomic step), the visible symlinks created if missing, the old directory removed.
KUBELET_WRITE = """
    import json, os, shutil, sys, tempfile, time
    mount, files = sys.argv[1], json.loads(sys.argv[2])
    data = os.path.join(mount, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new = tempfile.mkdtemp(prefix=prefix, dir=mount)
    for name, text in files.items():
        with open(os.path.join(new, name), "w") as f:
            f.write(text)
    os.chmod(new, 0o755)
    for name in files:
        visible = os.path.join(mount, name)
        if not os.path.lexists(visible):
            os.symlink(os.path.join("..data", name), visible)
    tmp = os.path.join(mount, "..data_tmp")
    os.symlink(os.path.basename(new), tmp)
    os.rename(tmp, data)
    if old is not None:
        shutil.rmtree(os.path.join(mount, old))
"""


async def kubelet_write(mount: Path, files: dict[str, str]) -> None:
    script = textwrap.dedent(KUBELET_WRITE)
    await trio.run_process([sys.executable, "-c", script, str(mount), json.dumps(files)])


@pytest.mark.parametrize("backend", ["inotify", "poll"])
async def test_a_secret_mount_is_watched_through_its_data_swap(
    tmp_path: Path, backend: str
) -> None:
    mount = tmp_path / "secrets"
    mount.mkdir()
    # Keys for other consumers too (a name that is no field, one with a format's extension).
    others = {"tls.json": "{not json", "ca.crt": "-----BEGIN"}
    await kubelet_write(mount, {"db__password": f"{SECRET}\n", "API_KEY": SECRET, **others})
    base = tmp_path / "app.toml"
    base.write_text('name = "svc"\n[db]\nport = 5432\n')
    async with trioconf.open_reloader(
        Config, base, trioconf.SecretsDir(mount), debounce=0.05, backend=backend
    ) as live:
        assert live.current.db.password == trioconf.SecretStr(SECRET)
        assert live.current.api_key == SECRET
        assert live.current.db.port == 5432
        # Waited for by value, not with expect_outcome: the poll backend may list the folder
        # between the kubelet's steps (a new hidden directory, before the swap) and find
        # nothing to apply yet, which is right, and not the outcome of the swap.
        with trio.fail_after(30):
            await kubelet_write(mount, {"db__password": ROTATED, "API_KEY": ROTATED, **others})
            await live.wait_value(
                lambda c: c.db.password == trioconf.SecretStr(ROTATED) and c.api_key == ROTATED
            )
        # One swap, one snapshot (a quiet window is what keeps a multi-file change whole:
        # at debounce=0 a poll round's files may be applied one by one).
        update = live.history[-1]
        assert isinstance(update, trioconf.Update)
        assert update.changed == {"db.password", "api_key"}
        # A bad value: the last good snapshot stays, the error names the file, not the value.
        records = live.records()  # from now on: armed before the write
        with trio.fail_after(30):
            await kubelet_write(mount, {"db__password": ROTATED, "pin": SECRET, **others})
            async for record in records:
                if isinstance(record, trioconf.Failure):
                    break
        assert str(live.last_error).endswith(f"{mount / 'pin'}:1: pin: expected an int")
        assert SECRET not in _visible(live.last_error)
        assert live.current.db.password == trioconf.SecretStr(ROTATED)


def test_secrets_dir_usage_mistakes_are_plain_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        trioconf.SecretsDir(tmp_path, "*.toml")  # type: ignore[misc]
    with pytest.raises(TypeError, match="optional must be True or False"):
        trioconf.SecretsDir(tmp_path, optional="yes")  # type: ignore[arg-type]
    assert repr(trioconf.SecretsDir("/run/secrets")) == (
        "SecretsDir(path=PosixPath('/run/secrets'), optional=False, priority=False)"
    )
    assert trioconf.load(Config, trioconf.SecretsDir(tmp_path / "absent", optional=True))
    with pytest.raises(trioconf.MissingSourceError):
        trioconf.load(Config, trioconf.SecretsDir(tmp_path / "absent"))


@dataclasses.dataclass(frozen=True)
class Plain:
    password: trioconf.SecretStr = trioconf.SecretStr("")


def test_a_secret_str_in_a_dataclass_is_read_and_masked(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"password": SECRET}))
    config = trioconf.load(Plain, path)
    assert config.password.get_secret_value() == SECRET
    assert SECRET not in repr(config)
