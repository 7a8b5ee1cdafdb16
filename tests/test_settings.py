"""Usage mistakes are plain TypeError/ValueError, raised before anything starts.

Each case below arrived, before the settings were checked in one place, only after the initial
load and inside two nested ExceptionGroups (or, with only environment sources, never), or was
accepted and ignored (an ``async def`` validator was never awaited). ``pytest.raises`` with the
plain class fails on an ExceptionGroup, so each case also proves that nothing wrapped it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from support import open_fds

import trioconf


@attrs.frozen
class Config:
    name: str = "app"
    port: int = 8080


class Handle:
    """A plain class: no document can mean one, and cattrs has no hook for it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd


@attrs.frozen
class Unloadable:
    handle: Handle | None = None


@attrs.frozen
class Unresolved:
    # Evaluated late (``from __future__ import annotations``): a name imported only for the
    # type checker, as ``if TYPE_CHECKING:`` imports are.
    pool: ConnectionPool | None = None  # type: ignore[name-defined]  # noqa: F821


async def async_validate(new: Config, old: Config | None) -> None:
    pass


class AsyncCallable:
    async def __call__(self, new: Config, old: Config | None) -> None:
        pass


MISTAKES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"backend": "inotfy"}, ValueError, "backend must be 'auto', 'inotify', 'poll' or"),
    ({"debounce": -1}, ValueError, "debounce must be zero or more, not -1"),
    ({"debounce": "0.1"}, TypeError, "debounce must be a number of seconds"),
    ({"debounce": True}, TypeError, "debounce must be a number of seconds"),
    ({"debounce": float("nan")}, ValueError, "debounce must be zero or more"),
    ({"debounce": 1.0, "max_debounce": 0.5}, ValueError, "debounce <= max_debounce"),
    ({"history_size": 0}, ValueError, "history_size must be at least 1, not 0"),
    ({"history_size": 2.5}, TypeError, "history_size must be an int"),
    ({"poll_interval": 0}, ValueError, "poll_interval must be positive, not 0"),
    ({"missing_grace": -0.5}, ValueError, "missing_grace must be zero or more"),
    ({"parse_timeout": 0}, ValueError, "parse_timeout must be positive"),
    ({"lock_timeout": 0}, ValueError, "lock_timeout must be positive"),
    ({"max_size": 0}, ValueError, "max_size must be at least 1"),
    ({"strict_env": "yes"}, TypeError, "strict_env must be True or False"),
    ({"forbid_unknown": None}, TypeError, "forbid_unknown must be True or False"),
    ({"allow_nan": 1}, TypeError, "allow_nan must be True or False"),
    ({"env_prefix": 5}, TypeError, "env_prefix must be a string"),
    ({"environ": ["A=1"]}, TypeError, "environ must be a mapping"),
    ({"validate": "check"}, TypeError, "validate must be a function"),
    ({"validate": async_validate}, TypeError, "validate must be a plain (sync) function"),
    ({"validate": AsyncCallable()}, TypeError, "validate must be a plain (sync) function"),
    ({"validate": functools.partial(async_validate)}, TypeError, "plain (sync) function"),
]
IDS = [",".join(f"{k}={v!r}"[:30] for k, v in kwargs.items()) for kwargs, _, _ in MISTAKES]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "app.toml"
    path.write_text('name = "one"\n')
    return path


@pytest.mark.parametrize(("kwargs", "kind", "says"), MISTAKES, ids=IDS)
async def test_open_reloader_refuses_a_wrong_argument_plainly_before_starting(
    cfg: Path, kwargs: dict[str, Any], kind: type[Exception], says: str
) -> None:
    before = open_fds()
    with pytest.raises(kind) as info:
        async with trioconf.open_reloader(Config, cfg, **kwargs):
            pytest.fail("must not start")
    assert says in str(info.value)
    assert open_fds() == before  # nothing was started: no inotify descriptor, no worker


@pytest.mark.parametrize(("kwargs", "kind", "says"), MISTAKES, ids=IDS)
async def test_run_reloader_refuses_a_wrong_argument_plainly_from_start(
    cfg: Path, kwargs: dict[str, Any], kind: type[Exception], says: str
) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(kind) as info:
            await nursery.start(functools.partial(trioconf.run_reloader, Config, cfg, **kwargs))
    assert says in str(info.value)


async def test_arguments_are_checked_with_only_environment_sources() -> None:
    # No file: no watcher, whose start used to be the only check of these.
    with pytest.raises(ValueError, match="poll_interval must be positive"):
        async with trioconf.open_reloader(Config, env_prefix="APP_", poll_interval=0):
            pytest.fail("must not start")
    with pytest.raises(ValueError, match="backend must be"):
        async with trioconf.open_reloader(Config, env_prefix="APP_", backend="kqueue"):  # type: ignore[arg-type]
            pytest.fail("must not start")


async def test_an_instance_for_the_config_class_is_a_type_error(cfg: Path) -> None:
    with pytest.raises(TypeError, match=r"must be a class .* not an instance of Config"):
        async with trioconf.open_reloader(Config(), cfg):  # type: ignore[arg-type]
            pytest.fail("must not start")
    with pytest.raises(TypeError, match="not an instance of Config"):
        trioconf.load(Config(), cfg)  # type: ignore[arg-type]


async def test_a_class_trioconf_cannot_structure_is_a_type_error_up_front(cfg: Path) -> None:
    # Before: it started, and every load failed with a ValidationError about the class.
    cfg.write_text("")
    with pytest.raises(TypeError, match=r"Unloadable cannot be loaded: .* the type Handle"):
        async with trioconf.open_reloader(Unloadable, cfg):
            pytest.fail("must not start")
    with pytest.raises(TypeError, match="Unloadable cannot be loaded"):
        trioconf.load(Unloadable, cfg)
    with pytest.raises(TypeError, match="Unresolved cannot be loaded: its annotations"):
        async with trioconf.open_reloader(Unresolved, cfg):
            pytest.fail("must not start")


async def test_a_validator_returning_a_coroutine_is_a_type_error_at_start(cfg: Path) -> None:
    # A lambda around an async def passes for a sync function; what it returns gives it away.
    # Without the check the coroutine was dropped unawaited and every snapshot counted as valid.
    with pytest.raises(TypeError, match="returned <coroutine") as info:
        async with trioconf.open_reloader(
            Config, cfg, validate=lambda new, old: async_validate(new, old)
        ):
            pytest.fail("must not start")
    assert not isinstance(info.value, trioconf.ConfigError)


def test_load_refuses_wrong_arguments_plainly(cfg: Path) -> None:
    with pytest.raises(
        TypeError, match="a source is a path, File, Directory, Env or Source, not 5"
    ):
        trioconf.load(Config, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lock_timeout must be positive"):
        trioconf.load(Config, cfg, lock_timeout=0)
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        trioconf.load(Config, cfg, max_size=0)
    with pytest.raises(TypeError, match="allow_nan must be True or False"):
        trioconf.load(Config, cfg, allow_nan="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot tell the format"):
        trioconf.load(Config, cfg.with_suffix(".ini"))
